"""Idempotency keys (AWS Powertools' pattern): claim a key before the work, complete it after.

One record per key in the store's dedupe table; `shared.store.dedupe` only persists them (insert,
read, ETag replace, merge, delete, batch, write-behind), and the rules live here, so that the
four users (an incoming post, the bot's replay guard, each part of a delivery, the outbox sweep)
follow the same ones. Each uses a `Scope` (the record's partition: "incoming:<route>",
"outgoing", "delivery").

Statuses:

- `Status.IN_PROGRESS`: a run holds the key until the record's `expires` (its lease).
- `Status.COMPLETED`: the work is done; the record and its `data` (a reply, an acceptance)
  answer every duplicate until `expires`.
- `Status.EXPIRED`, never stored: `expires` has passed, whatever the stored status says, and
  the next `acquire` takes the key over. The takeover is *fresh* when the expired record was
  completed (its window is over: new work), *not fresh* when it was still in progress: its run
  died, or gave up with `expire`, and may have left work half done. That record's `data` is then
  kept in the claim, so the new holder knows what the old one was doing and checks its work.

Giving up, the one choice a caller makes:

- `release`: the work did nothing that counts. The record goes; the next attempt starts fresh.
- `expire`: the work was half done. The record stays in progress with its data, expired now; the
  next attempt takes over at once, but not fresh, and must check the partial work.

Holders: a key is held by its live record; in this process also by a completion queued behind
the caller (`complete_later`) and not written yet, so a duplicate arriving meanwhile is answered
as done rather than "in progress".

Round trips: `acquire` of a new key is one conditional insert, nothing read. A taken key costs one
read, and the holder comes back with the failed claim (no second read to tell "in progress" from
"done"); an expired one is taken over with one ETag-guarded replace more, so of two callers racing
for it exactly one holds it. A completion is one write (`complete_later`: behind the caller;
`complete_all`: one transaction per 100 keys).

The statuses are the store's record vocabulary (`shared.store.models.KeyStatus`, re-exported here
as `Status`); the store itself is imported when a `Scope` first touches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.store.models import KeyStatus as Status
from shared.store.models import StoredStatus as Stored

if TYPE_CHECKING:
    from shared.store import Store
    from shared.store.dedupe import DedupeRepository
    from shared.store.models import DedupeRecord

__all__ = ["Claim", "Scope", "Status", "Stored", "status_of"]

# A completion without its own TTL keeps the claim's expiry; this one only if the claim is gone.
COMPLETED_FALLBACK_TTL = 86400.0
# Takeovers lost to other callers before `acquire` gives up and reports the last holder it saw.
_TAKEOVER_TRIES = 3


def _now() -> datetime:
    return datetime.now(UTC)


def status_of(record: DedupeRecord, now: datetime | None = None) -> Status:
    """The record's status as the rules see it: `EXPIRED` once its `expires` has passed."""
    if record.expires <= (now or _now()):
        return Status.EXPIRED
    return Status(record.status)


@dataclass(frozen=True)
class Claim:
    """The outcome of `Scope.acquire`.

    `held`: the caller now holds the key. `fresh`: no earlier attempt left work half done under
    it (the key was new, or its last holder completed); False after taking over an attempt that
    died or gave up, whose partial work the caller must check. `data`: what the record now holds
    (after such a takeover, the unfinished attempt's notes). `holder`: when not held, the record
    that holds the key (in this process it may be a completion not written yet: no ETag then).
    """

    held: bool
    fresh: bool = False
    data: dict[str, Any] | None = None
    holder: DedupeRecord | None = None

    @property
    def in_progress(self) -> bool:
        """Not held, because another attempt is working on the key (or died doing so, lease running)."""
        return not self.held and self.holder is not None and self.holder.status == Status.IN_PROGRESS


