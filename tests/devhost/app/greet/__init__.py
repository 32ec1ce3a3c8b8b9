"""Optional route parameter: /api/greet and /api/greet/{name}."""

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name") or "world"
    return func.HttpResponse(f"hello {name}")
