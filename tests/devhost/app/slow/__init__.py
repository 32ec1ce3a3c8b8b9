"""Sleeps ?ms= and reports when it ran, so tests can see two requests overlap."""

import json
import time

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    start = time.monotonic()
    time.sleep(min(int(req.params.get("ms", "300")), 5000) / 1000)
    return func.HttpResponse(json.dumps({"start": start, "end": time.monotonic()}), mimetype="application/json")
