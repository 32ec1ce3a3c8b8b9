"""The timer's purge through the dev host and Azurite (issue 13, item 7): a timer run removes
expired keys, old delivery log rows and events whose subscription is gone, and logs what it did."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from shared.store.keys import escape
from shared.store.models import DedupeRecord, KeyStatus
from tests.conftest import unique


def test_a_timer_run_purges(devhost: str, app_store: Any) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=90)
    scope, channel, orphan = unique("incoming:p"), unique("ch"), unique("sgone")
    app_store.dedupe.write(DedupeRecord(scope=scope, key="k", status=KeyStatus.COMPLETED, expires=long_ago))
    app_store.dedupe.write(
        DedupeRecord(
            scope=scope, key="live", status=KeyStatus.COMPLETED, expires=datetime.now(UTC) + timedelta(days=1)
        )
    )
    row = f"{10**20 - int(long_ago.timestamp() * 1_000_000_000):020d}abcdef"
    app_store.deliveries.table.create(
        {"PartitionKey": escape(channel), "RowKey": row, "ok": True, "detail": "x"}
    )
    app_store.events.append(orphan, {"title": "left over"})

    def purged() -> bool:
        return (
            app_store.dedupe.read(scope, "k") is None
            and app_store.deliveries.recent(channel) == []
            and app_store.events.pending(orphan) == []
        )

    # Each run visits a bounded number of event partitions (other tests' too): a few runs at most.
    deadline = time.monotonic() + 40
    while not purged() and time.monotonic() < deadline:
        response = requests.post(devhost + "/admin/functions/scheduled_connector", json={}, timeout=10)
        assert response.status_code == 202
        run_ends = time.monotonic() + 5
        while not purged() and time.monotonic() < run_ends:
            time.sleep(0.3)
    assert app_store.dedupe.read(scope, "k") is None
    assert app_store.deliveries.recent(channel) == []
    assert app_store.events.pending(orphan) == []
    assert app_store.dedupe.read(scope, "live") is not None
