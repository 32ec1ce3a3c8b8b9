"""`admin channel --connection`, `channel set`, `connection list|set|assign` against Azurite."""

from __future__ import annotations

import time
from pathlib import Path

from shared.store import Store
from shared.store.models import ConnectionState
from tests.admin.test_cli import WORKFLOW_URL, Cli, cli, prefix, same_store  # noqa: F401  (fixtures)


def test_connections_from_channel_add_to_list(cli: Cli, same_store: Store, tmp_path: Path) -> None:  # noqa: F811
    url_file = tmp_path / "url.txt"
    url_file.write_text(WORKFLOW_URL)
    assert cli("channel", "add", "ops", "--url-file", str(url_file)).code == 0
    added = cli("channel", "add", "alerts", "--url-file", str(url_file), "--connection", "owner-2")
    assert added.code == 0, added.err
    assert same_store.channels.get("ops").connection == "default"
    assert same_store.channels.get("alerts").connection == "owner-2"
    assert cli("channel", "add", "bad", "--url-file", str(url_file), "--connection", "no spaces!").code == 2

    moved = cli("channel", "set", "ops", "--connection", "owner-2")
    assert moved.code == 0 and "owner-2" in moved.out
    assert cli("connection", "assign", "default", "ops").code == 0
    assert same_store.channels.get("ops").connection == "default"

    assert cli("connection", "set", "owner-2", "--budget", "50/300").code == 0
    assert cli("connection", "set", "owner-2", "--budget", "lots").code == 2
    now_ms = int(time.time() * 1000)
    row = same_store.budgets.read("owner-2")
    assert row is not None and row.budget == "50/300"
    same_store.budgets.write(row.model_copy(update={"sent": [now_ms, now_ms], "posts": 7, "combined": 3}))

    listed = cli("connection", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {r["name"]: r for r in listed.json()}
    assert rows["owner-2"]["channels"] == ["alerts"] and rows["owner-2"]["budget"] == "50/300"
    assert rows["owner-2"]["used"] == "2 of 50 in 300 s" and rows["owner-2"]["combined"] == 3
    assert rows["default"]["channels"] == ["ops"] and rows["default"]["budget"] == "25/300 (default)"
    table = cli("connection", "list")
    assert "owner-2" in table.out and "alerts" in table.out
    assert "TOPSECRETSIG" not in listed.out + table.out + moved.out + added.out

    assert cli("connection", "set", "owner-2", "--budget", "default").code == 0
    again = same_store.budgets.read("owner-2")
    assert again is not None and not again.budget and again.sent == [now_ms, now_ms]
    assert isinstance(again, ConnectionState)
