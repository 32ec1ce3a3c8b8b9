"""POST /api/incoming/{route}: other apps post here; cards go to Teams (see shared.ingest).

Anonymous at the host level because sender authentication is chosen per route.
"""

from __future__ import annotations

import azure.functions as func

from shared import ingest


def main(req: func.HttpRequest) -> func.HttpResponse:
    reply = ingest.handle(
        req.route_params.get("route", ""),
        dict(req.headers),
        req.get_body(),
        dict(req.params),
    )
    return func.HttpResponse(
        reply.body, status_code=reply.status, headers=reply.headers, mimetype=reply.mimetype, charset="utf-8"
    )
