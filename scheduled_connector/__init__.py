"""Timer: send the channel digests that are due (the work lives in shared.digest.run)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import invocation
from shared.digest import run as digest
from shared.store import purge


def main(timer: func.TimerRequest, context: func.Context) -> None:
    invocation.enter(context)  # our worker threads' log lines carry this invocation's id
    stats = digest.run(past_due=bool(getattr(timer, "past_due", False)))
    purged = purge.purge_default(after_seconds=stats.seconds)  # retention: bounded, after the digests
    logging.getLogger(__name__).info(
        "scheduled_connector invocation=%s %s purge=%s", context.invocation_id, stats.as_dict(), purged
    )
