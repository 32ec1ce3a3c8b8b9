"""Catch-all parameter: /api/files/{*path}; every method."""

import json

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    body = {"path": req.route_params.get("path"), "method": req.method}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
