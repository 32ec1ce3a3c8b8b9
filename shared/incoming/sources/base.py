"""The one interface every incoming source implements, and the small types they share.

A source is one module exposing ``SOURCES: dict[str, Source]``, listed in the registry of
``shared.incoming.sources`` (its docstring says how to add one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.cards.links import http_url as http_url  # the sources' import of the one link rule
from shared.incoming.vocabulary import Severity, State
from shared.web import Reply

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status

#: a built Adaptive Card as plain JSON data (the builders work on dicts to keep cold starts light)
Card = dict[str, Any]

JSON_TYPES = ("application/json", "text/json")


class SourceError(Exception):
    """The payload cannot be read by this source; becomes a 400 naming the field."""

    def __init__(self, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail


@dataclass(frozen=True)
class Incoming:
    """What a source sees of a request: headers lower-cased, the raw body and the decoded JSON."""

    headers: Mapping[str, str]
    body: bytes
    data: Any = None
    content_type: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """A query parameter whatever its case (SharePoint writes ``validationtoken``)."""
        wanted = name.lower()
        return next((v for k, v in self.query.items() if k.lower() == wanted), None)


@dataclass
class Summary:
    """The small record kept for digests (store.events), route filters and logs.

    ``severity`` is the card's colour and ``state`` what happened, each in its fixed vocabulary
    (``shared.incoming.vocabulary``), so filters and digests read every sender the same way.
    """

    title: str
    severity: Severity
    source: str
    state: State | None = None
    url: str | None = None
    text: str | None = None
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "severity": self.severity,
            "state": self.state,
            "source": self.source,
            "time": self.time,
            "url": self.url,
            "text": self.text,
        }


@dataclass
class Notice:
    """What a source produces: the cards to post, a digest summary and how to spot a retry."""

    cards: list[Card]
    summary: Summary
    dedupe_id: str | None = None
    dedupe_window: int | None = None
    #: a second key for the same post, when ``dedupe_id`` comes from an unsigned header: the hash
    #: of the (signed) body, so a captured post replayed under a new id is recognised too
    replay_id: str | None = None
    #: what happened, for route filters (``push``, ``pull_request.opened``, ``build.complete``, ...)
    event: str | None = None


@dataclass
class BuildContext:
    """Route settings a source needs while building, plus the enrichment hook (mentions)."""

    route_name: str
    settings: Mapping[str, Any]
    finish: Callable[[CardBuilder, Status], Card]


class Source(Protocol):
    """detect / parse / build; authentication is per route (``shared.incoming.auth``)."""

    name: str
    #: the sender expects the legacy connector answer (`200` + `1`) instead of `202`
    legacy_reply: bool
    #: content types accepted besides JSON
    extra_content_types: tuple[str, ...]

    def detect(self, req: Incoming) -> bool: ...

    def parse(self, req: Incoming) -> Any: ...

    def build(self, parsed: Any, req: Incoming, ctx: BuildContext) -> Notice: ...


@runtime_checkable
class Handshakes(Protocol):
    """Optional: a source whose sender checks the URL before posting (SharePoint's validation).

    Called after the route is found and before authentication (the vendor sends the check without
    its credential) and before the body is decoded. Return the answer, or None for a normal post.
    """

    def handshake(self, req: Incoming) -> Reply | None: ...


@runtime_checkable
class Answers(Protocol):
    """Optional: a source whose sender reads the answer's body (Salesforce's SOAP acknowledgement).

    Every answer of the pipeline on a route of this source, success or refusal, passes through
    ``answer``; it may change the body and content type, and a 2xx into the success its sender
    expects, but a refusal must stay a refusal of the same status (the sender retries on it).
    Sources without it answer the pipeline's JSON.
    """

    def answer(self, reply: Reply) -> Reply: ...


class Payload(BaseModel):
    """Base of the pydantic models of third-party payloads: tolerant of extra fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False)


M = TypeVar("M", bound=BaseModel)


def field_path(loc: Iterable[int | str]) -> str:
    """pydantic's loc tuple as ``alerts[0].labels``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_detail(exc: ValidationError, limit: int = 10) -> list[str]:
    """Field-named messages ("alerts[0].labels: field required"); input values are never echoed."""
    messages = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        msg = str(err.get("msg", "invalid")).replace("Field required", "field required")
        messages.append(f"{field_path(err.get('loc', ()))}: {msg}")
    return messages


def validate(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` or raise SourceError naming every wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SourceError(f"not a valid {what} payload", validation_detail(exc)) from None


STATUS_ICONS = {"GOOD": "✅", "ATTENTION": "🔴", "WARNING": "⚠️", "ACCENT": "🔵", "DEFAULT": "ℹ️"}


def status_name(status: Status) -> str:
    return str(getattr(status, "name", status)).upper()


def titled(title: str, status: Status) -> str:
    """Title with the status icon, so the state reads at a glance even without colour."""
    icon = STATUS_ICONS.get(status_name(status), "")
    return f"{icon} {title}" if icon else title


def new_card(title: str, status: Status, subtitle: str | None = None) -> CardBuilder:
    """A card whose title, subtitle and facts (sender data) render literally, never as Markdown."""
    from shared.cards.builders import CardBuilder
    from shared.cards.markdown import escape

    return CardBuilder(
        titled(escape(title), status),
        status=status,
        subtitle=escape(subtitle) if subtitle else None,
        literal_facts=True,
    )


def content_hash(*parts: bytes | str) -> str:
    """A short hash of sender text; ``surrogatepass`` so that no text can make it raise."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def short(text: Any, limit: int = 600) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def first_line(text: str | None, limit: int = 150) -> str:
    """The first non-blank line, shortened: titles and summaries from commit messages and bodies."""
    lines = (text or "").strip().splitlines()
    return short(lines[0], limit) if lines else ""


@lru_cache(maxsize=4096)
def literal(text: str) -> str:
    """``markdown.escape``, remembered: label names and values recur in every post of a sender."""
    from shared.cards.markdown import escape

    return escape(text)


def facts_of(mapping: Mapping[str, Any] | None, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    if not mapping:
        return []
    skipped = set(skip)
    return [
        (literal(str(k)), literal(short(v, 300)))
        for k, v in mapping.items()
        if k not in skipped and v not in (None, "")
    ]


def structured(value: Any) -> Any:
    """A route setting that may hold JSON text (the admin CLI stores ``--setting KEY=VALUE`` as text)."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def int_setting(settings: Mapping[str, Any], name: str, default: int, low: int = 1, high: int = 10**6) -> int:
    """A whole-number route setting (the admin CLI stores text); a bad value falls back to the default.

    An operator's typo must not turn every post of the route into an error for the sender.
    """
    value = settings.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def flag(value: Any, default: bool = True) -> bool:
    """A boolean route setting given as a bool or as text."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() not in {"false", "0", "no", "off"}
    return bool(value)
