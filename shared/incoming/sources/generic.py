"""Generic JSON (optionally shaped by a route template) and plain text.

Route ``settings["template"]`` (all keys optional, each a Jinja2 template string)::

    {"title": "...", "subtitle": "...", "text": "...", "status": "...",
     "facts": [{"name": "...", "value": "..."}] or {"Name": "..."},
     "buttons": [{"title": "...", "url": "..."}], "id": "..."}

Templates run in a bounded ``jinja2.sandbox.ImmutableSandboxedEnvironment``
(``shared.incoming.templating``: sizes, powers, ranges, loops and calls bounded; rendering stops
at the value limit) and render into card *values* (never into JSON text), so quotes, brackets
and newlines in the data cannot break a card. In ``text`` and ``facts`` the template is Markdown
and each ``{{ value }}`` shows literally (no link, mention or formatting from the data). The
payload is available as ``data`` and, when it is an object, its keys as top-level names. ``status``
renders to a word that sets both the colour (severity: good/warning/attention/accent/default, or
words such as success/failure/firing/resolved) and, when the word says what happened, the state
(firing, resolved, succeeded, failed, ... or any word of ``shared.incoming.vocabulary.STATES``).
``id`` names the event for de-duplication of retries (default: a hash of the body).

Without a template, a card is made from common field names (title/subject/summary, text/message/
description, status/state/severity) with the remaining scalar fields as facts and URL fields as
buttons. A fact whose value is an ISO 8601 time shows it in each reader's zone (``cards.times``).
Route ``settings["title"]`` sets the title of plain-text posts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.cards import times
from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    http_url,
    new_card,
    short,
    structured,
)
from shared.incoming.vocabulary import State, severity_of, state_of

if TYPE_CHECKING:
    from shared.cards.builders import Status

TITLE_KEYS = ("title", "subject", "summary", "name", "event", "alertname")
TEXT_KEYS = ("text", "message", "description", "body", "details")
STATUS_KEYS = ("status", "state", "level", "severity", "result", "conclusion")
MAX_VALUE = 2000
MAX_FACTS = 12
MAX_BUTTONS = 5

_STATUS_WORDS = {
    "GOOD": {"good", "ok", "success", "succeeded", "resolved", "passed", "green", "up", "healthy"},
    "WARNING": {
        "warning",
        "warn",
        "degraded",
        "partial",
        "partiallysucceeded",
        "cancelled",
        "canceled",
        "yellow",
    },
    "ATTENTION": {
        "attention",
        "error",
        "failure",
        "failed",
        "critical",
        "firing",
        "alert",
        "down",
        "red",
        "fatal",
    },
    "ACCENT": {"accent", "info", "information", "notice", "started", "running", "blue"},
}


#: the sender's words for our states besides the states themselves (``merged``, ``opened``, ...)
_STATE_WORDS: dict[str, State] = {
    "alert": "firing",
    "alerting": "firing",
    "success": "succeeded",
    "passed": "succeeded",
    "failure": "failed",
    "error": "failed",
    "canceled": "cancelled",
    "running": "started",
    "queued": "started",
}


def state_from(value: Any) -> State | None:
    """The state a status word names, or None (``warning``, ``info`` and the like name none)."""
    word = str(value or "").strip().lower()
    return state_of(word) or _STATE_WORDS.get(word)


def status_from(value: Any) -> Status:
    from shared.cards.builders import Status

    word = str(value or "").strip().lower()
    for name, words in _STATUS_WORDS.items():
        if word in words:
            return Status[name]
    return Status.DEFAULT


#: template fields whose output is Markdown (the data in them is escaped); the others are plain
MARKDOWN_FIELDS = ("text", "facts")


def render(source: Any, context: Mapping[str, Any], where: str, *, markdown: bool | None = None) -> str:
    """One template string rendered to a value; errors name the template field, never the data.

    A Markdown field (`MARKDOWN_FIELDS`) comes back as `markdown.Markdown`, its data escaped."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    from shared.cards.markdown import Markdown
    from shared.incoming import templating

    if not isinstance(source, str):
        raise SourceError("route template is invalid", [f"template.{where}: must be a string"])
    if markdown is None:
        markdown = where.split(".", 1)[0].split("[", 1)[0] in MARKDOWN_FIELDS
    try:
        rendered = short(
            templating.render_value(templating.compiled(source, markdown), context, MAX_VALUE), MAX_VALUE
        )
    except templating.TemplateLimit as exc:
        raise SourceError("route template went over a limit", [f"template.{where}: {exc}"]) from None
    except SecurityError:
        raise SourceError("route template is not allowed", [f"template.{where}: unsafe operation"]) from None
    except TemplateError as exc:
        raise SourceError("route template failed", [f"template.{where}: {short(exc, 200)}"]) from None
    except MemoryError:  # not the sender's 400: the worker is in trouble (the bounds missed a case)
        raise
    except Exception as exc:  # anything a filter raises on this data is the sender's 400
        raise SourceError(
            "route template failed on this payload", [f"template.{where}: {type(exc).__name__}"]
        ) from None
    return Markdown(rendered.strip()) if markdown else rendered.strip()


