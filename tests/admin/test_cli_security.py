"""The admin CLI's part in issue 13: team bindings, channel ownership (a real subprocess)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from shared.store import Store
from shared.store.models import owned_by
from tests.admin.test_cli import WORKFLOW_URL, Cli, base_env, cli, prefix, run_cli, same_store

__all__ = ["cli", "prefix", "same_store"]  # fixtures


def _token() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_team_add_binds_and_rebind_forgets(cli: Cli, same_store: Store) -> None:
    run = cli(
        "team", "add", "bound", "--teams-team-id", "19:t@thread.tacv2", "--tenant-id", "ten-1", stdin=_token()
    )
    assert run.code == 0, run.err
    assert "bound to the given Teams team and tenant" in run.out
    team = same_store.teams.get("bound")
    assert (team.teams_team_id, team.tenant_id) == ("19:t@thread.tacv2", "ten-1") and team.registration
    assert cli("--json", "team", "list").json()[0]["teams_team_id"] == "19:t@thread.tacv2"
    run = cli("team", "rebind", "bound")
    assert run.code == 0 and "learns its Teams team and tenant from its next message" in run.out
    assert same_store.teams.get("bound").teams_team_id is None
    assert "learns its Teams team" in cli("team", "add", "free", stdin=_token()).out


def test_channels_belong_to_one_registration_of_a_team(cli: Cli, same_store: Store) -> None:
    run = cli("channel", "add", "loose", "--url", WORKFLOW_URL, "--teams-channel-id", "19:c1@thread.tacv2")
    assert run.code == 0, run.err
    assert "the bot does not serve it" in run.out
    assert same_store.channels.get("loose").team_key is None

    run = cli("channel", "add", "orphan", "--url", WORKFLOW_URL, "--team", "nobody")
    assert run.code == 2 and "no team 'nobody'" in run.err

    assert cli("team", "add", "ops", stdin=_token()).code == 0
    first = same_store.teams.get("ops")
    run = cli("channel", "add", "loose", "--replace", "--url", WORKFLOW_URL, "--team", "ops")
    assert run.code == 0, run.err
    assert owned_by(same_store.channels.get("loose"), "ops", first.registration)

    # The key removed and added again: a new registration, which does not own the old channel.
    assert cli("team", "remove", "ops").code == 0
    assert cli("team", "add", "ops", stdin=_token()).code == 0
    second = same_store.teams.get("ops")
    assert second.registration != first.registration
    assert not owned_by(same_store.channels.get("loose"), "ops", second.registration)


def _settings_file(folder: Path, **values: str) -> Path:
    path = folder / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")
    return path


def test_a_settings_file_in_the_current_directory_is_not_loaded(
    azurite: str, prefix: str, tmp_path: Path
) -> None:
    """Issue 13 item 11: a planted ./local.settings.json must not point the CLI elsewhere."""
    env = base_env(TEAMS_STORAGE=azurite, TABLE_PREFIX=prefix)
    env.pop("PUBLIC_BASE_URL")
    _settings_file(tmp_path, PUBLIC_BASE_URL="https://planted.example", HTTPS_PROXY="http://127.0.0.1:9")
    assert run_cli(["team", "add", "t9"], env, tmp_path, stdin=_token()).code == 0
    listed = run_cli(["--json", "team", "list"], env, tmp_path)
    assert listed.code == 0, listed.err
    assert not listed.json()[0]["url"].startswith("https://planted.example")

    named = _settings_file(tmp_path / "..", PUBLIC_BASE_URL="https://named.example")
    listed = run_cli(["--json", "team", "list", "--settings", str(named)], env, tmp_path)
    assert listed.code == 0, listed.err
    assert listed.json()[0]["url"].startswith("https://named.example/")
    missing = run_cli(["team", "list", "--settings", str(tmp_path / "nope.json")], env, tmp_path)
    assert missing.code == 1 and "nope.json" in missing.err


def test_subscriptions_per_channel_are_capped(cli: Cli, same_store: Store) -> None:
    """Issue 13 item 6: the CLI keeps the same caps as the bot (50 per channel, 24 times a day)."""
    from shared.store.models import Schedule, Subscription

    assert cli("channel", "add", "capped", "--url", WORKFLOW_URL).code == 0
    times = ",".join(f"{h:02d}:15" for h in range(24)) + ",23:45"
    run = cli("subscription", "add", "--channel", "capped", "--source", "weather:Berlin", "--at", times)
    assert run.code == 2 and "at most 24 times a day" in run.err
    for n in range(50):
        same_store.subscriptions.add(
            Subscription(
                channel="capped", source="weather", target=f"P{n}", schedule=Schedule(times=["08:00"])
            )
        )
    run = cli("subscription", "add", "--channel", "capped", "--source", "weather:Berlin", "--at", "08:00")
    assert run.code == 1 and "50 subscriptions" in run.err


def test_channel_lock_and_unlock(cli: Cli, same_store: Store) -> None:
    """Issue 13 item 13: an admin locks a channel's link against the bot's connect."""
    assert cli("channel", "add", "locky", "--url", WORKFLOW_URL).code == 0
    run = cli("channel", "lock", "locky")
    assert run.code == 0 and "locked" in run.out
    assert same_store.channels.get("locky").locked
    # A new URL from the CLI keeps the lock.
    assert cli("channel", "add", "locky", "--replace", "--url", WORKFLOW_URL + "2").code == 0
    assert same_store.channels.get("locky").locked
    assert cli("--json", "channel", "list").json()[0]["locked"] is True
    assert cli("channel", "unlock", "locky").code == 0
    assert not same_store.channels.get("locky").locked
    assert cli("channel", "lock", "nosuch").code == 1
