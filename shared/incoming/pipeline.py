"""The incoming-proxy pipeline: route lookup, sender auth, limits, parse, enrich, de-duplicate,
then deliver (immediate) or buffer (digest).

The promise to senders: a 2xx means we hold the message (delivered, or in the outbox, or buffered
for a digest); anything we could not keep gets a 503 with ``Retry-After`` so the sender retries;
a retried post is answered 2xx but not shown twice. Bad input gets a 4xx with a JSON body naming
the problem, never the route's secret.

Route settings read here (the sources document their own):

- ``mentions``: ``[{"id": "<UPN or Entra object id>", "name": "Display Name"}]``, added to every
  card as ``<at>`` mentions (``msteams.entities``); the first 20 only (Teams' limit per message,
  counting a pass-through card's own mentions);
- ``mention_statuses``: only mention on these severities (``attention``, ``warning``, ...: the card's
  colour, ``shared.incoming.vocabulary.SEVERITIES``);
- ``dedupe_window_seconds``: how long a retry is recognised (default 900 s; GitHub deliveries 24 h);
  ``dedupe: false`` turns recognition off;
- ``hmac_header``: header of the ``hmac`` auth mode.

Route filters (``shared.incoming.filters``): ``{"event": ["push", "pull_request.*"], "severity":
["attention"], "state": ["firing"]}``; a post that does not match is acknowledged (202 ``filtered``,
or the legacy ``1``) and dropped.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from shared.incoming.filters import matches
from shared.incoming.sources.base import (
    Answers,
    BuildContext,
    Card,
    Handshakes,
    Incoming,
    Notice,
    SourceError,
    flag,
    int_setting,
    structured,
)
from shared.store.models import ROUTE_NAME
from shared.web import MAX_BODY_BYTES, Reply, error, json_reply, log_failure, over_limit, unavailable

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status
    from shared.delivery import Acceptances
    from shared.idempotency import Scope
    from shared.incoming.sources.base import Source
    from shared.store import Store
    from shared.store.models import Route, Subscription

log = logging.getLogger("shared.incoming.pipeline")

MAX_JSON_DEPTH = 64
#: user mentions per message (Teams: 20 users and 20 tags; ``shared.cards.workflows`` refuses more)
MAX_MENTIONS = 20
DEFAULT_DEDUPE_WINDOW = 900
IN_PROGRESS_RETRY_SECONDS = 10
# How long a claim holds a post's key before its completion, at least: short, so that after a crash
# the sender's retry is delivered within minutes; longer when the post's delivery may take longer.
CLAIM_LEASE_SECONDS = 120
JSON_CONTENT_TYPES = ("application/json", "text/json")
FORM = "application/x-www-form-urlencoded"
#: bodies decoded by their source, not as JSON (a source accepts them in ``extra_content_types``)
RAW_TYPES = ("text/plain", "text/xml", "application/xml", "application/soap+xml")


class Refusal(Exception):
    """Stop the pipeline with this reply; ``reason`` is for our log and the admin preview only."""

    def __init__(self, reply: Reply, reason: str | None = None) -> None:
        super().__init__(reply.status)
        self.reply = reply
        self.reason = reason


LEGACY_OK = Reply(200, b"1", "text/plain")
#: The one answer to a sender who is not let in, whatever the reason: missing or wrong credentials,
#: a misconfigured route, or no route of that name at all. It names no scheme (no WWW-Authenticate)
#: and no reason, so a stranger cannot tell which routes exist or how they are guarded. The reason
#: is logged (secret-free) for the operator, and `admin preview` shows it.
UNAUTHORIZED = error(401, "unauthorized", "missing or wrong credentials for this route")


# --- request checks ---------------------------------------------------------------------------


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_size(headers: Mapping[str, str], body: bytes) -> None:
    if over_limit(headers.get("content-length"), body):
        raise Refusal(error(413, "body too large", f"the limit is {MAX_BODY_BYTES} bytes"))


def check_content_type(ctype: str, source: Source) -> None:
    if (
        ctype == ""
        or ctype in JSON_CONTENT_TYPES
        or ctype.endswith("+json")
        or ctype in source.extra_content_types
    ):
        return
    accepted = list(JSON_CONTENT_TYPES) + list(source.extra_content_types)
    raise Refusal(error(415, "unsupported content type", f"send one of: {', '.join(accepted)}"))


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Iterative, so a hostile nesting cannot blow the stack here either."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return True


def decode_body(ctype: str, body: bytes) -> Any:
    """The JSON document of the request (None for plain text and XML, which their sources read)."""
    if ctype in RAW_TYPES:
        return None
    raw: bytes | str = body
    if ctype == FORM and body.lstrip().removeprefix(b"\xef\xbb\xbf")[:1] in (b"{", b"["):
        pass  # `curl -d '{...}'` without a Content-Type header: curl calls it a form, the body is JSON
    elif ctype == FORM:
        try:
            values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=50).get("payload")
        except ValueError:  # more fields than max_num_fields
            raise Refusal(error(400, "form body has too many fields", ["body: at most 50 fields"])) from None
        if not values:
            raise Refusal(error(400, "form body without a payload field", ["payload: field required"]))
        raw = values[0]
    if not raw or (isinstance(raw, bytes) and not raw.strip()):
        raise Refusal(error(400, "empty body", ["body: a JSON document is required"]))
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Refusal(error(400, "body is not UTF-8", ["body: invalid UTF-8"])) from None
    except json.JSONDecodeError as exc:
        raise Refusal(
            error(400, "body is not valid JSON", [f"body: {exc.msg} at line {exc.lineno} column {exc.colno}"])
        ) from None
    except RecursionError:
        raise Refusal(
            error(400, "JSON nested too deeply", [f"body: more than {MAX_JSON_DEPTH} levels"])
        ) from None
    except NonFinite as exc:
        raise Refusal(error(400, "body has a number JSON does not allow", [f"body: {exc}"])) from None
    except ValueError:  # int() refuses literals of more than sys.get_int_max_str_digits() digits
        raise Refusal(error(400, "body has a number too long", [_long_number(text)])) from None
    if not json_depth_ok(data):
        raise Refusal(error(400, "JSON nested too deeply", [f"body: more than {MAX_JSON_DEPTH} levels"]))
    if SURROGATE_ESCAPE.search(text):  # only a \uD800-\uDFFF escape can make a lone surrogate
        where = lone_surrogate(data)
        if where is not None:
            problem = f"{where}: a lone surrogate escape is not a character"
            raise Refusal(error(400, "text is not valid Unicode", [problem]))
    return data


class NonFinite(ValueError):
    """`NaN`, `Infinity` or a literal such as `1e999`: Python's json reads them as floats that are
    not numbers (`int(inf)` raises, comparisons lie); JSON itself has no such values."""


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise NonFinite(f"the number {literal[:40]!r} is too large for a float")
    return value


def _no_constant(name: str) -> float:
    raise NonFinite(f"{name} is not a JSON number")


#: JSON escapes of UTF-16 surrogates: a pair is one character, a lone one cannot be sent anywhere
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
DIGITS = re.compile(r"[0-9]+")  # each run matched once, whole: linear in the text


def _long_number(text: str) -> str:
    limit = sys.get_int_max_str_digits()
    found = next((run for run in DIGITS.finditer(text) if run.end() - run.start() > limit), None)
    if found is None:
        return f"body: a number has more than {limit} digits"
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return f"body: a number of more than {limit} digits at line {line} column {column}"


def _broken(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate(value: Any) -> str | None:
    """The path (``alerts[0].labels.x``) of the first key or text holding a lone surrogate, or None.

    Such text cannot be encoded as UTF-8: not hashed, stored or posted. Refused up front, it is a
    400 naming the field instead of a failure after the sender was told 202.
    """
    stack: list[tuple[Any, str]] = [(value, "body")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _broken(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if _broken(key):
                    return f"{where} (a key)"
                name = key if len(key) <= 40 else key[:39] + "…"  # the path is shown: bounded
                stack.append((child, name if where == "body" else f"{where}.{name}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


# --- enrichment --------------------------------------------------------------------------------


def _mentions(settings: Mapping[str, Any], status: str) -> list[tuple[str, str]]:
    wanted = structured(settings.get("mention_statuses"))
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    if isinstance(wanted, list) and wanted and status.lower() not in {str(s).lower() for s in wanted}:
        return []
    found = []
    mentions = structured(settings.get("mentions"))
    for item in mentions if isinstance(mentions, list) else []:
        if isinstance(item, Mapping) and item.get("id"):
            found.append((str(item["id"]), str(item.get("name") or item["id"])))
    if len(found) > MAX_MENTIONS:  # Teams shows at most 20 user mentions per message
        log.warning("route mentions capped at %d of %d", MAX_MENTIONS, len(found))
        found = found[:MAX_MENTIONS]
    return found


def finisher(settings: Mapping[str, Any], finished: set[int]) -> Any:
    """The BuildContext.finish hook: adds the route's mentions, then builds the card.

    Built cards are recorded in ``finished`` so that they are not given the mentions twice.
    """

    def finish(builder: CardBuilder, status: Status) -> Card:
        markups = []
        for user, name in _mentions(settings, str(getattr(status, "name", status))):
            try:
                markups.append(builder.mention(user, name))
            except ValueError:
                log.warning("route mention skipped: not a UPN or object id")
        if markups:
            builder.text("cc " + " ".join(markups))
        card: Card = builder.build()
        finished.add(id(card))
        return card

    return finish


def mention_card(card: Card, settings: Mapping[str, Any]) -> Card:
    """Mentions for cards that were not built here (pass-through, MessageCard conversion)."""
    from shared.cards.builders import CardBuilder, text_block
    from shared.cards.workflows import mention_counts

    people = _mentions(settings, "default")
    room = MAX_MENTIONS - mention_counts(card)[0]  # the sender's own mentions count too
    if len(people) > max(0, room):
        log.warning("route mentions capped: the card already mentions users")
        people = people[: max(0, room)]
    if not people:
        return card
    helper = CardBuilder("x")
    markups = []
    for user, name in people:
        try:
            markups.append(helper.mention(user, name))
        except ValueError:
            log.warning("route mention skipped: not a UPN or object id")
    if not markups:
        return card
    helper_card = helper.build()
    out = dict(card)
    out["body"] = [*(card.get("body") or []), text_block("cc " + " ".join(markups))]
    msteams = dict(out.get("msteams") or {})
    msteams["entities"] = [*(msteams.get("entities") or []), *helper_card["msteams"]["entities"]]
    out["msteams"] = msteams
    return out


def passes_filters(filters: Mapping[str, Any], notice: Notice) -> bool:
    """The route's filters (``shared.incoming.filters``) applied to a built notice."""
    summary = notice.summary
    return matches(filters, event=notice.event, severity=summary.severity, state=summary.state)


