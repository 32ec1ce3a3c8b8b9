"""Constrained parameter: /api/items/{id:int}; GET and DELETE only."""

import json

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    body = {"id": req.route_params["id"], "method": req.method}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
