"""The outgoing-webhook request pipeline, always answering inside Teams' 5-second window.

Order matters: size limits first (no work for huge bodies), then the HMAC over the raw bytes
(before any JSON parsing), then freshness and de-duplication (Teams has no replay protection),
then the command. Everything after the size check runs in a worker thread; when it is not done
by the deadline the caller gets a "still working" answer and the worker posts its result to the
channel's Workflows link later. Teams only shows its generic error on a timeout or a 5xx, so
neither ever comes from here.

This module imports only the standard library and light `shared` modules; pydantic, the store
and the cards are loaded on the first request that needs them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared import settings
from shared.invocation import carry
from shared.outgoing.verify import SignatureVerifier, well_formed
from shared.web import MAX_BODY_BYTES, Reply, error, json_reply, log_failure, over_limit

if TYPE_CHECKING:
    from shared.idempotency import Scope
    from shared.outgoing.activity import Activity
    from shared.outgoing.commands import Context
    from shared.outgoing.replies import Answer
    from shared.store import Store

__all__ = ["OutgoingBot", "Registration", "StoreGate", "handle_request"]

log = logging.getLogger(__name__)

DEDUPE_SCOPE = "outgoing"

UNAUTHORIZED = error(401, "unauthorized")
EMPTY_REPLY = json_reply(200, {"type": "message"})


def _text_reply(text: str) -> Reply:
    """A plain-text reply: used when cards or the store are not at hand (errors, deadlines)."""
    return json_reply(200, {"type": "message", "text": text})


UNAVAILABLE_TEXT = (
    "I can't reach my storage right now, so I could not do that. "
    "This is temporary: please try again in a minute."
)
FAILED_TEXT = (
    "Something went wrong on my side while doing that. Please try again; if it keeps failing, tell an admin."
)


FOREIGN_TEXT = (
    "This webhook is registered for another team, so I did not do that. "
    "If this is a new team, an admin can fix the registration with `python -m shared.admin team rebind`."
)


@dataclass(frozen=True)
class Registration:
    """What the pipeline needs of a team registration (`shared.store.models.Team`)."""

    tokens: list[str]
    registration: str = ""
    teams_team_id: str | None = None
    tenant_id: str | None = None

    def serves(self, teams_team_id: str | None, tenant_id: str | None) -> bool:
        """Whether an activity of this Teams team and tenant is this registration's."""
        return bool(teams_team_id) and (teams_team_id, tenant_id) == (self.teams_team_id, self.tenant_id)


class Gate(Protocol):
    """The store-facing checks of the pipeline: team registrations and activity de-duplication."""

    def registration(self, team: str) -> Registration | None: ...

    def bind(self, team: str, teams_team_id: str, tenant_id: str | None) -> Registration | None:
        """Fill in the Teams team and tenant a registration does not know yet; the stored result."""
        ...

    def claim(self, key: str, ttl_seconds: int) -> bool: ...

    def complete(self, key: str) -> None: ...

    def release(self, key: str) -> None: ...


_CACHE_MAX = 1000


class StoreGate:
    """Gate backed by the Table Storage store (teams table and the dedupe table).

    Registrations (and "no such team") are kept `OUTGOING_TEAM_CACHE_SECONDS` in this process,
    so a flood of requests for a team, known or not, costs no table reads.
    """

    def __init__(
        self,
        store_factory: Callable[[], Store],
        *,
        cache_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store_factory = store_factory
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Registration | None]] = {}
        self._lock = threading.Lock()

    def _ttl(self) -> float:
        if self._cache_seconds is not None:
            return self._cache_seconds
        return settings.outgoing().team_cache_seconds

    def _keep(self, team: str, found: Registration | None) -> None:
        ttl = self._ttl()
        if ttl <= 0:
            return
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[team] = (self._clock() + ttl, found)

    def registration(self, team: str) -> Registration | None:
        with self._lock:
            hit = self._cache.get(team)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        record = self._store_factory().teams.find(team)
        found = None if record is None else _registration(record)
        self._keep(team, found)
        return found

    def bind(self, team: str, teams_team_id: str, tenant_id: str | None) -> Registration | None:
        from shared.store.errors import Conflict

        teams = self._store_factory().teams
        for _attempt in range(3):
            found = teams.find(team)
            if found is None:
                return None
            binding = (found.teams_team_id or teams_team_id, found.tenant_id or tenant_id)
            if binding == (found.teams_team_id, found.tenant_id):
                return _registration(found)  # nothing to learn: no write
            found.teams_team_id, found.tenant_id = binding
            try:
                saved = teams.save(found)  # ETag-guarded: the first activity to land decides
            except Conflict:
                continue
            log.info("outgoing: team %r learned its Teams team and tenant", team[:64])
            learned = _registration(saved)
            self._keep(team, learned)
            return learned
        return None

    def _keys(self) -> Scope:
        """The bot's idempotency keys (`shared.idempotency.Scope`), imported with the store."""
        from shared.idempotency import Scope

        return Scope(self._store_factory(), DEDUPE_SCOPE)

    def claim(self, key: str, ttl_seconds: int) -> bool:
        return self._keys().acquire(key, ttl_seconds).held

    def complete(self, key: str) -> None:
        """Keeps the claim's expiry, which outlives every replay the window lets through."""
        self._keys().complete(key)

    def release(self, key: str) -> None:
        """The command failed: a retry must not be blocked, and starts fresh."""
        self._keys().release(key)