# --- the pipeline -----------------------------------------------------------------------------


@dataclass
class Prepared:
    """A request turned into cards, before anything is stored or sent."""

    source: Source
    notice: Notice


def prepare(
    route: Route, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None
) -> Prepared:
    """Authenticate, check, parse and build (no network): what the in-process benchmark times.

    ``headers`` must have lower-case names. Raises Refusal with the 4xx to answer.
    """
    from shared.incoming import auth, sources

    try:
        auth.authenticate(route.auth, route.secret, headers, body, query or {}, route.settings)
    except auth.AuthError as exc:
        raise Refusal(UNAUTHORIZED, exc.message) from None
    except auth.AuthConfigError:
        log.error("route %s has an unusable auth configuration", route.name)
        raise Refusal(UNAUTHORIZED, "the route's authentication is misconfigured") from None

    ctype = media_type(headers)
    auto = (route.source or "").lower() == "auto"
    try:
        source = sources.get("generic" if auto else route.source)
    except sources.UnknownSource:
        raise Refusal(error(400, "route source is not supported", f"source {route.source!r}")) from None
    check_content_type(ctype, source if not auto else sources.get("generic"))
    data = decode_body(ctype, body)
    incoming = Incoming(headers=headers, body=body, data=data, content_type=ctype, query=query or {})
    if auto:
        source = sources.detect(incoming)

    try:
        parsed = source.parse(incoming)
        finished: set[int] = set()
        settings = route.settings or {}
        ctx = BuildContext(route_name=route.name, settings=settings, finish=finisher(settings, finished))
        notice = source.build(parsed, incoming, ctx)
    except SourceError as exc:
        raise Refusal(error(400, exc.error, exc.detail)) from None
    except auth.AuthError as exc:  # a credential inside the payload (Salesforce's organisation id)
        raise Refusal(UNAUTHORIZED, exc.message) from None
    notice.cards = [card if id(card) in finished else mention_card(card, settings) for card in notice.cards]
    check_sendable(notice.cards)
    return Prepared(source, notice)


