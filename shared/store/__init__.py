"""The project's tables behind small repositories: `open_store()` -> `Store`.

Importing this package is cheap (errors only); pydantic models and the Azure SDK load when first
used, so a function that answers without the store does not pay for them at cold start.

Modules, each importing only from those listed after it:

- `root`: `Store` and `open_store`, the one place that composes the repositories;
- the repositories: `registry`, `subscriptions`, `events`, `outbox`, `dedupe`, `deliveries`, and
  `behind` for the writes nobody waits for; records are `models`, converted by `entities`;
- `table`: `Table`, one table's calls, errors, batches and read counts;
- `account`: the connection settings, the SDK client and its HTTP transport (`transport`);
- `translate`: SDK exceptions as the store's errors; `errors`: those errors.

Table design (every table is named `<TABLE_PREFIX><name>`; PartitionKey / RowKey, and why):

- teams: `team` / team key. channels: `channel` / name. routes: `route` / name.
  Few rows, read by point lookup on the hot paths (the bot reads one team, the proxy one route);
  one partition per table makes `list` a single range read.
- channels also hold `link` / Teams channel id: a copy of the channel linked to that Teams
  channel, so the bot finds "this channel" with one point read instead of filtering every channel
  on a non-key property. Kept in step by every save and remove.
- subscriptions: `sub` / id. Point reads by id for claim and save; `list(channel)` filters one
  partition (an operator command, not a hot path).
- schedule: due hour `YYYYMMDDHH` / `YYYYMMDDTHHMMSS|<id>`. The due index: one row per active
  subscription at its next_run, so `due(now)` reads only rows whose time has come
  (`PartitionKey le hour(now) and RowKey le stamp(now)`), never the whole subscriptions table.
  Hour buckets spread writes over partitions; the stamp first in the RowKey keeps a total order.
- events: subscription id / arrival time in ns + random. Kept in order per subscription, read
  and deleted in batches of that one partition.
- outbox: `pending` or `dead` / creation time in ns + random. The sweep reads only pending rows
  whose next_attempt has come; dead letters stay apart for `list` and `requeue`.
- dedupe: scope / idempotency key. Point reads and conditional inserts per key.
- deliveries: channel / inverted time. `recent(channel)` is a prefix read, newest first.

A call that fails because the server dropped an idle pooled connection before answering is tried
once more within the same timeout (`Table._call`); nothing else is retried beyond one quick
reconnect, so callers hear of trouble in time to answer 503.

Keys are escaped (`keys.escape`) for the characters Table Storage forbids. Batches are split per
partition and into chunks of 100 (the service limit; Azurite crashes past it). ETag conditions
guard every read-modify-write that two runs can race: claims, cursor moves, outbox items.
Tables are created on first write (a read of a missing table is simply empty), which costs nothing
on the hot path. azure.data.tables is imported on first use, not by `import shared.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.store.errors import Conflict, NotFound, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from shared.store.root import Store, open_store

__all__ = ["Conflict", "NotFound", "Store", "StoreError", "StoreUnavailable", "open_store"]


def __getattr__(name: str) -> Any:
    if name in ("Store", "open_store"):
        from shared.store import root

        return getattr(root, name)
    raise AttributeError(f"module 'shared.store' has no attribute {name!r}")
