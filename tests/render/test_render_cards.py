"""Every card the project can emit, rendered by the official Adaptive Cards renderer (npm
`adaptivecards`) with Teams' light host config, parsed for version 1.4, in headless Chromium.

A card fails on any parse or validation warning, an element the renderer dropped or rendered as
nothing, a card that renders empty, or a declared version above 1.4 (what the Workflows bot shows:
teams-platform.md §2.2). The enumeration is tests/support/emitted.py; bot replies come from every
command run through the dev host.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.outgoing.conftest import Bot
from tests.support import emitted
from tests.support.emitted import Emitted

OWN = emitted.own_cases()


def problems(renderer: Any, card: dict[str, Any]) -> list[str]:
    shown = renderer.render(card, theme="light", png=False)
    found = list(shown.warnings) + list(shown.dropped)
    if shown.empty:
        found.append("the card renders empty")
    if shown.too_new:
        found.append(f"declares version {shown.version or '(none)'}, above {shown.target}")
    return found


def assert_all_shown(renderer: Any, cards: list[Emitted]) -> None:
    assert cards, "no card to render"
    report = []
    for each in cards:
        found = problems(renderer, each.card)
        if found:
            report.append(f"{each.name}:\n    " + "\n    ".join(found))
    assert not report, f"{len(report)} of {len(cards)} card(s) not shown as built:\n" + "\n".join(report)


@pytest.mark.parametrize("case", OWN, ids=str)
def test_incoming_own_payloads(renderer: Any, case: emitted.Case) -> None:
    cards = emitted.incoming(case)
    if not cards:
        assert case.may_refuse, f"{case.name}: no card emitted"
        return  # refused with a 4xx (emitted.incoming checks it): nothing is posted, nothing to render
    assert_all_shown(renderer, cards)


def test_incoming_third_party_payloads(renderer: Any) -> None:
    if not emitted.SHARED_FIXTURES.is_dir():
        pytest.skip(f"{emitted.SHARED_FIXTURES} is absent: third-party fixtures live in ../shared/fixtures")
    cards = [card for case in emitted.third_party_cases() for card in emitted.incoming(case)]
    assert_all_shown(renderer, cards)


def test_digests_of_every_feed_kind(renderer: Any) -> None:
    from shared.digest.feeds import kinds

    cards = emitted.digests()
    assert {c.kind for c in cards} >= set(kinds()), "a feed kind has no digest sample"
    assert_all_shown(renderer, cards)


def test_split_and_more_parts(renderer: Any) -> None:
    cards = list(emitted.parts())
    assert any("more" in c.name for c in cards) and sum("split" in c.name for c in cards) > 1
    assert_all_shown(renderer, cards)


# --- bot replies: every command, through the dev host -----------------------------------------------


def _sub_id(answer: Any) -> str:
    match = re.search(r"^Id: (\S+)$", answer.card.get("fallbackText", ""), re.MULTILINE)
    assert match, answer.body[:300]
    return match.group(1)


def test_every_bot_reply(renderer: Any, bot: Bot, app_store: Any, sink: Any) -> None:
    from shared.store.models import Channel, Route
    from tests.conftest import unique
    from tests.outgoing.helpers import COMMANDS

    replies: list[Emitted] = []

    def say(text: str) -> Any:
        answer = bot.say(text)
        assert answer.status == 200, (text, answer.body[:300])
        replies.append(Emitted(f"reply/{text or '(bare mention)'}", "reply", text.split(" ")[0], answer.card))
        return answer

    # Not connected yet: help, typos, and what each command says without a link.
    for text in ["", "help", "stauts", "help subscibe", *(f"help {word}" for word in COMMANDS)]:
        say(text)
    for text in [
        "status",
        "routes",
        "subscriptions",
        "subscribe rss https://example.com/feed.xml",
        "pause x",
    ]:
        say(text)
    say("connect https://evil.example.com/hook?sig=topsecret")
    say("connect " + sink.workflow_url(bot.team))
    route = unique("r")
    app_store.routes.save(
        Route(name=route, source="alertmanager", channels=[bot.team + "-ch"], mode="digest")
    )
    linked = app_store.channels.find_by_teams_channel(bot.channel_id)
    assert isinstance(linked, Channel)
    # Connected: every command's happy and unhappy answer.
    rss = _sub_id(say("subscribe rss https://example.com/feed.xml"))
    say("subscribe weather Berlin at 07:30 on weekdays")
    say(f"subscribe events {route}")
    say("subscribe events no-such-route")
    say("subscribe gopher nowhere")
    for text in ["subscriptions", f"pause {rss}", f"resume {rss}", f"digest {rss} now", "digest nope now"]:
        say(text)
    for text in ["routes", "status", f"unsubscribe {rss}", "unsubscribe nope", "pause nope"]:
        say(text)
    assert_all_shown(renderer, replies)
