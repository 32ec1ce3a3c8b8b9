"""POST (and HEAD) /api/incoming/{route}: other apps post here; cards go to Teams (shared.incoming.pipeline).

Anonymous at the host level because sender authentication is chosen per route.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared import invocation, web
from shared.incoming import pipeline

log = logging.getLogger("incoming_proxy")


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    invocation.enter(context)  # our worker threads' log lines carry this invocation's id
    route = req.route_params.get("route", "")
    reply = pipeline.handle(route, dict(req.headers), req.get_body(), dict(req.params), method=req.method)
    # One line per invocation with its id, so a sender's request can be found in the logs.
    log.info(
        "incoming_proxy invocation=%s route=%r status=%d", context.invocation_id, route[:64], reply.status
    )
    return web.http_response(reply)
