"""Named HTTP output binding (func.Out) and the invocation context."""

import json

import azure.functions as func


def main(req: func.HttpRequest, res: func.Out[func.HttpResponse], context: func.Context) -> None:
    body = {"function": context.function_name, "invocation_id": context.invocation_id}
    res.set(func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json"))