def check_sendable(cards: list[Card]) -> None:
    """Refuse (400) a card delivery could not fit or serialise, before the sender is told 202.

    Delivery's steps (``shared.delivery.parts.make_parts``) but its conversion to the Workflows
    form, which every card here has had already: pass-through cards and MessageCards in their
    source, built cards are that form by construction. So a card that passes is never lost to
    Teams' rules, the size cap or an encoding error after the answer.
    """
    from shared.cards import envelopes, limits
    from shared.delivery.config import Config

    max_bytes = Config.load().max_bytes
    for number, card in enumerate(cards, start=1):
        where = f"card {number} of {len(cards)}" if len(cards) > 1 else "card"
        try:
            limits.check_webhook(card)
            for part in limits.fit(card, max_bytes=max_bytes):
                envelopes.dumps(envelopes.workflows_message(part))
        except limits.CardRuleError as exc:
            problem = f"{where}: {_first_line(exc)}"
            raise Refusal(error(400, "card cannot be sent to Teams", [problem])) from None
        except UnicodeEncodeError:  # text made from the body, a template or a setting
            raise Refusal(
                error(400, "text is not valid Unicode", [f"{where}: holds a lone surrogate"])
            ) from None
        except (TypeError, ValueError) as exc:
            raise Refusal(
                error(400, "card cannot be sent to Teams", [f"{where}: {type(exc).__name__}"])
            ) from None


