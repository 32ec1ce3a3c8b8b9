"""A response with its own status, headers, mimetype and non-UTF-8 bytes, to check pass-through."""

import azure.functions as func

BODY = b"\x00\xffbinary\xfe"


def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        BODY,
        status_code=201,
        headers={"X-Custom": "yes", "Cache-Control": "no-store"},
        mimetype="application/vnd.devhost+octet",
    )
