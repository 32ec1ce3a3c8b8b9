"""What a Teams channel's webhook refuses, as pure functions over the parsed body.

The real Workflows flow answers 202 and fails later, out of the sender's sight; the sink refuses at once
with the text the flow run shows, so delivery code sees the failure in tests instead of in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28672
MAX_VERSION = (1, 5)

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Rejection:
    """Why Teams would not post a message: the HTTP status, an error code and the human text."""

    status: int
    code: str
    message: str


def json_type_name(value: Any) -> str:
    """The type name a Logic Apps expression error uses for a JSON value."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"


def check_size(size: int, max_bytes: int = MAX_BYTES) -> Rejection | None:
    """Teams counts the bytes of the message; 28672 passes, one more byte fails."""
    if size <= max_bytes:
        return None
    return Rejection(
        413,
        "MessageSizeExceeded",
        "Request Entity too large: MessageSizeExceeded-Message properties size exceeded. "
        f"Actual message properties size: {size} bytes, whereas max allowed size is {max_bytes} bytes",
    )


def parse_json(raw: bytes) -> tuple[Any, Rejection | None]:
    """Decode the body; a body that is not JSON cannot even start the flow."""
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, Rejection(
            400,
            "InvalidRequestContent",
            "The input body for trigger 'manual' of type 'Request' must be of type JSON.",
        )


def parse_version(value: Any) -> tuple[int, int] | None:
    """'1.5' -> (1, 5); anything that is not a 'major.minor' string -> None."""
    if not isinstance(value, str):
        return None
    match = _VERSION.match(value.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def check_card(content: Any, index: int, max_version: tuple[int, int] = MAX_VERSION) -> Rejection | None:
    """One attachment's `content`: an AdaptiveCard whose version Teams renders (<= 1.5)."""
    where = f"attachments[{index}].content"
    if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
        return Rejection(400, "InvalidAdaptiveCard", f"Property 'type' must be 'AdaptiveCard' ({where})")
    raw_version = content.get("version")
    if raw_version is None:
        return Rejection(400, "InvalidAdaptiveCard", f"Property 'version' is required ({where})")
    version = parse_version(raw_version)
    if version is None:
        return Rejection(
            400,
            "InvalidAdaptiveCard",
            f"Property 'version' must be a string like '1.5', got {json.dumps(raw_version)[:40]} ({where})",
        )
    if version > max_version:
        limit = f"{max_version[0]}.{max_version[1]}"
        return Rejection(
            400,
            "UnsupportedAdaptiveCardVersion",
            f"AdaptiveCard version '{raw_version}' is not supported: Teams renders version {limit} or "
            f"earlier ({where})",
        )
    return None


def check_envelope(body: Any, max_version: tuple[int, int] = MAX_VERSION) -> Rejection | None:
    """The Workflows message envelope: `type: message` and a non-empty list of Adaptive Card attachments."""
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(attachments, list):
        return Rejection(
            400,
            "InvalidTemplate",
            "The execution of template action 'Send_each_adaptive_card' failed: the result of the evaluation "
            "of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' is of type "
            f"'{json_type_name(attachments)}'. The result must be a valid array. (attachments is "
            f"{json_type_name(attachments)})",
        )
    if not attachments:
        return Rejection(400, "InvalidTemplate", "The 'attachments' array is empty: nothing would be posted.")
    assert isinstance(body, dict)
    if body.get("type") != "message":
        return Rejection(400, "InvalidMessage", "Property 'type' of the message must be 'message'")
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            return Rejection(
                400,
                "InvalidAttachment",
                f"attachments[{index}] must be an object, not {json_type_name(attachment)}",
            )
        content_type = attachment.get("contentType")
        if content_type != ADAPTIVE_CONTENT_TYPE:
            shown = json.dumps(content_type)[:80]
            return Rejection(
                400,
                "InvalidAttachment",
                f"attachments[{index}].contentType must be '{ADAPTIVE_CONTENT_TYPE}', got {shown}",
            )
        rejection = check_card(attachment.get("content"), index, max_version)
        if rejection is not None:
            return rejection
    return None


def check_legacy(body: Any, max_version: tuple[int, int] = MAX_VERSION) -> Rejection | None:
    """What a legacy connector URL accepted: a MessageCard, the adaptive envelope, or `{"text": ...}`."""
    if not isinstance(body, dict):
        return Rejection(400, "BadPayload", "Bad payload received by generic incoming webhook.")
    if str(body.get("@type", "")).lower() == "messagecard":
        if not _non_empty(body.get("summary")) and not _non_empty(body.get("text")):
            return Rejection(400, "BadPayload", "Summary or Text is required.")
        return None
    if "attachments" in body or body.get("type") == "message":
        return check_envelope(body, max_version)
    if _non_empty(body.get("text")):
        return None
    return Rejection(400, "BadPayload", "Bad payload received by generic incoming webhook.")


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""
