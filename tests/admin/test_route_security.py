"""Issue 13, items 5 and 16 in the admin CLI: no open route by default, a generated secret shown
once, and `route list` saying whether a digest route is followed (a real subprocess, Azurite)."""

from __future__ import annotations

from shared.store import Store
from tests.admin.test_cli import WORKFLOW_URL, Cli, cli, prefix, same_store

__all__ = ["cli", "prefix", "same_store"]  # fixtures


def test_route_add_needs_an_explicit_auth(cli: Cli, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    run = cli("route", "add", "open", "--source", "generic", "--to", "ops")
    assert run.code == 2 and "--auth" in run.err
    assert same_store.routes.find("open") is None
    run = cli("route", "add", "open", "--source", "generic", "--to", "ops", "--auth", "none")
    assert run.code == 0, run.err
    assert "anyone who learns the URL can post" in run.out
    assert same_store.routes.get("open").auth == "none"


def test_generated_secret_is_printed_once(cli: Cli, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    run = cli("route", "add", "am", "--source", "alertmanager", "--to", "ops", "--auth", "bearer", "--generate-secret")
    assert run.code == 0, run.err
    secret = same_store.routes.get("am").secret
    assert secret and len(secret) >= 40
    assert f"secret (shown once; give it to the sender): {secret}" in run.out
    as_json = cli("route", "add", "gh", "--source", "github", "--to", "ops", "--auth", "github", "--generate-secret", "--json")
    assert as_json.code == 0 and as_json.json()["secret"] == same_store.routes.get("gh").secret
    assert as_json.json()["secret"] != secret
    listed = cli("route", "list").out + cli("route", "list", "--json").out
    assert secret not in listed and as_json.json()["secret"] not in listed
    for bad in (["--auth", "none", "--generate-secret"], ["--auth", "key", "--generate-secret", "--secret-file", "x"]):
        run = cli("route", "add", "bad", "--source", "generic", "--to", "ops", *bad)
        assert run.code == 2, (bad, run.err)
    assert same_store.routes.find("bad") is None


def test_route_list_shows_who_follows_a_digest_route(cli: Cli, same_store: Store) -> None:
    assert cli("channel", "add", "ops", "--url", WORKFLOW_URL).code == 0
    run = cli("route", "add", "nightly", "--source", "generic", "--to", "ops", "--mode", "digest", "--auth", "none")
    assert run.code == 0 and "posts are refused (409) until one does" in run.out
    assert cli("route", "add", "now", "--source", "generic", "--to", "ops", "--auth", "none").code == 0
    listed = cli("route", "list")
    assert "FOLLOWED" in listed.out and "no subscription (posts refused)" in listed.out
    rows = {row["name"]: row for row in cli("route", "list", "--json").json()}
    assert rows["nightly"]["followed_by"] == 0 and "followed_by" not in rows["now"]
    for _ in range(2):
        added = cli("subscription", "add", "--channel", "ops", "--source", "events:nightly", "--at", "08:00")
        assert added.code == 0, added.err
    assert "2 subscriptions" in cli("route", "list").out
    assert cli("route", "list", "--json").json()[0]["followed_by"] == 2
