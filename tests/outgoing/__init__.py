"""Tests of the outgoing-webhook bot (issue 4)."""