def _first_line(exc: Exception, limit: int = 300) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def handle(
    route_name: str,
    headers: Mapping[str, str],
    body: bytes,
    query: Mapping[str, str] | None = None,
    *,
    store: Store | None = None,
    method: str = "POST",
) -> Reply:
    """Answer one POST (or HEAD) to ``/api/incoming/{route_name}``."""
    from shared.store.errors import StoreUnavailable

    started = time.perf_counter()
    if method.upper() == "HEAD":
        # Trello checks a callback URL with a HEAD before it creates a webhook. Answered alike for
        # every name, with nothing read or done: it tells a stranger nothing about the routes.
        return Reply(200, b"", "text/plain")
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        reply = _handle(route_name, lowered, body, query or {}, store)
    except Refusal as refusal:
        reply = refusal.reply
        if refusal.reason:  # secret-free by construction; the route name is bounded and quoted
            log.info("incoming %r: %d because %s", route_name[:64], reply.status, refusal.reason)
    except StoreUnavailable:
        log.warning("incoming %r: store unavailable, answering 503", route_name[:64])
        reply = unavailable()
    except Exception as exc:  # a bug must not leak a stack trace (or a secret) to the sender
        log_failure(log, f"incoming {route_name[:64]!r} failed unexpectedly", exc)
        reply = error(500, "internal error")
    # The name comes from the URL: bounded and quoted, so it cannot forge or flood log lines.
    elapsed = (time.perf_counter() - started) * 1000
    log.info("incoming %r: %d in %.1f ms", route_name[:64], reply.status, elapsed)
    return reply


def _lookup(
    store: Store, route_name: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
) -> Route:
    """The route, or the answer of a known route to wrong credentials (see ``UNAUTHORIZED``)."""
    from shared.incoming import auth

    # Busy senders cost no route read per post; a changed route takes effect within seconds.
    route = store.routes.find_recent(route_name) if ROUTE_NAME.match(route_name or "") else None
    if route is None:
        auth.decoy(headers, body, query)  # the work a wrong credential costs, for like timing
        raise Refusal(UNAUTHORIZED, "no route of that name")
    return route


