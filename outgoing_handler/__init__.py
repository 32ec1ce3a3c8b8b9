"""Teams outgoing webhook: `POST /api/outgoing/{team}`, authenticated by the HMAC Teams sends."""

from __future__ import annotations

import azure.functions as func

from shared.teams.handler import handle_request


def main(req: func.HttpRequest) -> func.HttpResponse:
    result = handle_request(
        req.route_params.get("team", ""),
        req.headers.get("Authorization"),
        req.get_body(),
        content_length=req.headers.get("Content-Length"),
    )
    return func.HttpResponse(
        result.body, status_code=result.status, mimetype=result.mimetype, charset="utf-8"
    )
