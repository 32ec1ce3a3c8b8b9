"""Delivery settings (DELIVERY_* in the environment), read once per delivery, clamped to what works."""

from __future__ import annotations

from dataclasses import dataclass

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
        # Clamped: a socket timeout of 0 would mean non-blocking, and a huge one would hang a worker.
        timeout = min(max(0.5, settings.get_float("DELIVERY_TIMEOUT_SECONDS", 10.0)), 120.0)
        return cls(
            timeout=timeout,
            connect_timeout=min(timeout, 5.0),
            max_attempts=max(1, settings.get_int("DELIVERY_MAX_ATTEMPTS", 8)),
            inline_attempts=max(1, settings.get_int("DELIVERY_INLINE_ATTEMPTS", 3)),
            budget_seconds=max(0.0, settings.get_float("DELIVERY_BUDGET_SECONDS", 8.0)),
            margin_bytes=min(max(0, settings.get_int("DELIVERY_MARGIN_BYTES", 2048)), 16384),
            max_threads=min(32, max(1, settings.get_int("DELIVERY_MAX_THREADS", 8))),
            max_age_seconds=max(0.0, settings.get_float("DELIVERY_MAX_AGE_SECONDS", 86400.0)),
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
