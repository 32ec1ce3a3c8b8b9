"""The one rule for a link a card may carry (a button, a Markdown link): an absolute http(s) URL.

Sender payloads and feeds put bare host names, relative paths, ``javascript:`` and empty strings
in their URL fields; Teams cannot open those, and an invalid ``Action.OpenUrl`` can make it refuse
the whole card. Sources, feeds, the card builders and the MessageCard converter all ask here.
Standard library only: it sits on every cold-start path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["MAX_URL_LENGTH", "http_url"]

#: longer links are dropped rather than risk the card (they are often data URLs or query dumps)
MAX_URL_LENGTH = 2048


def http_url(value: object) -> str | None:
    """``value`` (stripped) when it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if len(url) > MAX_URL_LENGTH or not url[:8].lower().startswith(("https://", "http://")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unbalanced "[" where an IPv6 address would be
        return None
    return url if host else None
