"""`python -m shared.admin` end to end: a real subprocess against Azurite, as operators run it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.store import Store, open_store
from shared.store.models import OutboxItem
from tests.conftest import unique
from tools.stack import azurite_connection_string, free_port

ROOT = Path(__file__).resolve().parents[2]
SINK = "http://127.0.0.1:9/"
WORKFLOW_URL = SINK + "workflows/abc/triggers/manual/paths/invoke?sig=TOPSECRETSIG"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Run]


def base_env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        PYTHONPATH=str(ROOT), DELIVERY_EXTRA_ALLOWED_URLS=SINK, PUBLIC_BASE_URL="https://fn.example.net"
    )
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "shared.admin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def prefix() -> str:
    return unique("adm")


@pytest.fixture
def cli(azurite: str, prefix: str, tmp_path: Path) -> Cli:
    env = base_env(TEAMS_STORAGE=azurite, TABLE_PREFIX=prefix)

    def call(*args: str, stdin: str = "") -> Run:
        return run_cli(list(args), env, tmp_path, stdin)

    return call


@pytest.fixture
def same_store(azurite: str, prefix: str) -> Store:
    return open_store(connection=azurite, prefix=prefix)


def token() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli().code == 2
    assert cli("team", "frobnicate").code == 2
    assert cli("route", "add", "r", "--source", "nope", "--to", "x").code == 2


def test_team_lifecycle_never_echoes_tokens(cli: Cli, tmp_path: Path, same_store: Store) -> None:
    first, second = token(), token()
    added = cli("team", "add", "contoso", "--name", "Contoso Ops", stdin=first + "\n")
    assert added.code == 0, added.err
    token_file = tmp_path / "new.token"
    token_file.write_text(second)
    rotated = cli("team", "rotate", "contoso", "--token-file", str(token_file))
    assert rotated.code == 0 and "retire-token" in rotated.out
    assert same_store.teams.get("contoso").tokens == [first, second]
    listed = cli("team", "list", "--json")
    (row,) = listed.json()
    assert row["key"] == "contoso" and row["name"] == "Contoso Ops" and row["tokens"] == 2
    assert row["url"] == "https://fn.example.net/api/outgoing/contoso"
    assert "https://fn.example.net/api/outgoing/contoso" in added.out
    assert "Contoso Ops" in cli("team", "list").out
    retired = cli("--json", "team", "retire-token", "contoso")
    assert retired.code == 0 and retired.json()["tokens"] == 1
    assert same_store.teams.get("contoso").tokens == [second]
    for run in (added, rotated, listed, retired):
        assert first not in run.out + run.err and second not in run.out + run.err
    assert cli("team", "remove", "contoso").code == 0
    missing = cli("team", "remove", "contoso")
    assert missing.code == 1 and "no team" in missing.err


def test_bad_team_token_is_refused_without_echo(cli: Cli) -> None:
    bad = "this-is-not-a-teams-token"
    run = cli("team", "add", "t1", "--name", "T", stdin=bad)
    assert run.code == 2 and "base64" in run.err and bad not in run.out + run.err
    short = base64.b64encode(b"only sixteen byt").decode()
    run = cli("team", "add", "t1", stdin=short)
    assert run.code == 2 and "32 bytes" in run.err and short not in run.err
    assert cli("team", "add", "t1", "--token-file", "/nonexistent/token").code == 2
    assert cli("team", "add", "a/b", stdin=token()).code == 2
    dup = token()
    assert cli("team", "add", "t2", stdin=dup).code == 0
    again = cli("team", "add", "t2", stdin=dup)
    assert again.code == 1 and "team rotate" in again.err


def test_channels_masked_and_checked_against_the_allowlist(cli: Cli, same_store: Store) -> None:
    run = cli("channel", "add", "ops", "--url", WORKFLOW_URL, "--teams-channel-id", "19:x@thread.tacv2")
    assert run.code == 0, run.err
    assert same_store.channels.get("ops").url == WORKFLOW_URL
    listed = cli("channel", "list")
    as_json = cli("channel", "list", "--json")
    for out in (run.out, listed.out, as_json.out):
        assert "TOPSECRETSIG" not in out and "workflows/abc" not in out
    assert as_json.json()[0]["teams_channel_id"] == "19:x@thread.tacv2"
    refused = cli("channel", "add", "evil", "--url", "http://169.254.169.254/latest?sig=zzz")
    assert refused.code == 2 and "not allowed" in refused.err and "sig=zzz" not in refused.err
    legacy = cli("channel", "add", "old", "--url", "https://contoso.webhook.office.com/webhookb2/x")
    assert legacy.code == 2 and "Workflows" in legacy.err
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 1
    linked = same_store.channels.find_by_teams_channel("19:x@thread.tacv2")
    assert linked is not None and linked.name == "ops"
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL + "2", "--replace").code == 0
    # A new URL keeps the link the bot made; relink rewrites the link rows.
    kept = same_store.channels.find_by_teams_channel("19:x@thread.tacv2")
    assert kept is not None and kept.url == WORKFLOW_URL + "2"
    relinked = cli("channel", "relink", "--json")
    assert relinked.code == 0 and relinked.json() == {"linked": 1}
    assert cli("channel", "remove", "ops").code == 0
    assert cli("channel", "list", "--json").json() == []


def test_routes_print_their_url_and_hide_secrets(cli: Cli, tmp_path: Path, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    assert cli("channel", "add", "dev", "--url", WORKFLOW_URL + "&x=1").code == 0
    secret_file = tmp_path / "secret"
    secret_file.write_text("very-secret-bearer\n")
    run = cli(
        "route", "add", "prom", "--source", "alertmanager", "--to", "ops,dev",
        "--auth", "bearer", "--secret-file", str(secret_file), "--mode", "digest",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert "https://fn.example.net/api/incoming/prom" in run.out
    route = same_store.routes.get("prom")
    assert (
        route.secret == "very-secret-bearer" and route.channels == ["ops", "dev"] and route.mode == "digest"
    )
    listed = cli("route", "list", "--json")
    assert listed.json()[0]["url"] == "https://fn.example.net/api/incoming/prom"
    assert "very-secret-bearer" not in listed.out + run.out + cli("route", "list").out
    from_stdin = cli(
        "route", "add", "gh", "--source", "github", "--to", "ops", "--auth", "github", stdin="hooksecret"
    )
    assert from_stdin.code == 0 and same_store.routes.get("gh").secret == "hooksecret"
    assert cli("route", "add", "open", "--source", "text", "--to", "ops", "--auth", "none").code == 0
    no_channel = cli("route", "add", "x", "--source", "generic", "--to", "nowhere", "--auth", "none")
    assert no_channel.code == 1 and "channel add" in no_channel.err
    assert cli("route", "add", "bad/name", "--source", "generic", "--to", "ops", "--auth", "none").code == 2
    assert cli("route", "add", "nosecret", "--source", "generic", "--to", "ops", "--auth", "key").code == 2
    assert cli("route", "remove", "gh").code == 0
    assert sorted(r.name for r in same_store.routes.list()) == ["open", "prom"]


def test_route_filters_are_set_checked_and_cleared(cli: Cli, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    added = cli(
        "route", "add", "gh", "--source", "github", "--to", "ops", "--auth", "github",
        "--filter", "event=pull_request.*,push", "--filter", "severity=attention", "--filter", "severity=Warning",
        stdin="hooksecret",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "delivers only posts with event=pull_request.*,push severity=attention,warning" in added.out
    assert same_store.routes.get("gh").filters == {"event": ["pull_request.*", "push"], "severity": ["attention", "warning"]}

    # A key given replaces that key, `KEY=` removes one, the others and the secret stay.
    changed = cli("route", "set", "gh", "--filter", "state=failed,merged", "--filter", "event=", "--json")
    assert changed.code == 0, changed.err
    expected = {"severity": ["attention", "warning"], "state": ["failed", "merged"]}
    assert changed.json()["filters"] == expected
    route = same_store.routes.get("gh")
    assert route.filters == expected and route.secret == "hooksecret" and route.channels == ["ops"]
    assert "severity=attention,warning state=failed,merged" in cli("route", "list").out

    for bad, says in (
        ("severity=critical", "use good, warning, attention, accent, default"),
        ("state=exploded", "use firing, resolved, opened"),
        ("colour=red", "use one of event, severity, state"),
        ("state", "KEY=VALUE"),
        ("event=push now", "not allowed"),
    ):
        run = cli("route", "set", "gh", "--filter", bad)
        assert run.code == 2 and says in run.err, (bad, run.err)
    assert same_store.routes.get("gh").filters == expected
    refused = cli("route", "add", "x", "--source", "generic", "--to", "ops", "--auth", "none", "--filter", "severity=red")
    assert refused.code == 2 and same_store.routes.find("x") is None
    assert cli("route", "set", "gh").code == 2  # nothing to change
    assert cli("route", "set", "nope", "--clear-filters").code == 1

    cleared = cli("route", "set", "gh", "--clear-filters", "--filter", "state=opened")
    assert cleared.code == 0 and same_store.routes.get("gh").filters == {"state": ["opened"]}
    cleared = cli("route", "set", "gh", "--clear-filters", "--mode", "digest")
    assert cleared.code == 0 and "delivers only" not in cleared.out
    route = same_store.routes.get("gh")
    assert route.filters == {} and route.mode == "digest"
    # One name rule with the pipeline: dots are allowed, slashes are not.
    assert cli("route", "add", "team.alerts", "--source", "alertmanager", "--to", "ops", "--auth", "none").code == 0
    assert cli("route", "add", ".hidden", "--source", "alertmanager", "--to", "ops", "--auth", "none").code == 2


def test_subscriptions_schedule_pause_resume(cli: Cli, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    run = cli(
        "subscription", "add", "--channel", "ops", "--source", "rss:https://example.org/feed.xml",
        "--at", "08:00,17:00", "--days", "mon-fri", "--tz", "Europe/Berlin", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    row = run.json()
    assert isinstance(row, dict)
    sub = same_store.subscriptions.get(row["id"])
    assert sub.schedule.times == ["08:00", "17:00"] and sub.schedule.days == [0, 1, 2, 3, 4]
    assert sub.schedule.tz == "Europe/Berlin" and sub.next_run is not None
    assert sub.next_run > datetime.now(UTC) and sub.target == "https://example.org/feed.xml"
    # It is in the due index at its next run.
    assert [s.id for s in same_store.subscriptions.due(sub.next_run)] == [sub.id]

    cron = cli(
        "subscription", "add", "--channel", "ops", "--source", "weather:Berlin", "--cron", "30 7 * * 1-5"
    )
    assert cron.code == 0, cron.err
    assert len(cli("subscription", "list", "--json").json()) == 2
    assert "weather:Berlin" in cli("subscription", "list").out

    assert cli("subscription", "pause", sub.id).code == 0
    assert same_store.subscriptions.get(sub.id).paused
    assert same_store.subscriptions.due(sub.next_run) == []
    resumed = cli("subscription", "resume", sub.id, "--json")
    assert resumed.code == 0 and resumed.json()["paused"] is False
    assert cli("subscription", "remove", sub.id).code == 0
    gone = cli("subscription", "pause", sub.id)
    assert gone.code == 1 and "no subscription" in gone.err

    for bad in (
        ["--source", "rss:https://x", "--at", "25:00"],
        ["--source", "rss:https://x", "--at", "08:00", "--tz", "Mars/Olympus"],
        ["--source", "rss:https://x", "--cron", "not a cron"],
        ["--source", "rss:https://x"],
        ["--source", "ftp:x", "--at", "08:00"],
    ):
        assert cli("subscription", "add", "--channel", "ops", *bad).code == 2, bad
    missing = cli("subscription", "add", "--channel", "nope", "--source", "events:r", "--at", "08:00")
    assert missing.code == 1
    no_route = cli("subscription", "add", "--channel", "ops", "--source", "events:r", "--at", "08:00")
    assert no_route.code == 1 and "route add" in no_route.err
    assert cli("route", "add", "r", "--source", "generic", "--to", "ops", "--mode", "digest", "--auth", "none").code == 0
    events = cli("subscription", "add", "--channel", "ops", "--source", "events:r", "--at", "08:00", "--json")
    assert events.code == 0, events.err
    assert [s.id for s in same_store.subscriptions.following_route("r")] == [events.json()["id"]]
    feed = cli(
        "subscription", "add", "--channel", "ops", "--source", "json:https://example.org/x.json",
        "--cron", "0 9 * * 1", "--json",
    )  # fmt: skip
    assert feed.code == 0 and feed.json()["source"] == "json:https://example.org/x.json"
    assert (
        cli("subscription", "add", "--channel", "ops", "--source", "json:ftp://x", "--at", "08:00").code == 2
    )


def test_outbox_and_dead_letters(cli: Cli, same_store: Store) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    pending = same_store.outbox.add(
        OutboxItem(channel="ops", message='{"a":1}', next_attempt=later, last_error="429")
    )
    dead = same_store.outbox.add(
        OutboxItem(channel="ops", message="{}", dead=True, reason="404 workflow gone")
    )
    listed = cli("outbox", "list", "--json").json()
    assert [i["id"] for i in listed] == [pending.id]
    assert cli("outbox", "retry").code == 0
    assert [i.id for i in same_store.outbox.due(datetime.now(UTC) + timedelta(seconds=5))] == [pending.id]
    dl = cli("dead-letters", "list")
    assert dl.code == 0 and "404 workflow gone" in dl.out
    assert cli("dead-letters", "requeue").code == 2
    assert cli("dead-letters", "requeue", dead.id).code == 0
    assert same_store.outbox.list(dead=True) == [] and same_store.outbox.backlog("ops") == 2
    purged = cli("outbox", "purge", "--json")
    assert purged.code == 0 and purged.json() == {"purged": 2}
    assert cli("dead-letters", "requeue", "missing").code == 1
    assert cli("dead-letters", "requeue", "x" * 600).code == 1


def test_unreachable_store_fails_with_advice(tmp_path: Path) -> None:
    env = base_env(
        TEAMS_STORAGE=azurite_connection_string(free_port()), TABLE_PREFIX="x", STORE_TIMEOUT_SECONDS="1"
    )
    run = run_cli(["team", "list"], env, tmp_path)
    assert run.code == 1 and "TEAMS_STORAGE" in run.err and "Traceback" not in run.err
    assert "AccountKey" not in run.err


def test_bad_table_prefix_is_a_failure_with_advice(azurite: str, tmp_path: Path) -> None:
    run = run_cli(["team", "list"], base_env(TEAMS_STORAGE=azurite, TABLE_PREFIX="bad_prefix"), tmp_path)
    assert run.code == 1 and "TABLE_PREFIX" in run.err and "Traceback" not in run.err


def test_settings_come_from_local_settings_json(azurite: str, tmp_path: Path) -> None:
    prefix = unique("lss")
    values = {"TEAMS_STORAGE": azurite, "TABLE_PREFIX": prefix}
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    env = base_env()
    # Named with --settings (a file in the current directory alone is not read: issue 13 item 11).
    named = ["--settings", str(tmp_path / "local.settings.json")]
    assert run_cli(["team", "add", "fromfile", *named], env, tmp_path, stdin=token()).code == 0
    assert [t.key for t in open_store(connection=azurite, prefix=prefix).teams.list()] == ["fromfile"]
    # The process environment wins over the file.
    other = unique("env")
    assert run_cli(["team", "list", "--json", *named], {**env, "TABLE_PREFIX": other}, tmp_path).json() == []