def _handle(
    route_name: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], store: Store | None
) -> Reply:
    check_size(headers, body)
    if store is None:
        from shared.store import open_store

        store = open_store()
    from shared.store.errors import StoreUnavailable

    route = _lookup(store, route_name, headers, body, query)
    hooks = _hooks(route)
    if hooks is None:
        return _accept(store, route, headers, body, query)
    try:
        if isinstance(hooks, Handshakes):
            incoming = Incoming(headers=headers, body=body, content_type=media_type(headers), query=query)
            answered = hooks.handshake(incoming)
            if answered is not None:
                return answered
        reply = _accept(store, route, headers, body, query)
    except StoreUnavailable:
        log.warning("incoming %r: store unavailable, answering 503", route.name)
        reply = unavailable()
        return hooks.answer(reply) if isinstance(hooks, Answers) else reply
    except Refusal as refusal:
        shaped = hooks.answer(refusal.reply) if isinstance(hooks, Answers) else refusal.reply
        raise Refusal(shaped, refusal.reason) from None
    return hooks.answer(reply) if isinstance(hooks, Answers) else reply


def _hooks(route: Route) -> Source | None:
    """The route's source when it answers some requests itself (``base.Handshakes``/``Answers``).

    ``auto`` routes never do: a handshake comes before the body that would name the sender.
    """
    from shared.incoming import sources

    if (route.source or "").lower() == "auto":
        return None
    try:
        source = sources.get(route.source)
    except sources.UnknownSource:
        return None  # prepare answers the 400
    return source if isinstance(source, (Handshakes, Answers)) else None


def _accept(
    store: Store, route: Route, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
) -> Reply:
    """Prepare, filter, de-duplicate, then deliver or buffer: the walk of every post."""
    prepared = prepare(route, headers, body, query)
    notice = prepared.notice
    legacy = prepared.source.legacy_reply
    settings = route.settings or {}

    if not passes_filters(route.filters or {}, notice):
        # What the filters saw, so whoever set them can tell why a post was dropped.
        seen = {"event": notice.event, "severity": notice.summary.severity, "state": notice.summary.state}
        answer = {"status": "filtered", **{k: v for k, v in seen.items() if v is not None}}
        return LEGACY_OK if legacy else json_reply(202, answer)

    from shared.delivery import Acceptances, inline_seconds
    from shared.idempotency import Scope

    followers: list[Subscription] = []
    if route.mode == "digest":
        # A post no subscription follows would be kept nowhere: say so instead of "buffered".
        followers = store.subscriptions.following_route(route.name)
        if not followers:
            raise Refusal(
                error(409, "no subscription follows this route", "the route is in digest mode"),
                "digest route without a following subscription",
            )
    elif not route.channels:
        raise Refusal(error(409, "route has no target channels", f"route {route.name!r}"))

    keys = Scope(store, f"incoming:{route.name}")
    key = notice.dedupe_id if flag(settings.get("dedupe")) else None
    replay: str | None = None
    message_key: str | None = None
    if key:
        window = int_setting(
            settings, "dedupe_window_seconds", notice.dedupe_window or DEFAULT_DEDUPE_WINDOW, high=30 * 86400
        )
        # Delivery remembers accepted parts by this key for days. The window's number in it lets a
        # retry after a failure skip the channels that already have the card, while the same post
        # sent again after the window (Alertmanager's repeat_interval, a daily script) is shown again.
        message_key = f"{key}@{int(time.time() // window)}"
        # The lease must outlast the delivery: the ledger below relies on nobody else sending.
        lease = max(CLAIM_LEASE_SECONDS, inline_seconds(len(notice.cards), len(route.channels)) + 30)
        if route.mode != "digest":
            # The channels' budget slots are taken while the claim's round trip runs (a duplicate
            # leaves its slot to the next post, or loses it): one round trip of wait, not two.
            from shared.delivery import budget

            budget.prefetch(store, route.channels)
        # The record holding the key comes back with the failed claim: no second read to classify it.
        claim = keys.acquire(key, lease, {"message": message_key})
        if not claim.held:
            if claim.in_progress:
                # The first attempt is still being handled (or died mid-way): ask for a later retry.
                return unavailable(
                    "an identical post is being processed, retry later", IN_PROGRESS_RETRY_SECONDS
                )
            log.info("incoming %s: duplicate %s ignored", route.name, key)
            return LEGACY_OK if legacy else json_reply(202, {"status": "duplicate"})
        fresh = claim.fresh
        if notice.replay_id and notice.replay_id != key:
            # The same signed body under another id (the id is in an unsigned header): a replay.
            second = keys.acquire(notice.replay_id, lease)
            if not second.held:
                if fresh:
                    keys.release(key)  # nothing was done under it
                else:
                    keys.expire(key)
                if second.in_progress:
                    return unavailable(
                        "an identical post is being processed, retry later", IN_PROGRESS_RETRY_SECONDS
                    )
                log.info("incoming %s: replayed body %s ignored", route.name, notice.replay_id)
                return LEGACY_OK if legacy else json_reply(202, {"status": "duplicate"})
            replay = notice.replay_id
        # Taking over a half-done attempt: continue under its message key, so that the parts it
        # recorded as accepted are skipped even when the window's number has moved on since.
        message_key = str((claim.data or {}).get("message") or message_key)
    else:
        fresh = True  # a message nobody can name again: no one else can be sending it

    # Under a fresh claim the per-part delivery records are skipped (two table writes per part):
    # the claim's completion covers them, and they are written only if the claim is given up.
    ledger = Acceptances() if fresh else None
    held = [k for k in (key, replay) if k]
    try:
        if route.mode == "digest":
            outcome = _buffer(store, notice, followers)
        else:
            outcome = _deliver(store, route, notice, message_key, ledger)
    except BaseException:
        if held:
            _give_up(store, route.name, keys, held, ledger)
        raise
    for done in held:
        try:
            # Written behind the answer: the message is safe already; the claim's lease covers the gap.
            keys.complete_later(done, {"status": outcome.get("status")}, ttl_seconds=window)
        except Exception as exc:  # lost, a retry after the lease is delivered again (at-least-once)
            log.warning("incoming %s: could not complete dedupe key (%s)", route.name, type(exc).__name__)
    if legacy:
        return LEGACY_OK
    return json_reply(202, outcome)


