"""Digest sources: one module per source behind the interface in base.py."""
