"""Shaping HTTP answers the same way in every function.

Errors are always JSON bodies that say what is wrong (never a stack trace), so that senders and
people reading a webhook's delivery log can act on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

JSON_MIMETYPE = "application/json"


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return func.HttpResponse(
        body,
        status_code=status,
        headers=dict(headers or {}),
        mimetype=JSON_MIMETYPE,
        charset="utf-8",
    )


def error_response(
    status: int,
    error: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> func.HttpResponse:
    payload: dict[str, Any] = {"error": error}
    if detail is not None:
        payload["detail"] = detail
    return json_response(payload, status=status, headers=headers)


def body_too_large(limit: int) -> func.HttpResponse:
    return error_response(413, "body too large", f"the limit is {limit} bytes")


def read_limited_body(req: func.HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit` (checked on the header first, before reading)."""
    length = req.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                return None
        except ValueError:
            pass
    body = req.get_body()
    if len(body) > limit:
        return None
    return body
