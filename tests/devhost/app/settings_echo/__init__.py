"""Shows the DEVHOST_TEST_* settings the function sees (nothing else, so no secret can leak)."""

import json
import os

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    values = {k: v for k, v in os.environ.items() if k.startswith("DEVHOST_TEST_")}
    return func.HttpResponse(json.dumps(values), mimetype="application/json")
