"""No route: served at /api/echo. Echoes what the HttpRequest holds."""

import base64
import json

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body_b64": base64.b64encode(req.get_body()).decode(),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
