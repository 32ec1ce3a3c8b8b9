"""Seams the tests put into production code from outside (production keeps no test hooks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def after_delivery(hook: Callable[[Any, Any], None]) -> Iterator[None]:
    """Calls ``hook(claimed subscription, delivery result)`` after each digest's delivery and before
    the run commits it (where a crash must not post twice), by wrapping the delivery client's
    ``deliver`` for the block: the run keeps no test hook of its own."""
    from shared.delivery import client

    real = client.deliver

    def deliver(store: Any, channel: str, card: Any, **kwargs: Any) -> Any:
        result = real(store, channel, card, **kwargs)
        subscription_id = str(kwargs.get("key") or "").partition("|")[0]
        hook(store.subscriptions.get(subscription_id), result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(client, "deliver", deliver)
        yield
