"""GET/POST /api/configure/...: a channel's configuration page (see shared.configure).

Anonymous at the host level: a person arrives with a link the bot signed for them and stays
with the session cookie it is exchanged for (an operator may add App Service Authentication).
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared import invocation, web
from shared.configure import app

log = logging.getLogger("configure")


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    invocation.enter(context)
    path = req.route_params.get("path", "") or ""
    request = app.Request(req.method.upper(), path, dict(req.headers), req.get_body(), dict(req.params))
    reply = app.handle(request)
    # One line per invocation; never the query (a link's token) or a cookie.
    log.info("configure invocation=%s path=%r status=%d", context.invocation_id, path[:64], reply.status)
    return web.http_response(reply)
