"""Teams outgoing webhook: `POST /api/outgoing/{team}`, authenticated by the HMAC Teams sends."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import invocation, web
from shared.outgoing.handler import handle_request

log = logging.getLogger("outgoing_handler")


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    invocation.enter(context)  # our worker threads' log lines carry this invocation's id
    team = req.route_params.get("team", "")
    reply = handle_request(
        team,
        req.headers.get("Authorization"),
        req.get_body(),
        content_length=req.headers.get("Content-Length"),
    )
    # One line per invocation with its id (never the Authorization header or the body).
    log.info(
        "outgoing_handler invocation=%s team=%r status=%d", context.invocation_id, team[:64], reply.status
    )
    return web.http_response(reply)