def _registration(team: object) -> Registration:
    return Registration(
        tokens=list(getattr(team, "tokens", [])),
        registration=str(getattr(team, "registration", "") or ""),
        teams_team_id=getattr(team, "teams_team_id", None),
        tenant_id=getattr(team, "tenant_id", None),
    )


def _is_store_unavailable(exc: BaseException) -> bool:
    from shared.store.errors import StoreUnavailable

    return isinstance(exc, StoreUnavailable)


class _Exchange:
    """Hand-over between the waiting request and its worker: whoever is second handles the result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.result: Reply | None = None
        self.abandoned = False
        self.channel: str | None = None  # our channel name once the worker knows the link
        self.command = ""

    def finish(self, result: Reply) -> bool:
        """Store the result; False when the caller already gave up (then post it instead)."""
        with self._lock:
            if self.abandoned:
                return False
            self.result = result
            self._done.set()
            return True

    def wait(self, timeout: float) -> Reply | None:
        self._done.wait(max(timeout, 0.0))
        with self._lock:
            if self.result is None:
                self.abandoned = True
            return self.result


@dataclass(frozen=True)
class _WorkerResult:
    """What the worker hands back: the HTTP reply, the bot's answer behind it (posted to the channel
    instead when the caller gave up waiting) and the dedupe key it claimed (completed after replying)."""

    reply: Reply
    answer: Answer | None = None
    claimed: str | None = None


class OutgoingBot:
    """One instance per process; `handle` is called once per request."""

    def __init__(
        self,
        gate: Gate,
        store_factory: Callable[[], Store],
        *,
        deadline_seconds: float | None = None,
        window_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.gate = gate
        self.store_factory = store_factory
        self.deadline_seconds = deadline_seconds
        self.window_seconds = window_seconds
        self.clock = clock
        # Threads start on the first submit, so creating the pool here costs nothing at import.
        self._executor = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="outgoing")

    def _deadline(self) -> float:
        if self.deadline_seconds is not None:
            return self.deadline_seconds
        return settings.outgoing().deadline_seconds

    def _window(self) -> float:
        if self.window_seconds is not None:
            return self.window_seconds
        return settings.outgoing().replay_window_seconds

    def executor(self) -> ThreadPoolExecutor:
        return self._executor

    def handle(
        self, team: str, authorization: str | None, body: bytes, *, content_length: str | None = None
    ) -> Reply:
        received = time.monotonic()
        if over_limit(content_length, body):
            return error(413, f"body too large: the limit is {MAX_BODY_BYTES} bytes")
        if not body.strip():
            return error(400, "empty body: expected a Teams activity (JSON)")
        if not well_formed(authorization):
            # Not `HMAC <signature>`: nothing genuine, so no thread, no table read (the same 401).
            return UNAUTHORIZED
        exchange = _Exchange()
        self.executor().submit(carry(self._work), exchange, team, authorization, body)
        result = exchange.wait(self._deadline() - (time.monotonic() - received))
        if result is not None:
            return result
        log.warning("outgoing: deadline reached for team %r (command %r)", team[:64], exchange.command or "?")
        if exchange.channel:
            return _text_reply(
                "Still working on that: it takes longer than Teams waits for an answer. "
                "I'll post the answer in this channel when it's done."
            )
        # The work goes on, but its answer has nowhere to go: a blind retry could do it twice.
        return _text_reply(
            "Still working on that: it takes longer than Teams waits for an answer, and this channel "
            "has no Workflows link for me to post the result later. In a minute, check with "
            "'status' or 'subscriptions' before trying again."
        )

    # --- worker side ------------------------------------------------------------------------------

    def _work(self, exchange: _Exchange, team: str, authorization: str | None, body: bytes) -> None:
        result = _WorkerResult(_text_reply(FAILED_TEXT))
        try:
            result = self._process(exchange, team, authorization, body)
        except Exception as exc:
            if _is_store_unavailable(exc):
                log.warning("outgoing: store unavailable for team %r: %s", team[:64], exc)
                result = _WorkerResult(_text_reply(UNAVAILABLE_TEXT))
            else:
                log_failure(log, f"outgoing: command {exchange.command!r} failed for team {team[:64]!r}", exc)
        answered = exchange.finish(result.reply)
        if result.claimed is not None:
            # After the answer, not before: marking the claim done costs round trips Teams need not wait for.
            _quietly(self.gate.complete, result.claimed)
        if not answered and result.answer is not None and exchange.channel:
            self._post_late(exchange.channel, result.answer)

    def _process(
        self, exchange: _Exchange, team: str, authorization: str | None, body: bytes
    ) -> _WorkerResult:
        found = self.gate.registration(team) if _plausible_team(team) else None
        tokens = found.tokens if found is not None else []
        verifier = SignatureVerifier(tokens, window_seconds=self._window(), clock=self.clock)
        if not verifier.is_valid(body, authorization):
            log.info("outgoing: rejected an unauthenticated request for team %r", team[:64])
            return _WorkerResult(UNAUTHORIZED)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return _WorkerResult(error(400, "the body is not valid JSON"))
        except RecursionError:  # thousands of nested brackets: valid JSON, but no activity
            return _WorkerResult(error(400, "the body is nested too deeply to be a Teams activity"))
        if not isinstance(data, dict):
            return _WorkerResult(error(400, "the body must be a JSON object (a Teams activity)"))
        if data.get("type") != "message":
            return _WorkerResult(EMPTY_REPLY)

        from shared.outgoing.activity import ActivityError, TextTooLong, parse_activity

        try:
            activity = parse_activity(data)
        except ActivityError as exc:
            return _WorkerResult(error(400, str(exc)))
        if not activity.id:
            return _WorkerResult(error(400, "the activity has no id"))
        if not verifier.is_fresh(activity.timestamp):
            return _WorkerResult(
                error(401, "the activity timestamp is missing or outside the accepted window")
            )
        assert found is not None  # a valid signature needs a token
        bound = self._bound(team, found, activity)
        if bound is None:
            # Signed with this team's token, but for another Teams team or tenant (or none):
            # not processed at all. Said in words, since Teams shows only a 200's text.
            log.warning("outgoing: team %r signed an activity of another Teams team or tenant", team[:64])
            return _WorkerResult(_text_reply(FOREIGN_TEXT))
        try:
            ctx = self._context(exchange, team, activity, bound.registration)
        except TextTooLong as exc:  # a real message from Teams: answer it, in words
            return _WorkerResult(_text_reply(str(exc)))
        key = f"{team}/{activity.id}"
        ttl = int(self._window() * 2) + 60  # outlives every replay the window still lets through
        if not self.gate.claim(key, ttl):
            return _WorkerResult(error(409, "this activity was already handled"))
        try:
            from shared.outgoing.commands import registry

            answer = registry.dispatch(ctx)
            reply = Reply(200, _render(answer))
        except BaseException:
            _quietly(self.gate.release, key)  # a failed attempt must not block a retry
            raise
        return _WorkerResult(reply, answer, key)

    def _bound(self, team: str, found: Registration, activity: Activity) -> Registration | None:
        """The registration when the activity comes from its Teams team and tenant (learned on the
        first signed activity when not given at `team add`), else None."""
        teams_team_id, tenant_id = activity.team_id, activity.tenant_id
        if not teams_team_id:
            return None
        if found.teams_team_id is None or (found.tenant_id is None and tenant_id is not None):
            learned = self.gate.bind(team, teams_team_id, tenant_id)
            found = learned if learned is not None else found
        return found if found.serves(teams_team_id, tenant_id) else None

    def _context(self, exchange: _Exchange, team: str, activity: Activity, registration: str = "") -> Context:
        """The listener's context; the channel lookup starts now, overlapping the dedupe claim."""
        from shared.outgoing.commands import Context, registry

        command = activity.command()
        exchange.command = command.name[:40]  # logged: a "word" may be 16,000 characters

        def on_channel(name: str | None) -> None:
            exchange.channel = name

        ctx = Context(
            activity=activity,
            command=command,
            team=team,
            registration=registration,
            store_factory=self.store_factory,
            on_channel=on_channel,
        )
        if registry.uses_channel(command.name):
            ctx.prefetch_channel()  # read-only, so harmless when the claim then fails
        return ctx

    def _post_late(self, channel: str, answer: Answer) -> None:
        try:
            from shared.delivery import deliver
            from shared.outgoing.replies import render_card

            result = deliver(self.store_factory(), channel, render_card(answer))
            log.info("outgoing: late answer for %s: %s", channel, getattr(result, "state", "?"))
        except Exception as exc:
            log_failure(log, f"outgoing: could not post a late answer to channel {channel}", exc)


def _render(answer: Answer) -> bytes:
    from shared.outgoing.replies import render_reply

    return render_reply(answer)


def _quietly(action: Callable[[str], None], key: str) -> None:
    try:
        action(key)
    except Exception as exc:  # the answer matters more than the bookkeeping
        log.warning("outgoing: dedupe bookkeeping failed: %s", type(exc).__name__)


def _plausible_team(team: str) -> bool:
    return 0 < len(team) <= 64 and team.isprintable()


_default: OutgoingBot | None = None
_default_lock = threading.Lock()


def _open_store() -> Store:
    from shared.store import open_store

    return open_store()


def handle_request(
    team: str, authorization: str | None, body: bytes, *, content_length: str | None = None
) -> Reply:
    """Entry point of the function: one process-wide bot on the app's store."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = OutgoingBot(StoreGate(_open_store), _open_store)
    return _default.handle(team, authorization, body, content_length=content_length)