def template_problems(template: Any) -> list[str]:
    """What is wrong with a route template, found without a payload (the admin CLI asks before
    saving): its shape, its syntax, and a bound any payload would hit (a dry run on empty data)."""
    template = structured(template)
    if not isinstance(template, Mapping):
        return ["template: must be an object"]
    fields: list[tuple[str, Any]] = []
    for key, value in template.items():
        if key == "facts" and isinstance(value, Mapping):
            fields += [(f"facts.{name}", v) for name, v in value.items()]
        elif key in ("facts", "buttons") and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    return [f"template.{key}[{i}]: must be an object"]
                fields += [(f"{key}[{i}].{part}", v) for part, v in item.items()]
        else:
            fields.append((str(key), value))
    return [problem for where, source in fields for problem in _dry_run(source, where)]


def _dry_run(source: Any, where: str) -> list[str]:
    """A field's syntax, and a bound it hits on empty data (data-dependent failures are not
    problems here: a payload may well have what the template reads)."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    from shared.incoming import templating

    if not isinstance(source, str):
        return [f"template.{where}: must be a string"]
    try:
        template = templating.compiled(source, where.split(".", 1)[0].split("[", 1)[0] in MARKDOWN_FIELDS)
    except TemplateError as exc:
        return [f"template.{where}: {short(exc, 200)}"]
    try:
        templating.render_value(template, {"data": {}}, MAX_VALUE)
    except templating.TemplateLimit as exc:
        return [f"template.{where}: {exc}"]
    except SecurityError:
        return [f"template.{where}: unsafe operation"]
    except RecursionError:
        return [f"template.{where}: calls itself without end"]
    except MemoryError:
        return [f"template.{where}: needs more memory than there is"]
    except Exception:
        return []
    return []


def _context(data: Any) -> dict[str, Any]:
    context: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    context["data"] = data
    return context


def _templated(template: Mapping[str, Any], data: Any, ctx: BuildContext, body: bytes) -> Notice:
    context = _context(data)
    title = render(template.get("title", "{{ title or subject or 'Notification' }}"), context, "title")
    status_word = render(template["status"], context, "status") if "status" in template else None
    status = status_from(status_word)
    subtitle = render(template["subtitle"], context, "subtitle") if "subtitle" in template else None
    card = new_card(title or "Notification", status, subtitle or None)
    text = render(template["text"], context, "text") if "text" in template else ""
    if text:
        card.text(text)
    facts_spec = template.get("facts")
    pairs: list[tuple[str, str]] = []
    if isinstance(facts_spec, Mapping):
        for name, value in list(facts_spec.items())[:MAX_FACTS]:
            pairs.append((str(name), render(value, context, f"facts.{name}")))
    elif isinstance(facts_spec, list):
        for i, item in enumerate(facts_spec[:MAX_FACTS]):
            if not isinstance(item, Mapping):
                raise SourceError("route template is invalid", [f"template.facts[{i}]: must be an object"])
            pairs.append(
                (
                    render(item.get("name", ""), context, f"facts[{i}].name"),
                    render(item.get("value", ""), context, f"facts[{i}].value"),
                )
            )
    pairs = [(n, times.shown(v, v)) for n, v in pairs if n and v]  # a time: in the reader's zone
    if pairs:
        card.facts(pairs)
    first_url: str | None = None
    buttons = template.get("buttons") or []
    for i, item in enumerate(buttons[:MAX_BUTTONS] if isinstance(buttons, list) else []):
        if not isinstance(item, Mapping):
            raise SourceError("route template is invalid", [f"template.buttons[{i}]: must be an object"])
        url = http_url(render(item.get("url", ""), context, f"buttons[{i}].url"))
        label = render(item.get("title", "Open"), context, f"buttons[{i}].title") or "Open"
        if url:  # a link the data did not fill is left out rather than failing the post
            card.button(short(label, 60), url)
            first_url = first_url or url
    ident = render(template["id"], context, "id") if "id" in template else ""
    # The summary keeps the plain words (digests and filters escape what they show themselves).
    plain_text = short(render(template["text"], context, "text", markdown=False), 300) if text else ""
    return Notice(
        cards=[ctx.finish(card, status)],
        summary=Summary(
            title=title,
            severity=severity_of(status),
            state=state_from(status_word),
            source="generic",
            url=first_url,
            text=plain_text or None,
        ),
        dedupe_id=f"gen:{content_hash(ident) if ident else content_hash(body)}",
    )


def _first(data: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return key, value
    return None, None


def _default(data: Any, ctx: BuildContext, body: bytes) -> Notice:
    from shared.cards.markdown import escape

    if not isinstance(data, dict):
        text = short(data if isinstance(data, str) else _compact(data), MAX_VALUE)
        return _plain(str(ctx.settings.get("title") or "Notification"), text, ctx, body)
    title_key, title = _first(data, TITLE_KEYS)
    text_key, text = _first(data, TEXT_KEYS)
    status_key, status_value = _first(data, STATUS_KEYS)
    status = status_from(status_value)
    card = new_card(
        short(title or ctx.settings.get("title") or "Notification", 200),
        status,
        str(status_value) if status_value else None,
    )
    if text:
        card.text(escape(short(text, MAX_VALUE)))
    used = {title_key, text_key, status_key}
    facts: list[tuple[str, str]] = []
    urls: list[tuple[str, str]] = []
    for key, value in data.items():
        if key in used:
            continue
        url = http_url(value)
        if url:
            urls.append((key, url))
        elif isinstance(value, str) and times.local(value):
            facts.append((str(key), times.shown(value)))  # a time: in the reader's zone and format
        elif isinstance(value, (str, int, float, bool)) and str(value).strip():
            facts.append((str(key), escape(short(value, 300))))
        elif isinstance(value, (dict, list)) and value:
            facts.append((str(key), escape(short(_compact(value), 300))))
    if facts:
        card.facts(facts[:MAX_FACTS])
    for key, url in urls[:MAX_BUTTONS]:
        label = (
            "Open"
            if key.lower() in {"url", "link", "href"}
            else key.replace("_url", "").replace("_", " ").title()
        )
        card.button(short(label, 60), url)
    return Notice(
        cards=[ctx.finish(card, status)],
        summary=Summary(
            title=str(title or "Notification"),
            severity=severity_of(status),
            state=state_from(status_value),
            source="generic",
            url=urls[0][1] if urls else None,
            text=short(text, 300) if text else None,
        ),
        dedupe_id=f"gen:{content_hash(body)}",
    )


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _plain(title: str, text: str, ctx: BuildContext, body: bytes) -> Notice:
    from shared.cards.builders import Status
    from shared.cards.markdown import escape

    card = new_card(short(title, 200), Status.DEFAULT)
    if text.strip():
        card.text(escape(text))
    return Notice(
        cards=[ctx.finish(card, Status.DEFAULT)],
        summary=Summary(title=title, severity="default", source="text", text=short(text, 300) or None),
        dedupe_id=f"txt:{content_hash(body)}",
    )


class GenericSource:
    name = "generic"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ("text/plain",)

    def detect(self, req: Incoming) -> bool:
        return True

    def parse(self, req: Incoming) -> Any:
        if req.content_type == "text/plain":
            return _text_of(req)
        return req.data

    def build(self, parsed: Any, req: Incoming, ctx: BuildContext) -> Notice:
        template = structured(ctx.settings.get("template"))
        if template is not None and not isinstance(template, Mapping):
            raise SourceError("route template is invalid", ["template: must be an object"])
        if template:
            from shared.incoming.templating import one_budget

            with one_budget():  # all the fields of one post share one render's bounds
                return _templated(template, parsed, ctx, req.body)
        return _default(parsed, ctx, req.body)


def _text_of(req: Incoming) -> str:
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("body is not UTF-8 text", ["body: invalid UTF-8"]) from None
    if not text.strip():
        raise SourceError("empty message", ["body: must not be empty"])
    return text


class TextSource:
    """Plain text: the first line is the title unless the route sets one."""

    name = "text"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ("text/plain",)

    def detect(self, req: Incoming) -> bool:
        return req.content_type == "text/plain"

    def parse(self, req: Incoming) -> str:
        if req.content_type != "text/plain" and isinstance(req.data, dict):
            value = req.data.get("text")
            if not isinstance(value, str) or not value.strip():
                raise SourceError("not a valid text message", ["text: field required"])
            return value
        if req.content_type != "text/plain" and isinstance(req.data, str):
            return req.data
        return _text_of(req)

    def build(self, text: str, req: Incoming, ctx: BuildContext) -> Notice:
        title = ctx.settings.get("title")
        if title:
            return _plain(str(title), text, ctx, req.body)
        first, _, rest = text.strip().partition("\n")
        return _plain(short(first, 200), rest.strip(), ctx, req.body)


SOURCES = {"generic": GenericSource(), "text": TextSource()}
