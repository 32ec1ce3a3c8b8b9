"""PartitionKey/RowKey escaping.

Table Storage forbids `/ \\ # ?` and control characters in keys (Azurite answers 500, Azure 400), so
they are percent-encoded, as is `%` itself so that decoding is exact. Everything else (spaces,
non-ASCII) is allowed and kept, so keys stay readable in Storage Explorer and keep their order
for plain ASCII names.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")
_ENCODED = re.compile(r"%([0-9A-F]{2})")
MAX_KEY_BYTES = 1024


def escape(value: str) -> str:
    """Make `value` safe as a PartitionKey or RowKey (ValueError when empty or too long)."""
    if not value:
        raise ValueError("a key must not be empty")
    out = _FORBIDDEN.sub(lambda m: f"%{ord(m.group(0)):02X}", value)
    if len(out.encode("utf-16-le")) > MAX_KEY_BYTES:
        raise ValueError("a key must be at most 512 characters")
    return out


def unescape(key: str) -> str:
    """Undo `escape`."""
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), key)
