"""Issue 13 item 2: a team registration serves only its own Teams team, tenant and channels.

Whoever holds one team's outgoing-webhook token can sign any activity; the channel id, team id
and tenant id in it are theirs to choose. Through the dev host and the real store.
"""

from __future__ import annotations

from typing import Any

from shared.store.models import Channel
from tests.conftest import unique
from tests.outgoing.conftest import Bot, register_team
from tests.outgoing.helpers import new_token

TEAM_A = "19:team-a@thread.tacv2"
TEAM_B = "19:team-b@thread.tacv2"


def _team(app_store: Any, key: str) -> Any:
    return app_store.teams.get(key)


def test_a_channel_added_without_a_team_is_foreign_to_every_team(bot: Bot, app_store: Any, sink: Any) -> None:
    """The README's `channel add --teams-channel-id` without `--team`: no token may take it."""
    victim = f"19:{unique('victim')}@thread.tacv2"
    url = sink.workflow_url(unique("victim"))
    app_store.channels.save(Channel(name=unique("victim"), url=url, teams_channel_id=victim))

    taken = bot.say(f"connect {sink.workflow_url(unique('attacker'))}", channel_id=victim)
    assert taken.status == 200 and "Channel connected" not in taken.everything
    linked = app_store.channels.find_by_teams_channel(victim)
    assert linked is not None and linked.url == url and linked.team_key is None
    status = bot.say("status", channel_id=victim)
    assert "Webhook" not in status.everything and victim not in status.everything
    for command in ("subscriptions", "unsubscribe s123456", "pause s123456"):
        assert "not connected" in bot.say(command, channel_id=victim).everything


def test_the_teams_team_and_tenant_are_learned_on_first_use(bot: Bot, app_store: Any, sink: Any) -> None:
    assert _team(app_store, bot.team).teams_team_id is None
    assert bot.say("help", team_id=TEAM_A).status == 200
    team = _team(app_store, bot.team)
    assert (team.teams_team_id, team.tenant_id) == (TEAM_A, "tenant-1")

    # The same token, another team's channel: refused before any command runs.
    other = f"19:{unique('b')}@thread.tacv2"
    answer = bot.say(f"connect {sink.workflow_url(unique('x'))}", team_id=TEAM_B, channel_id=other)
    assert answer.status == 200 and "registered for another team" in answer.json["text"]
    assert app_store.channels.find_by_teams_channel(other) is None
    # ... and another tenant's, with the right team id.
    answer = bot.say("help", team_id=TEAM_A, channelData={"team": {"id": TEAM_A}, "tenant": {"id": "t-2"}})
    assert "registered for another team" in answer.json["text"]
    # An activity naming no team at all is refused too.
    answer = bot.say("help", channelData={"channel": {"id": bot.channel_id}})
    assert "registered for another team" in answer.json["text"]
    # Its own team still works.
    assert (
        "Channel connected"
        in bot.say(f"connect {sink.workflow_url(unique('ok'))}", team_id=TEAM_A).everything
    )


def test_a_binding_given_at_registration_is_enforced_from_the_first_message(
    devhost: str, app_store: Any
) -> None:
    from shared.store.models import Team

    key, token = unique("team"), new_token()
    app_store.teams.add(Team(key=key, tokens=[token], teams_team_id=TEAM_A, tenant_id="tenant-1"))
    bot = Bot(devhost, key, token, f"19:{unique('ch')}@thread.tacv2")
    assert "registered for another team" in bot.say("help", team_id=TEAM_B).json["text"]
    assert bot.say("help", team_id=TEAM_A).json["text"] == "What I can do"


def test_a_reused_team_key_does_not_inherit_the_old_channels(devhost: str, app_store: Any, sink: Any) -> None:
    key = unique("team")
    first = Bot(devhost, key, new_token(), f"19:{unique('ch')}@thread.tacv2")
    register_team(app_store, key, [first.token])
    url = sink.workflow_url(unique("old"))
    assert "Channel connected" in first.say(f"connect {url}").everything
    assert "Webhook" in first.say("status").everything

    app_store.teams.remove(key)
    second = Bot(devhost, key, new_token(), first.channel_id)
    register_team(app_store, key, [second.token])
    status = second.say("status")
    assert "not connected" in status.everything and "Webhook" not in status.everything
    refused = second.say(f"connect {sink.workflow_url(unique('new'))}")
    assert "Channel connected" not in refused.everything
    assert app_store.channels.find_by_teams_channel(first.channel_id).url == url


def test_a_team_first_seen_without_a_tenant_learns_it_later_and_writes_only_then(
    bot: Bot, app_store: Any
) -> None:
    assert bot.say("help", team_id=TEAM_A, legacy=True).json["text"] == "What I can do"
    first = _team(app_store, bot.team)
    assert (first.teams_team_id, first.tenant_id) == (TEAM_A, None)
    assert bot.say("help", team_id=TEAM_A, legacy=True).json["text"] == "What I can do"
    assert _team(app_store, bot.team).etag == first.etag  # nothing new: no write per message
    assert bot.say("help", team_id=TEAM_A).json["text"] == "What I can do"
    assert _team(app_store, bot.team).tenant_id == "tenant-1"
    assert "registered for another team" in bot.say("help", team_id=TEAM_A, legacy=True).json["text"]
