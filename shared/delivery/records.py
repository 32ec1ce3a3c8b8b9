"""The idempotency record of each part of a message: why an accepted part is never posted again.

Every part of a message to a channel has a key in the idempotency scope "delivery"
(`shared.idempotency`). While a run posts the part it holds the key (IN_PROGRESS, its lease);
then the record says the part was accepted (COMPLETED with `{"at", "status"}`), or split
(COMPLETED with `{"split": n}`: Teams refused it as too large and it went out in n pieces,
numbered by `parts.piece_number`, each with a record of its own). A part whose post did nothing
that counts is released. Records are kept well past the outbox's give-up age, so no retry can
outlive the record that stops it.

The key format lives here only: part NUMBER of message KEY is "KEY#NUMBER" in the outbox
(`item_key`) and "CHANNEL|KEY#NUMBER" in the idempotency scope. Callers outside delivery ask
`part_states`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.delivery.parts import piece_number
from shared.idempotency import Scope, Status

if TYPE_CHECKING:
    from shared.delivery.classify import Answer
    from shared.idempotency import Claim
    from shared.store import Store
    from shared.store.models import DedupeRecord

SCOPE = "delivery"
ACCEPTED_TTL_SECONDS = 7 * 86400

PartState = Literal["accepted", "queued", "missing"]


def item_key(key: str, number: str) -> str:
    """The outbox item's idempotency key of part `number` of message `key`: "KEY#2/3"."""
    return f"{key}#{number}"


def parse_item_key(idempotency_key: str | None) -> tuple[str, str]:
    """`"KEY#2/3"` -> ("KEY", "2/3")."""
    base, sep, number = (idempotency_key or "").rpartition("#")
    return (base, number) if sep else (idempotency_key or "", "1/1")


def record_key(channel: str, key: str, number: str) -> str:
    """The part's key in the idempotency scope: the channel too, since a fan-out shares one `key`."""
    return f"{channel}|{item_key(key, number)}"


def is_accepted(record: DedupeRecord | None) -> bool:
    """Whether a part's record (or None) says the part was accepted (whole, not split)."""
    return record is not None and record.status == Status.COMPLETED and not split_count(record)


def split_count(record: DedupeRecord | None) -> int:
    """Into how many pieces a part was split after Teams refused it as too large (0: it was not).

    The pieces have records of their own; a retry splits the part the same way and checks them,
    and `part_states` reports each of them.
    """
    data = record.data if record is not None else None
    pieces = data.get("split") if isinstance(data, dict) else None
    return pieces if isinstance(pieces, int) and pieces > 0 else 0


def _acceptance(answer: Answer | None) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "status": answer.status if answer else None}


def _split(pieces: int) -> dict[str, Any]:
    return {"split": pieces}


class PartRecords:
    """The records of the parts of message `key` to `channel`: one round trip per call."""

    def __init__(self, store: Store, channel: str, key: str) -> None:
        self.channel = channel
        self.key = key
        self._keys = Scope(store, SCOPE)

    def find(self, number: str) -> DedupeRecord | None:
        return self._keys.find(record_key(self.channel, self.key, number))

    def claim(self, number: str, lease_seconds: float) -> Claim:
        """Hold the part while posting it; when not held, the claim's `holder` says why."""
        return self._keys.acquire(record_key(self.channel, self.key, number), lease_seconds)

    def accepted(self, number: str, answer: Answer | None) -> None:
        """From here on this part is never posted again. A blind write: the caller holds the claim."""
        self._keys.complete(
            record_key(self.channel, self.key, number), _acceptance(answer), ttl_seconds=ACCEPTED_TTL_SECONDS
        )

    def split(self, number: str, pieces: int) -> None:
        """The part went out in `pieces` pieces (each with a record of its own), never whole."""
        self._keys.complete(
            record_key(self.channel, self.key, number), _split(pieces), ttl_seconds=ACCEPTED_TTL_SECONDS
        )

    def release(self, number: str) -> None:
        """The post did nothing that counts: the next attempt claims the part afresh."""
        self._keys.release(record_key(self.channel, self.key, number))


class Acceptances:
    """Parts accepted inline whose records were not written: the caller's claim covers them.

    An incoming post holds a fresh claim on its message key (`shared.idempotency.Scope.acquire`)
    whose lease outlasts the delivery, so no other run can be sending its parts, and the claim's
    completion says the whole message went out. Delivering under such a claim skips the two
    per-part writes (claim, acceptance). If the caller gives up half done it must `write` the
    ledger and expire (never release) its claim: the retry then takes the key over as not fresh
    and checks the per-part records, skipping what was accepted (and splitting the same way a
    part that was split).
    """

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def accepted(self, channel: str, key: str, number: str, answer: Answer | None) -> None:
        with self._lock:
            self._records[record_key(channel, key, number)] = _acceptance(answer)

    def split(self, channel: str, key: str, number: str, pieces: int) -> None:
        with self._lock:
            self._records[record_key(channel, key, number)] = _split(pieces)

    def write(self, store: Store) -> None:
        """The records of the parts noted here (one transaction per 100)."""
        with self._lock:
            records, self._records = self._records, {}
        if records:
            Scope(store, SCOPE).complete_all(records, ACCEPTED_TTL_SECONDS)


def part_states(store: Store, channel: str, key: str, parts: int) -> Iterator[tuple[str, PartState]]:
    """What became of each part of message `key` to `channel`, posted in `parts` parts, in order.

    (number, "accepted" | "queued" in the outbox | "missing"); a part split after a 413 is reported
    piece by piece instead. Lazy: one record read per part as the caller iterates, and the outbox
    is listed once, the first time a part is not accepted; stop early and nothing more is read.
    """
    records = PartRecords(store, channel, key)
    queued: set[str] | None = None

    def states(number: str) -> Iterator[tuple[str, PartState]]:
        nonlocal queued
        record = records.find(number)
        if is_accepted(record):
            yield number, "accepted"
            return
        pieces = split_count(record)
        if pieces:
            for i in range(1, pieces + 1):
                yield from states(piece_number(number, i, pieces))
            return
        if queued is None:
            prefix = item_key(key, "")
            queued = {
                found
                for item in store.outbox.list()
                if (found := item.idempotency_key or "").startswith(prefix)
            }
        yield number, "queued" if item_key(key, number) in queued else "missing"

    for i in range(1, parts + 1):
        yield from states(f"{i}/{parts}")


def accepted_all(store: Store, parts: Iterable[tuple[str, str, str]], answer: Answer | None) -> None:
    """Record the acceptance of several parts at once ((channel, key, number) each): a combined
    card stood for them. One transaction per 100; the caller holds each part's claim."""
    data = _acceptance(answer)
    done: dict[str, dict[str, Any] | None] = {record_key(c, k, n): dict(data) for c, k, n in parts}
    if done:
        Scope(store, SCOPE).complete_all(done, ACCEPTED_TTL_SECONDS)
