"""Which function invocation a thread works for, so our worker threads' log lines carry its id.

Application Insights tags a log line with the invocation id of the thread that wrote it. The
Python worker knows it only for the thread it ran the function on; for a thread the function
starts, Microsoft's guidance is to set `context.thread_local_storage.invocation_id` in that
thread. Each function calls `enter(context)`; our thread pools run their work through
`carry(fn)`, which does that setting around the call in the worker thread and undoes it after.
`run_parallel` is the short-lived pool for a few independent calls, already wrapped so.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")

_context: contextvars.ContextVar[Any] = contextvars.ContextVar("invocation_context", default=None)


def enter(context: Any) -> None:
    """This thread now works for `context`'s invocation (call first thing in a function's main).

    Not undone at the end: the worker runs the next invocation on this thread only after that
    one's own `enter`.
    """
    _context.set(context)
    storage = getattr(context, "thread_local_storage", None)
    if storage is not None:
        storage.invocation_id = getattr(context, "invocation_id", None)


def carry(fn: Callable[P, T]) -> Callable[P, T]:
    """`fn`, run in another thread for the invocation that is current here (when there is one)."""
    context = _context.get()
    if context is None:
        return fn

    @wraps(fn)
    def bound(*args: P.args, **kwargs: P.kwargs) -> T:
        storage = getattr(context, "thread_local_storage", None)
        before = getattr(storage, "invocation_id", None) if storage is not None else None
        token = _context.set(context)
        if storage is not None:
            storage.invocation_id = getattr(context, "invocation_id", None)
        try:
            return fn(*args, **kwargs)
        finally:
            _context.reset(token)
            if storage is not None:
                storage.invocation_id = before

    return bound


def run_parallel(items: Sequence[T], call: Callable[[T], R], workers: int = 8, *, name: str = "") -> list[R]:
    """`call` over `items` on a few threads, results in order; the first failure (in order) is raised.

    For independent latency-bound calls (point reads, status lookups): they wait together instead
    of one after another. Two items or fewer run in this thread, where a pool would cost more than
    it saves. Every call runs under `carry`, so its log lines keep this invocation's id; `name` is
    the worker threads' name prefix (the executor's default when empty).
    """
    if len(items) <= 2:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(carry(call), items))
