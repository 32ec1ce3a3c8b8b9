"""Links and sessions of the configuration page: what a token is bound to, and what it is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.configure import tokens

pytestmark = pytest.mark.unit

KEY = b"k" * 32
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _link(**kwargs: object) -> str:
    values: dict[str, object] = {
        "team": "contoso",
        "channel": "19:a@thread.tacv2",
        "person": "aad-1",
        "name": "Ada",
    }
    values.update(kwargs)
    return tokens.make_link(KEY, now=NOW, **values)  # type: ignore[arg-type]


def test_a_link_carries_its_binding_for_fifteen_minutes() -> None:
    claims = tokens.read(KEY, _link(), "link", now=NOW + timedelta(minutes=14))
    assert (claims.team, claims.channel, claims.person, claims.name) == (
        "contoso",
        "19:a@thread.tacv2",
        "aad-1",
        "Ada",
    )
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.read(KEY, _link(), "link", now=NOW + timedelta(minutes=15))


def test_a_changed_claim_another_key_or_another_purpose_is_refused() -> None:
    link = _link()
    head, body, mac = link.split(".")
    other = tokens.make_link(
        KEY, team="fabrikam", channel="19:a@thread.tacv2", person="", name="Eve", now=NOW
    )
    swapped = ".".join([head, other.split(".")[1], mac])
    for token in (swapped, link[:-2] + "xx", "v2." + body + "." + mac, "", "x" * 5000):
        with pytest.raises(tokens.TokenError, match="not one of ours"):
            tokens.read(KEY, token, "link", now=NOW)
    with pytest.raises(tokens.TokenError):
        tokens.read(b"j" * 32, link, "link", now=NOW)
    # A link is no session, a session no link.
    claims = tokens.read(KEY, link, "link", now=NOW)
    session = tokens.make_session(KEY, claims, now=NOW)
    with pytest.raises(tokens.TokenError):
        tokens.read(KEY, link, "session", now=NOW)
    with pytest.raises(tokens.TokenError):
        tokens.read(KEY, session, "link", now=NOW)
    assert tokens.read(KEY, session, "session", now=NOW + timedelta(minutes=59)).channel == claims.channel
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.read(KEY, session, "session", now=NOW + timedelta(minutes=60))


def test_csrf_tokens_belong_to_one_session() -> None:
    claims = tokens.read(KEY, _link(), "link", now=NOW)
    one = tokens.read(KEY, tokens.make_session(KEY, claims, now=NOW), "session", now=NOW)
    two = tokens.read(KEY, tokens.make_session(KEY, claims, now=NOW), "session", now=NOW)
    assert tokens.check_csrf(KEY, one, tokens.csrf_token(KEY, one))
    assert not tokens.check_csrf(KEY, one, tokens.csrf_token(KEY, two))
    assert not tokens.check_csrf(KEY, one, "")
    assert not tokens.check_csrf(KEY, one, None)
