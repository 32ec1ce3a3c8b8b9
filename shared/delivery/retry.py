"""How long to wait before posting again: full-jitter backoff, never earlier than Teams asked."""

from __future__ import annotations

import random

from shared.delivery.classify import Answer, Kind
from shared.delivery.ratelimit import LIMITER

# A 429 without Retry-After: a Microsoft engineer advised waiting "nearly 10-15 seconds".
DEFAULT_THROTTLE_SECONDS = 15.0


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2^attempt)] (spreads retries of many senders)."""
    return random.uniform(0.0, min(cap, base * (2 ** min(max(0, attempt), 32))))  # noqa: S311 (not crypto)


def retry_delay(url: str, answer: Answer, attempt: int, base: float, cap: float) -> float:
    """Seconds before the next try after a retryable answer: backoff, but never before Retry-After.

    A 429 also holds the destination back in the process-wide limiter (Retry-After, or the default
    cool-down when Teams gave none), so other threads and the sweep back off too.
    """
    delay = backoff(attempt, base, cap)
    if answer.kind is Kind.THROTTLED:
        hold = answer.retry_after if answer.retry_after is not None else DEFAULT_THROTTLE_SECONDS
        LIMITER.block(url, hold)
        return max(delay, hold)
    if answer.retry_after is not None:
        return max(delay, answer.retry_after)
    return delay
