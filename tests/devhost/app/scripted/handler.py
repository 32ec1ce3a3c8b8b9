"""scriptFile and entryPoint other than __init__.py / main, plus alpha and range constraints."""

import azure.functions as func

from . import helper


def run(request: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(helper.describe(request.route_params["kind"], request.route_params["n"]))
