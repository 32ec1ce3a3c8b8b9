"""The HTTP layer both HTTP functions share: the reply type, JSON and error bodies, the body limit,
and logging a failure without its text.

Standard library only (``azure.functions`` is imported by ``http_response`` when called, and the
host has loaded it by then), so the outgoing bot's cold start stays inside Teams' 5 seconds.
Not named ``http``: that would shadow the standard library's package.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import azure.functions as func

__all__ = [
    "MAX_BODY_BYTES",
    "RETRY_AFTER_SECONDS",
    "Reply",
    "error",
    "http_response",
    "json_reply",
    "log_failure",
    "over_limit",
    "unavailable",
]

#: the largest request body either function reads (the host's own limit is far higher)
MAX_BODY_BYTES = 1024 * 1024
#: The Functions host's own cap on request bodies (default 100 MB, read before Python sees the
#: request): set just above ours in the app settings, so a huge body is refused by the host.
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
HOST_BODY_LIMIT_BYTES = MAX_BODY_BYTES + 64 * 1024
#: how long a sender should wait after a 503 by default
RETRY_AFTER_SECONDS = 30
JSON_MIMETYPE = "application/json"
#: frames named by ``log_failure``: the innermost ones say where, the outer ones how it got there
FAILURE_FRAMES = 4


@dataclass(frozen=True)
class Reply:
    """What a function answers, before it becomes an ``HttpResponse`` (tests read it directly).

    Frozen because module-level replies (``LEGACY_OK``, ``UNAUTHORIZED``) are shared by every request.
    """

    status: int
    body: bytes = b""
    mimetype: str = JSON_MIMETYPE
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The decoded body (JSON has no narrower type), None when empty."""
        return json.loads(self.body) if self.body else None


def json_reply(status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer, compact UTF-8 (non-ASCII text stays readable and short)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, JSON_MIMETYPE, dict(headers or {}))


def error(status: int, message: str, detail: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
    """The one error body: ``{"error": message}``, plus ``"detail"`` (text or a list) when given.

    ``message`` and ``detail`` are shown to the caller: never put a secret or a stored value in them.
    """
    payload: dict[str, Any] = {"error": message}
    if detail is not None:
        payload["detail"] = detail
    return json_reply(status, payload, headers)


def unavailable(
    message: str = "storage is unavailable, retry later", seconds: int = RETRY_AFTER_SECONDS
) -> Reply:
    """503 with ``Retry-After``: we could not keep the request, so the caller should send it again."""
    return error(503, message, headers={"Retry-After": str(seconds)})


def over_limit(content_length: str | None, body: bytes, limit: int = MAX_BODY_BYTES) -> bool:
    """True when the declared or the actual body size passes ``limit`` (checked before any parsing)."""
    declared = (content_length or "").strip()
    if declared.isdigit() and int(declared) > limit:
        return True
    return len(body) > limit


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log an unexpected exception by type and place, never by its text.

    Exception messages quote their input (pydantic's above all), which here may be a request body,
    a header, a team token or a channel's webhook URL; file, line and function find the bug as well.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-FAILURE_FRAMES:] if exc.__traceback__ else []
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(frames)) or "?"
    logger.error("%s: %s at %s", what, type(exc).__name__, where)


def http_response(reply: Reply) -> func.HttpResponse:
    """The Functions response for a reply; the one place that knows ``azure.functions``' shape."""
    import azure.functions as func

    return func.HttpResponse(
        reply.body,
        status_code=reply.status,
        headers=dict(reply.headers),
        mimetype=reply.mimetype,
        charset="utf-8",
    )
