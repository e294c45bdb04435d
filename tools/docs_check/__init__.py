"""The docs check: the series' pages and touched API docstrings, pristine against patched (see cli.py)."""
