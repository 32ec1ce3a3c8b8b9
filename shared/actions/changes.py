"""Attribution: every change posts a short card to the channel and is kept for `status`.

Kept as records of the idempotency table in the scope ``changes:<channel>`` (RowKey: inverted
time, so the newest reads first), expiring after `KEEP_DAYS`; the timer's purge removes them.
No table of its own: a change log is a few rows per channel.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.actions import Actor

if TYPE_CHECKING:
    from shared.store import Store

log = logging.getLogger(__name__)

KEEP_DAYS = 30
#: the changes `status` and the page list
SHOWN = 5
_FAR = 10**13


@dataclass(frozen=True)
class Change:
    at: datetime
    who: str
    what: str
    via: str


#: changes one channel may make, per process: (count, seconds) windows. A member with a page
#: session or the bot could otherwise toggle a subscription in a loop, each toggle a card; the
#: cards are ordinary posts of the channel (origin "changes": its fair share of the connection's
#: Flow bot budget when that runs short, combined like the rest), and this bounds them besides.
CHANGE_WINDOWS = ((20, 60.0), (200, 3600.0))
#: "Send a test card" (two posts each), per channel and process
TEST_WINDOWS = ((2, 60.0), (10, 3600.0))


def admit(channel: str, kind: str = "change") -> None:
    """Take one of the channel's change (or test-card) slots, or say when the next one is free."""
    import math

    from shared.actions import ActionError
    from shared.delivery.ratelimit import LIMITER

    windows = TEST_WINDOWS if kind == "test" else CHANGE_WINDOWS
    wait = LIMITER.acquire(f"{kind}s:{channel}", windows)
    if wait > 0:
        what = "test cards" if kind == "test" else "changes"
        raise ActionError(
            f"too many {what} in this channel just now: try again in {math.ceil(wait)} s", code="busy"
        )


def scope_of(channel: str) -> str:
    return f"changes:{channel}"


def record(store: Store, channel: str, actor: Actor, what: str, *, post: bool = True) -> None:
    """Keep the change and tell the channel "<name> <what>". Best effort: the change is made."""
    from shared.store.models import DedupeRecord, KeyStatus

    now = datetime.now(UTC)
    key = f"{_FAR - int(now.timestamp() * 1000):013d}-{secrets.token_hex(3)}"
    data = {"who": actor.name[:100], "what": what[:300], "via": actor.via, "at": now.isoformat()}
    try:
        store.dedupe.write(
            DedupeRecord(
                scope=scope_of(channel),
                key=key,
                status=KeyStatus.COMPLETED,
                expires=now + timedelta(days=KEEP_DAYS),
                data=data,
            )
        )
    except Exception as exc:
        from shared.web import log_failure

        log_failure(log, f"actions: could not record a change of channel {channel}", exc)
    if post:
        announce(store, channel, actor, what)


def announce(store: Store, channel: str, actor: Actor, what: str) -> None:
    """The channel's card: a silent change is impossible (best effort, the change stands)."""
    from shared.cards.builders import CardBuilder, Status
    from shared.cards.markdown import escape
    from shared.delivery import deliver

    where = " (on the configuration page)" if actor.via == "page" else ""
    card = CardBuilder("Channel settings changed", status=Status.DEFAULT).text(
        f"{escape(actor.name)} {escape(what)}{where}."
    )
    try:
        deliver(store, channel, card.build(), budget_seconds=1.5, origin="changes")
    except Exception as exc:
        from shared.web import log_failure

        log_failure(log, f"actions: could not tell channel {channel} of a change", exc)


def recent(store: Store, channel: str, limit: int = SHOWN) -> list[Change]:
    """The newest changes first."""
    from shared.store.keys import escape

    rows = store.table("dedupe").query("PartitionKey eq @pk", {"pk": escape(scope_of(channel))}, limit=limit)
    from shared.store.entities import from_entity
    from shared.store.models import DedupeRecord

    out: list[Change] = []
    for row in rows[:limit]:
        try:
            data = from_entity(DedupeRecord, row, scope=scope_of(channel), key=str(row["RowKey"])).data or {}
            at = datetime.fromisoformat(str(data.get("at")))
        except (ValueError, TypeError, KeyError):
            continue
        out.append(Change(at, str(data.get("who", "")), str(data.get("what", "")), str(data.get("via", ""))))
    return out
