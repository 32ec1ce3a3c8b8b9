"""Digest feeds: one module per subscription source behind the interface in base.py.

``REGISTRY`` below is the one list of subscription sources: the admin CLI, the bot's
``subscribe`` and the run read it (``shared.store.models.Subscription.source`` repeats it as a
type, checked against it by ``tests/test_plugins.py``). Adding a feed (docs/contracts.md,
"Adding a source / a feed"):

1. write ``shared/digest/feeds/<module>.py`` with a stateless ``base.Feed`` subclass (one instance
   serves every run's threads) and ``FEEDS = {"<kind>": YourFeed()}`` at the end;
2. add a row ``"<kind>": FeedRow("shared.digest.feeds.<module>", target="url"|"place"|"route")``
   to ``REGISTRY`` (``chat=False`` keeps it out of the bot's ``subscribe``);
3. add the kind to the ``Literal`` of ``Subscription.source``.

Modules are imported on first use: the bot's usage text and the CLI's checks read only the rows,
and a weather digest never imports feedparser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.plugins import Registry, Row

if TYPE_CHECKING:
    from shared.digest.feeds.base import Feed

__all__ = ["HELPERS", "REGISTRY", "FeedRow", "Target", "kinds"]

#: what a subscription's ``target`` is: an http(s) URL, a place name, an incoming route's name
Target = Literal["url", "place", "route"]


@dataclass(frozen=True)
class FeedRow(Row):
    """A feed's module, what its target is, and whether the bot's ``subscribe`` offers it."""

    target: Target = "url"
    chat: bool = True


_HERE = "shared.digest.feeds."

REGISTRY: Registry[Feed, FeedRow] = Registry(
    "feed",
    "FEEDS",
    {
        "rss": FeedRow(_HERE + "rss", target="url"),
        "weather": FeedRow(_HERE + "weather", target="place"),
        "events": FeedRow(_HERE + "events", target="route"),
        # Not offered in chat (as before): a JSON endpoint usually needs its items/fields settings.
        "json": FeedRow(_HERE + "jsonfeed", target="url", chat=False),
    },
)
#: modules in this folder that are not feeds (the registry test skips them)
HELPERS = frozenset({"base"})


def kinds(*, chat: bool = False) -> tuple[str, ...]:
    """Every subscription source; with ``chat``, only those the bot's ``subscribe`` offers."""
    return tuple(k for k in REGISTRY.kinds() if REGISTRY.row(k).chat or not chat)
