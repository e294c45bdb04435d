"""Conformance suite for the RFC 6672 contract (see README.md)."""
