"""The one link rule (`shared.cards.links.http_url`) and that nobody writes a second one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.cards.builders import CardBuilder, open_url
from shared.cards.links import MAX_URL_LENGTH, http_url

pytestmark = pytest.mark.unit

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://x.org/a?b=1", "https://x.org/a?b=1"),
        ("  HTTP://Host:8080/p \n", "HTTP://Host:8080/p"),
        ("http://[::1]:9093/", "http://[::1]:9093/"),
        ("https://" + "a" * (MAX_URL_LENGTH - 8), "https://" + "a" * (MAX_URL_LENGTH - 8)),
        ("https://" + "a" * (MAX_URL_LENGTH - 7), None),
        ("https://", None),
        ("http://[oops/", None),
        ("example.org/path", None),
        ("/relative", None),
        ("javascript:alert(1)", None),
        ("ftp://x.org/f", None),
        ("", None),
        (None, None),
        (42, None),
        (["https://x.org"], None),
    ],
)
def test_http_url(value: object, expected: str | None) -> None:
    assert http_url(value) == expected


def test_builders_use_the_same_rule() -> None:
    assert open_url("Open", " https://x.org ")["url"] == "https://x.org"
    with pytest.raises(ValueError, match="absolute http"):
        open_url("Open", "https://")
    card = CardBuilder("t").button("a", "https://x.org").button("b", "x.org").button("c", None).build()
    assert [a["url"] for a in card["actions"]] == ["https://x.org"]


def test_one_definition() -> None:
    """A second `def http_url` (or `_http_url`) anywhere in shared/ is the drift this module ended."""
    found = [
        str(path.relative_to(SHARED))
        for path in SHARED.rglob("*.py")
        if re.search(r"^\s*def _?http_url\(", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert found == ["cards/links.py"]
