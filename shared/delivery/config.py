"""Delivery's view of its settings (`shared.settings.delivery()`, read once per process)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from shared import settings

TEAMS_MAX_BYTES = 28672


@dataclass(frozen=True)
class Config:
    timeout: float
    connect_timeout: float
    max_attempts: int
    inline_attempts: int
    budget_seconds: float
    margin_bytes: int
    max_threads: int
    max_age_seconds: float

    @property
    def max_bytes(self) -> int:
        return TEAMS_MAX_BYTES - self.margin_bytes

    @classmethod
    def load(cls) -> Config:
        return _config(settings.delivery())


@lru_cache(maxsize=4)
def _config(section: settings.Delivery) -> Config:
    return Config(
        timeout=section.timeout_seconds,
        connect_timeout=section.connect_timeout_seconds,
        max_attempts=section.max_attempts,
        inline_attempts=section.inline_attempts,
        budget_seconds=section.budget_seconds,
        margin_bytes=section.margin_bytes,
        max_threads=section.max_threads,
        max_age_seconds=section.max_age_seconds,
    )


def inline_seconds(messages: int, channels: int = 1) -> float:
    """The longest `deliver_many` can take over `messages` messages to `channels`, inline.

    Each delivery's parts share one deadline (the budget): after it, parts wait in the outbox,
    and the post running at the deadline may take one more timeout (plus a connect timeout).
    Channels go `max_threads` at a time; messages one after another.
    """
    cfg = Config.load()
    waves = -(-max(1, channels) // cfg.max_threads)
    return max(1, messages) * waves * (cfg.budget_seconds + cfg.timeout + cfg.connect_timeout)
