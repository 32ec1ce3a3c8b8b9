"""`admin subscription remove` deletes the subscription's buffered events (issue 13, item 7)."""

from __future__ import annotations

from shared.store import Store
from shared.store.models import Subscription
from tests.admin.test_cli import Cli, cli, prefix, same_store  # noqa: F401  (fixtures)


def test_subscription_remove_deletes_buffered_events(cli: Cli, same_store: Store) -> None:  # noqa: F811
    kept = same_store.subscriptions.add(Subscription(channel="ops", source="events", target="alerts"))
    old = same_store.subscriptions.add(
        Subscription(id="s9f8e7d", channel="ops", source="events", target="alerts")
    )
    for sub in (kept, old):
        same_store.events.append(sub.id, {"title": "buffered"})
    removed = cli("subscription", "remove", "s9f8e7d")
    assert removed.code == 0, removed.err
    assert same_store.subscriptions.find("s9f8e7d") is None
    assert same_store.events.pending("s9f8e7d") == []
    assert len(same_store.events.pending(kept.id)) == 1