def _give_up(
    store: Store, route_name: str, keys: Scope, held: list[str], ledger: Acceptances | None
) -> None:
    """Free the key for the sender's retry, leaving records of the parts that did go out.

    The claim is expired, never released: the retry then takes it over as not fresh and checks
    the per-part records (and the outbox's), which the ledger's parts are written to first.
    """
    try:
        if ledger is not None:
            ledger.write(store)
        for key in held:
            keys.expire(key)
    except Exception:
        log.warning("incoming %s: could not free the dedupe key for a retry", route_name)


def _deliver(
    store: Store, route: Route, notice: Notice, key: str | None, ledger: Acceptances | None
) -> dict[str, Any]:
    from shared.delivery import deliver_many

    states: dict[str, list[str]] = {}
    for i, card in enumerate(notice.cards):
        message_key = f"{route.name}:{key}:{i}" if key else None
        results = deliver_many(
            store, route.channels, card, key=message_key, ledger=ledger, origin=route.name
        )
        for channel, result in results.items():
            states.setdefault(channel, []).append(result.state)
    # One state per channel, in the route's order: never the names, which a sender on an open
    # route (or anyone who learnt its URL) has no business learning; `admin route list` has them.
    channels = [_worst(states.get(name, ["dead"])) for name in dict.fromkeys(route.channels)]
    return {
        "status": "accepted",
        "source": notice.summary.source,
        "cards": len(notice.cards),
        "channels": channels,
    }


def _worst(states: list[str]) -> str:
    for state in ("dead", "queued"):
        if state in states:
            return state
    return "accepted"


def _buffer(store: Store, notice: Notice, subscriptions: list[Subscription]) -> dict[str, Any]:
    data = notice.summary.as_dict()
    for sub in subscriptions:
        store.events.append(sub.id, data)
    return {"status": "buffered", "source": notice.summary.source, "subscriptions": len(subscriptions)}
