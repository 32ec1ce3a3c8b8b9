"""Timer: send what waits in the outbox as fast as the connections' budgets allow (shared.delivery.sweep)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import invocation, settings


def main(timer: func.TimerRequest, context: func.Context) -> None:
    invocation.enter(context)  # our worker threads' log lines carry this invocation's id
    from shared.delivery import sweep
    from shared.store import open_store

    stats = sweep.sweep(open_store(), budget_seconds=settings.delivery().sweep_seconds)
    logging.getLogger(__name__).info(
        "outbox_sweep invocation=%s sent=%d combined=%d in %d posts requeued=%d dead=%d short=%s",
        context.invocation_id,
        stats.sent,
        stats.combined,
        stats.combined_posts,
        stats.requeued,
        stats.dead,
        ",".join(stats.short) or "-",
    )