class Scope:
    """The idempotency keys of one scope (one partition of the dedupe table).

    Cheap to make (no round trip): callers make one where they need it.
    """

    def __init__(self, store: Store, scope: str) -> None:
        self.store = store
        self.scope = scope

    @property
    def _records(self) -> DedupeRepository:
        return self.store.dedupe

    def _record(
        self, key: str, status: Stored, ttl_seconds: float, data: dict[str, Any] | None
    ) -> DedupeRecord:
        from shared.store.models import DedupeRecord

        expires = _now() + timedelta(seconds=ttl_seconds)
        return DedupeRecord(scope=self.scope, key=key, status=status, expires=expires, data=data)

    def acquire(self, key: str, ttl_seconds: float, data: dict[str, Any] | None = None) -> Claim:
        """Claim `key` for `ttl_seconds`, noting `data` in its record (see the module docstring).

        One round trip when the key is new. Otherwise the holder is read once and handed back,
        or, when it expired, taken over under its ETag: completed work is taken over fresh with
        the caller's `data`, unfinished work not fresh with its own `data` (when it had any).
        """
        record = self._record(key, Status.IN_PROGRESS, ttl_seconds, data)
        holder = record  # what we report if the key keeps changing hands under us
        for _ in range(_TAKEOVER_TRIES):
            if self._records.insert(record):
                return Claim(held=True, fresh=True, data=data)
            current = self._records.read(self.scope, key)
            if current is None:
                continue  # released in between: try the insert once more
            holder = current
            if status_of(current) is not Status.EXPIRED or current.etag is None:
                if current.status == Status.IN_PROGRESS:
                    # Done here already, its completion still on the way (`complete_later`)?
                    current = self._records.pending(self.scope, key) or current
                return Claim(held=False, holder=current)
            fresh = current.status == Status.COMPLETED
            kept = data if fresh or current.data is None else current.data
            if self._records.replace(record.model_copy(update={"data": kept}), current.etag):
                return Claim(held=True, fresh=fresh, data=kept)
            # another caller took it over (or released it): see who holds it now
        return Claim(held=False, holder=holder)

    def complete(
        self, key: str, data: dict[str, Any] | None = None, ttl_seconds: float | None = None
    ) -> None:
        """The work is done: keep `data` (e.g. the reply) for later duplicates. One write, no read.

        With `ttl_seconds` the record is written whole with that expiry; without, it keeps the
        claim's expiry (status and data merged in), and a record gone meanwhile is written again.
        """
        record = self._record(
            key, Status.COMPLETED, COMPLETED_FALLBACK_TTL if ttl_seconds is None else ttl_seconds, data
        )
        if ttl_seconds is not None or not self._records.merge(record):
            self._records.write(record)

    def complete_later(self, key: str, data: dict[str, Any] | None = None, *, ttl_seconds: float) -> None:
        """`complete` with a new expiry, written behind the caller (`shared.store.behind`).

        For the incoming proxy's hot path. Until the write lands, `acquire` in this process sees
        it as the holder, and other processes see the claim in progress. If it is lost (the process
        ends within a moment, or the store fails the write twice), the claim's lease runs out and
        the next attempt takes the key over, not fresh. Written inline when that queue is full.
        """
        self._records.write_later(self._record(key, Status.COMPLETED, ttl_seconds, data))

    def complete_all(self, done: Mapping[str, dict[str, Any] | None], ttl_seconds: float) -> None:
        """`complete` with a new expiry for several keys ({key: data}): one transaction per 100."""
        self._records.write_all(
            [self._record(key, Status.COMPLETED, ttl_seconds, data) for key, data in done.items()]
        )

    def release(self, key: str) -> None:
        """The work did nothing: the next attempt claims the key as new (fresh)."""
        self._records.delete(self.scope, key)

    def expire(self, key: str) -> None:
        """The work was half done: the next attempt takes the key over at once, but not fresh.

        The record keeps its status and data (what the work was); nothing happens if it is gone.
        """
        self._records.set_expiry(self.scope, key, _now())

    def find(self, key: str) -> DedupeRecord | None:
        """The live record of `key` (one read); None when there is none or it expired."""
        record = self._records.read(self.scope, key)
        if record is None or status_of(record) is Status.EXPIRED:
            return None
        return record
