"""Patch set tooling: apply engine (apply.py), maintainer tools (maintain.py).

Stdlib only, so it runs without torch or Lightning installed.
"""
