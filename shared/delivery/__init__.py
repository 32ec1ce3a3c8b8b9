"""Everything that posts to Teams: allowlist, answer classification, rate limits, retries, outbox.

The rest of the project uses this face:

- `deliver(store, channel, card, *, key, budget_seconds, ledger, transport) -> Result` and
  `deliver_many(store, channels, card, *, key, ledger, transport) -> dict[str, Result]`;
- `Acceptances`: the ledger of a caller that holds a fresh claim on the message key;
- `inline_seconds(messages, channels)`: how long delivering inline can take (a claim's lease);
- `count_parts(card)` and `part_states(store, channel, key, parts)`: for a caller that must later
  tell whether every part of a message went out (the digest's recovery);
- `Transport`: what `transport=` takes (the default posts with http.client).

The modules behind it: `client` (deliver, deliver_many), `transport`, `classify` (what Teams'
answer means), `parts` (fitting and splitting), `records` (each part's idempotency record and its
key format), `handoff` (to the outbox), `sweep` (the outbox's retries), `retry`, `ratelimit`,
`allowlist`, `config`. Importing the package costs nothing: a name is looked up in its module on
each use (not cached here, so a test that patches `client.deliver` is seen through this face).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.delivery.client import Result, deliver, deliver_many
    from shared.delivery.config import inline_seconds
    from shared.delivery.parts import count_parts
    from shared.delivery.records import Acceptances, part_states
    from shared.delivery.transport import Transport

__all__ = [
    "Acceptances",
    "Result",
    "Transport",
    "count_parts",
    "deliver",
    "deliver_many",
    "inline_seconds",
    "part_states",
]

_HOMES = {
    "Acceptances": "records",
    "Result": "client",
    "Transport": "transport",
    "count_parts": "parts",
    "deliver": "client",
    "deliver_many": "client",
    "inline_seconds": "config",
    "part_states": "records",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'shared.delivery' has no attribute {name!r}")
    return getattr(importlib.import_module(f"shared.delivery.{home}"), name)
