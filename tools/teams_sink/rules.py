"""What a Teams channel does with a webhook body, as pure functions over the parsed body.

Legacy connector URLs answer at once (`check_legacy`, `Rejection`). A Workflows URL answers 202 to any JSON
and only then runs the flow, out of the sender's sight: `run_flow` says, per attachment as the template
posts them ("Send each adaptive card"), whether the channel would display it and if not why
(teams-platform.md §2.2, §3.5), so tests can see what production would hide.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.teams_sink.schema import CardSchema

ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28672
# The Workflows Flow bot displays Adaptive Cards up to 1.4; legacy connector URLs rendered 1.5.
WORKFLOW_MAX_VERSION = (1, 4)
LEGACY_MAX_VERSION = (1, 5)
MAX_VERSION_ENV = "TEAMS_SINK_MAX_VERSION"
MAX_USER_MENTIONS = 20
MAX_TAG_MENTIONS = 20
SUPPORTED_ACTION = "Action.OpenUrl"

# What the channel shows for an attachment the flow did not display.
SHOWN_NOTHING = "nothing (the flow run failed)"
SHOWN_ERROR = "\"We're sorry, this card couldn't be displayed\""
SHOWN_BROKEN = "the card, but its buttons answer \"Something went wrong\""

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


def workflow_max_version(environ: dict[str, str] | None = None) -> tuple[int, int]:
    """The highest card version a Workflows channel displays: 1.4, or $TEAMS_SINK_MAX_VERSION (e.g. 1.5 to
    simulate what senders assumed before the Flow bot's limit was known)."""
    raw = (os.environ if environ is None else environ).get(MAX_VERSION_ENV, "").strip()
    if not raw:
        return WORKFLOW_MAX_VERSION
    version = parse_version(raw)
    if version is None:
        raise ValueError(f"{MAX_VERSION_ENV} must be a version like 1.4, got {raw[:20]!r}")
    return version


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def check_card(
    content: Any, index: int, max_version: tuple[int, int] = LEGACY_MAX_VERSION
) -> Rejection | None:
    """One attachment's `content` on a legacy URL: an AdaptiveCard whose version it renders (<= 1.5)."""
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


def check_envelope(body: Any, max_version: tuple[int, int] = LEGACY_MAX_VERSION) -> Rejection | None:
    """The Adaptive Card envelope on a legacy URL: `type: message` and a non-empty list of Adaptive Card
    attachments, refused at once (Workflows decides the same things after its 202: `run_flow`)."""
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


def check_legacy(body: Any, max_version: tuple[int, int] = LEGACY_MAX_VERSION) -> Rejection | None:
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


# --- Workflows: what the flow does after its 202 --------------------------------------------------------

# How a problem shows in the channel, most severe first.
FAILED_RUN = "failed-run"  # the run fails before or while posting: nothing appears
NOT_RENDERED = "not-rendered"  # posted, but Teams shows its error text in place of the card
BROKEN_ACTION = "broken-action"  # posted, but a button cannot work
_SHOWN = {FAILED_RUN: SHOWN_NOTHING, NOT_RENDERED: SHOWN_ERROR, BROKEN_ACTION: SHOWN_BROKEN}


@dataclass(frozen=True)
class Problem:
    """Why one attachment is not displayed: a short code, the reason in words, and how it shows."""

    code: str
    message: str
    effect: str


@dataclass
class Post:
    """One message the flow posts (one per attachment), or the one failure of a run that posts none."""

    attachment: int | None
    card: Any
    size: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def displayed(self) -> bool:
        return not self.problems

    @property
    def shown(self) -> str:
        """What a person looking at the channel sees for it."""
        if not self.problems:
            return "the card"
        order = [FAILED_RUN, NOT_RENDERED, BROKEN_ACTION]
        return _SHOWN[min((p.effect for p in self.problems), key=order.index)]


@dataclass(frozen=True)
class FlowRules:
    """The limits a simulated Workflows channel applies; `schema` None skips the schema rule."""

    max_version: tuple[int, int] = WORKFLOW_MAX_VERSION
    max_bytes: int = MAX_BYTES
    schema: CardSchema | None = None


def dumps(obj: Any) -> bytes:
    """The app's serialisation (shared.cards.envelopes.dumps): compact UTF-8, so sizes compare equal."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def attachment_size(attachment: Any) -> int:
    """Bytes of the one-card message the flow posts for this attachment, measured as the app measures its
    envelopes (shared.cards.limits.message_size): `{"type":"message","attachments":[...]}`, compact."""
    return len(dumps({"type": "message", "attachments": [attachment]}))


def run_flow(body: Any, rules: FlowRules) -> list[Post]:
    """What the template flow does with an accepted body: one Post per attachment, in order."""
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(attachments, list):
        kind = json_type_name(attachments)
        problem = Problem(
            "InvalidTemplate",
            "The execution of template action 'Send_each_adaptive_card' failed: the result of the evaluation "
            "of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' is of type "
            f"'{kind}'. The result must be a valid array. (attachments is {kind})",
            FAILED_RUN,
        )
        return [Post(None, None, 0, [problem])]
    if not attachments:
        problem = Problem(
            "NoAttachments", "The 'attachments' array is empty: the flow posts nothing.", FAILED_RUN
        )
        return [Post(None, None, 0, [problem])]
    return [_checked_post(index, attachment, rules) for index, attachment in enumerate(attachments)]


def _checked_post(index: int, attachment: Any, rules: FlowRules) -> Post:
    """`_post`, except that a card nested deeper than Python recursion allows is refused, not a crash."""
    try:
        return _post(index, attachment, rules)
    except RecursionError:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        problem = Problem(
            "CardTooDeep", f"attachments[{index}]: the card is nested too deeply to be checked", NOT_RENDERED
        )
        return Post(index, content, 0, [problem])


def _post(index: int, attachment: Any, rules: FlowRules) -> Post:
    where = f"attachments[{index}]"
    if not isinstance(attachment, dict):
        problem = Problem(
            "InvalidAttachment", f"{where} must be an object, not {json_type_name(attachment)}", FAILED_RUN
        )
        return Post(index, None, attachment_size(attachment), [problem])
    content = attachment.get("content")
    post = Post(index, content, attachment_size(attachment))
    content_type = attachment.get("contentType")
    if content_type != ADAPTIVE_CONTENT_TYPE:
        post.problems.append(
            Problem(
                "InvalidAttachment",
                f"{where}.contentType must be '{ADAPTIVE_CONTENT_TYPE}', got {json.dumps(content_type)[:80]}",
                FAILED_RUN,
            )
        )
    where += ".content"
    if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
        post.problems.append(
            Problem("InvalidAdaptiveCard", f"Property 'type' must be 'AdaptiveCard' ({where})", FAILED_RUN)
        )
        return post
    if post.size > rules.max_bytes:
        post.problems.append(
            Problem(
                "MessageSizeExceeded",
                f"Request Entity too large: the message for {where} is {post.size} bytes, whereas max "
                f"allowed size is {rules.max_bytes} bytes",
                FAILED_RUN,
            )
        )
    post.problems.extend(_mention_problems(content, where, rules))
    post.problems.extend(_version_problems(content, where, rules))
    post.problems.extend(_action_problems(content, where))
    if rules.schema is not None:
        post.problems.extend(
            Problem("SchemaViolation", text, NOT_RENDERED) for text in rules.schema.problems(content, where)
        )
    return post


def _version_problems(card: dict[str, Any], where: str, rules: FlowRules) -> list[Problem]:
    raw = card.get("version")
    limit = version_text(rules.max_version)
    if raw is None:
        return [Problem("CardVersion", f"{where}: property 'version' is required", NOT_RENDERED)]
    version = parse_version(raw)
    if version is None:
        shown = json.dumps(raw)[:40]
        text = f"{where}: 'version' must be a string like '{limit}', got {shown}"
        return [Problem("CardVersion", text, NOT_RENDERED)]
    if version > rules.max_version:
        return [
            Problem(
                "CardVersion",
                f"{where}: card version '{raw}' is above {limit}, the highest the Workflows Flow bot "
                "displays",
                NOT_RENDERED,
            )
        ]
    return []


def _walk(root: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in a card with its JSON path, in document order; `data` (free-form) and `msteams` are
    not card structure. Iterative, so depth costs no stack."""
    stack: list[tuple[str, Any]] = [(where, root)]
    while stack:
        path, node = stack.pop()
        children: list[tuple[str, Any]] = []
        if isinstance(node, dict):
            yield path, node
            children = [
                (f"{path}.{key}", value)
                for key, value in node.items()
                if key not in ("data", "msteams") and isinstance(value, dict | list)
            ]
        elif isinstance(node, list):
            children = [(f"{path}[{index}]", value) for index, value in enumerate(node)]
        stack.extend(reversed(children))


def _action_problems(card: dict[str, Any], where: str) -> list[Problem]:
    """Anything but Action.OpenUrl, anywhere: card actions, ActionSets, selectActions, ShowCard contents."""
    problems = []
    for path, node in _walk(card, where):
        kind = node.get("type")
        if isinstance(kind, str) and kind.lower().startswith("action.") and kind != SUPPORTED_ACTION:
            problems.append(
                Problem(
                    "UnsupportedAction",
                    f"{path}: {kind} does not work on cards the Workflows Flow bot posts "
                    f"(only {SUPPORTED_ACTION})",
                    BROKEN_ACTION,
                )
            )
    return problems


def _mention_problems(card: dict[str, Any], where: str, rules: FlowRules) -> list[Problem]:
    msteams = card.get("msteams")
    entities = msteams.get("entities") if isinstance(msteams, dict) else None
    if not isinstance(entities, list):
        return []
    mentions = [e for e in entities if isinstance(e, dict) and e.get("type") == "mention"]
    tags = sum(
        1
        for e in mentions
        if isinstance(e.get("mentioned"), dict) and str(e["mentioned"].get("type", "")).lower() == "tag"
    )
    users = len(mentions) - tags
    problems = []
    for count, limit, what in ((users, MAX_USER_MENTIONS, "user"), (tags, MAX_TAG_MENTIONS, "tag")):
        if count > limit:
            problems.append(
                Problem(
                    "TooManyMentions",
                    f"{where}.msteams.entities: {count} {what} mentions, more than the {limit} a "
                    "message may carry",
                    FAILED_RUN,
                )
            )
    return problems
