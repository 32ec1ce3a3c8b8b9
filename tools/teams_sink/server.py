"""The sink's HTTP side: a threaded HTTP/1.1 server (keep-alive, raw socket access to drop connections).

The stdlib server is enough here and gives the control the sink needs: answering nothing and closing the
socket, or sleeping before answering, per request.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from tools.teams_sink import page, rules
from tools.teams_sink.budget import budget_from_env, budget_text
from tools.teams_sink.rules import FlowRules, Rejection
from tools.teams_sink.schema import DEFAULT_FOLDER as DEFAULT_SCHEMAS
from tools.teams_sink.schema import CardSchema, schema_file, warn_once
from tools.teams_sink.state import LEGACY, MAX_STORED_BYTES, WORKFLOW, Fault, SinkState, make_fault
from tools.teams_sink.throttle import retry_after_header

log = logging.getLogger("tools.teams_sink")

# Bodies past this are not read into memory at all: the connection is answered 413 and closed.
READ_CAP = 4 * 1024 * 1024
# Workflows: /workflows/<channel>, the real /workflows/<flow id>/triggers/manual/paths/invoke (the flow id
# names the channel), and /workflows/<connection>/<channel>(/anything, e.g. /triggers/...), each also under
# the newer /powerautomate/automations/direct prefix. Legacy: /webhookb2/<channel>(/anything).
_WEBHOOK = re.compile(
    r"^(?:/powerautomate/automations/direct)?/(?P<kind>workflows|webhookb2)/(?P<first>[^/]+)"
    r"(?:/(?P<second>[^/]+))?(?:/.*)?$"
)
_TRIGGERS = "triggers"
_CHANNEL_VIEW = re.compile(
    r"^/channels/(?P<channel>[^/]+)/(?P<what>messages|requests|posts|displayed|not_displayed|lost)/?$"
)
_LEGACY_ERROR = (
    "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error {status} "
    "with ContextId tcid={tcid},server=teams-sink,cv={cv}.0.."
)


class BadControl(ValueError):
    """A control request the sink cannot act on (answered 400 with the reason)."""


class _Server(ThreadingHTTPServer):
    """Tracks open connections so `stop` can close idle keep-alive sockets and join every thread."""

    # The stdlib joins only non-daemon threads on close; daemon threads tracked here are joined by
    # `join_workers`, so a forgotten sink never blocks interpreter exit yet `stop` leaves no thread.
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], state: SinkState, idle_timeout: float, flow: FlowRules
    ) -> None:
        self.state = state
        self.flow = flow
        self.idle_timeout = idle_timeout
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="teams-sink-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open.add(request)
            self._workers = [thread for thread in self._workers if thread.is_alive()]
            self._workers.append(worker)
        worker.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout, drop test) is normal here; anything else is logged, briefly."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return
        log.error("request handling failed: %s", type(error).__name__)

    def join_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._open_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TeamsSink/1.0"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Idle keep-alive connections end after this, so a pooled client cannot pin threads forever.
        self.connection.settimeout(self.server.idle_timeout)
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log: it prints the request line, query string (a `sig`) included."""

    # -- plumbing --

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, **headers: str) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", **headers)

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        self._json(status, {"error": {"code": code, "message": message}}, **headers)

    def _read_body(self) -> tuple[bytes | None, int]:
        """The request body (Content-Length or chunked) and its size; None when too large to read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > READ_CAP:
                    self.close_connection = True
                    return None, total
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks), total
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > READ_CAP:
            self.close_connection = True
            return None, length
        return (self.rfile.read(length) if length else b""), length

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.server.stopping.wait(seconds)

    def _route(self) -> tuple[str, _Hook | None]:
        path = urlsplit(self.path).path
        return path, _hook(path)

    # -- verbs --

    def do_POST(self) -> None:
        try:
            body, size = self._read_body()
        except ValueError:
            self.close_connection = True
            self._error(
                400, "BadRequest", "The request body could not be read (bad Content-Length or chunks)."
            )
            return
        path, hook = self._route()
        if hook is not None:
            self._webhook(hook.mode, hook.channel, body, size, hook.connection)
        elif path.startswith("/control/"):
            self._control(path, body)
        else:
            self._error(
                404,
                "NotFound",
                "No such endpoint: POST /workflows/<channel>, /workflows/<connection>/<channel> or "
                "/webhookb2/<channel>.",
            )

    def do_GET(self) -> None:
        try:
            self._read_body()
        except ValueError:
            self.close_connection = True
        path, hook = self._route()
        state = self.server.state
        if hook is not None:
            self._method_not_allowed()
        elif path == "/":
            html = page.render(
                state.snapshot(),
                _rules_view(self.server.flow),
                lost=state.lost_snapshot(),
                budget=state.budget_view(),
            ).encode("utf-8")
            self._send(200, html, "text/html; charset=utf-8", Cache_Control="no-store")
        elif path.startswith("/assets/") and (found := page.asset(path.removeprefix("/assets/"))):
            self._send(200, found[0], found[1], Cache_Control="no-cache")
        elif path in ("/channels", "/channels/"):
            self._json(200, state.channel_names())
        elif path == "/control/limits":
            self._json(200, state.limits.to_dict())
        elif path in ("/control/budget", "/connections", "/connections/"):
            self._json(200, state.budget_view())
        elif path == "/control/connections":
            self._json(200, state.connection_map())
        elif path in ("/lost", "/lost/"):
            self._json(200, state.lost())
        elif path == "/healthz":
            self._json(200, {"ok": True})
        elif path == "/rules":
            self._json(200, _rules_view(self.server.flow))
        elif path in ("/not_displayed", "/not_displayed/"):
            self._json(200, [post for post in state.posts() if not post["displayed"]])
        elif (view := _CHANNEL_VIEW.match(path)) is not None:
            channel = unquote(view.group("channel"))
            what = view.group("what")
            if what == "messages":
                self._json(200, state.records(channel))
            elif what == "requests":
                self._json(200, state.requests(channel))
            elif what == "lost":
                self._json(200, state.lost(channel))
            else:
                posts = state.posts(channel)
                if what != "posts":
                    posts = [post for post in posts if post["displayed"] == (what == "displayed")]
                self._json(200, posts)
        else:
            self._error(404, "NotFound", "No such page.")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _other(self) -> None:
        try:
            self._read_body()
        except ValueError:
            self.close_connection = True
        _, hook = self._route()
        if hook is not None:
            self._method_not_allowed()
        else:
            self._error(404, "NotFound", "No such endpoint.")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _method_not_allowed(self) -> None:
        self._error(
            405,
            "TriggerRequestMethodNotValid",
            f"The HTTP method for this request is not valid: expected 'Post' and actual '{self.command}'.",
            Allow="POST",
        )

    # -- the webhook --

    def _webhook(
        self, mode: str, channel: str, body: bytes | None, size: int, connection: str | None = None
    ) -> None:
        state = self.server.state
        self._sleep(state.limits.delay)
        fault = state.take_fault(channel)
        if fault is not None:
            self._sleep(fault.delay)
            if fault.drop:
                state.log_request(mode, channel, status=0, teams_status=0, size=size, fault=True)
                log.info("%s %s -> dropped (fault)", mode, _shown(channel))
                self.close_connection = True
                return
            # A success status without a body means "slow but fine": the message is handled normally.
            if fault.status is not None and (fault.status >= 400 or fault.body is not None):
                self._answer_fault(mode, channel, fault, size)
                return
        wait = state.admit(mode, channel)
        if wait is not None:
            throttled = Rejection(
                429,
                "WorkflowRequestsThrottled",
                "Rate limit exceeded for this webhook URL: too many requests in the current window; "
                f"retry in {retry_after_header(wait)} s.",
            )
            headers = {"Retry-After": retry_after_header(wait)} if mode == WORKFLOW else {}
            self._reject(mode, channel, throttled, size, throttled=True, headers=headers)
            return
        if body is None:
            too_big = _too_big(size) if mode == WORKFLOW else rules.check_size(size, state.max_bytes)
            self._reject(mode, channel, too_big or _too_big(size), size)
            return
        parsed: Any = None
        rejection: Rejection | None = None
        if mode == LEGACY:
            # Legacy connectors answer every rule at once, in a 200-wrapped error text.
            rejection = rules.check_size(size, state.max_bytes)
            if rejection is None:
                parsed, rejection = rules.parse_json(body)
            if rejection is None:
                rejection = rules.check_legacy(parsed)
        elif body.strip():
            # Workflows answers 202 to any JSON and fails later; only a body that is not JSON at all is
            # refused by the trigger itself (an empty one is a null body, which the flow then fails on).
            parsed, rejection = rules.parse_json(body)
        if rejection is not None:
            self._reject(mode, channel, rejection, size)
            return
        if mode == WORKFLOW:
            posts = [_post_record(post) for post in rules.run_flow(parsed, self.server.flow)]
        else:
            posts = _legacy_posts(parsed, size)
        status = 202 if mode == WORKFLOW else 200
        lost = state.log_request(
            mode,
            channel,
            status=status,
            teams_status=status,
            size=size,
            body=parsed,
            accepted=True,
            posts=posts,
            connection=connection,
        )
        lost_at = {post["attachment"] for post in lost}
        shown = [post for post in posts if post["attachment"] not in lost_at]
        codes = sorted({code for post in shown for code in post["codes"]})
        if lost:
            log.info(
                "%s %s -> %d, %d lost (over the budget of connection %s)",
                mode, _shown(channel), status, len(lost), _shown(lost[0]["connection"]),
            )
        if codes:
            log.info("%s %s -> %d, not displayed (%s)", mode, _shown(channel), status, ", ".join(codes))
        elif not lost:
            log.info("%s %s -> %d", mode, _shown(channel), status)
        if mode == WORKFLOW:
            self._send(202, x_ms_workflow_run_id=secrets.token_hex(12).upper())
        else:
            self._send(200, b"1", "text/plain; charset=utf-8")

    def _reject(
        self,
        mode: str,
        channel: str,
        rejection: Rejection,
        size: int,
        *,
        throttled: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Recorded before answering, so a client that has its answer also sees the record.
        self.server.state.log_request(
            mode,
            channel,
            status=rejection.status if mode == WORKFLOW else 200,
            teams_status=rejection.status,
            size=size,
            error=rejection.message,
            throttled=throttled,
        )
        log.info("%s %s -> %d (%s)", mode, _shown(channel), rejection.status, rejection.code)
        if mode == WORKFLOW:
            self._error(rejection.status, rejection.code, rejection.message, **(headers or {}))
        else:
            self._send(200, _legacy_error(rejection.status), "text/plain; charset=utf-8")

    def _answer_fault(self, mode: str, channel: str, fault: Fault, size: int) -> None:
        assert fault.status is not None
        status = fault.status
        wrapped = fault.body is None and mode == LEGACY and status >= 400
        self.server.state.log_request(
            mode,
            channel,
            status=200 if wrapped else status,
            teams_status=status,
            size=size,
            error="injected fault",
            fault=True,
        )
        log.info("%s %s -> %d (fault)", mode, _shown(channel), status)
        if fault.body is not None:
            payload = fault.body.encode("utf-8")
            kind = "application/json" if payload.lstrip()[:1] in (b"{", b"[") else "text/plain; charset=utf-8"
            self._send(status, payload, kind)
        elif wrapped:
            self._send(200, _legacy_error(status), "text/plain; charset=utf-8")
        else:
            extra = {"Retry-After": "1"} if status in (429, 503) else {}
            self._error(status, "InjectedFault", f"Injected fault: HTTP {status}", **extra)

    # -- control --

    def _control(self, path: str, body: bytes | None) -> None:
        state = self.server.state
        try:
            data = _control_json(body)
            if path == "/control/reset":
                state.reset()
                self._json(200, {"ok": True})
            elif path == "/control/faults":
                channel = data.get("channel")
                if not isinstance(channel, str) or not channel:
                    raise BadControl("channel must be a non-empty string")
                unknown = set(data) - {"channel", "count", "status", "delay", "drop", "body"}
                if unknown:
                    raise BadControl(f"unknown fields: {', '.join(sorted(unknown))}")
                fault, count = make_fault(
                    count=data.get("count", 1),
                    status=data.get("status"),
                    delay=data.get("delay"),
                    drop=data.get("drop", False),
                    body=data.get("body"),
                )
                state.add_fault(channel, fault, count)
                self._json(200, {"ok": True, "channel": channel, "count": count})
            elif path == "/control/limits":
                unknown = set(data) - {"windows", "delay"}
                if unknown:
                    raise BadControl(f"unknown fields: {', '.join(sorted(unknown))}")
                limits = state.set_limits(windows=data.get("windows"), delay=data.get("delay"))
                self._json(200, limits.to_dict())
            elif path == "/control/budget":
                unknown = set(data) - {"budget", "connection"}
                if unknown:
                    raise BadControl(f"unknown fields: {', '.join(sorted(unknown))}")
                if "budget" not in data:
                    raise BadControl('budget is required: COUNT/SECONDS pairs such as "25/300", "off", '
                                     '"default", or null with a connection to drop its own')
                self._json(200, state.set_budget(data["budget"], data.get("connection")))
            elif path == "/control/connections":
                self._json(200, state.set_connections(data))
            else:
                self._error(
                    404,
                    "NotFound",
                    "Control endpoints: /control/reset, /control/faults, /control/limits, /control/budget, "
                    "/control/connections.",
                )
        except ValueError as exc:  # BadControl and the validators' ValueErrors
            self._error(400, "BadControlRequest", str(exc))


@dataclass(frozen=True)
class _Hook:
    """A webhook URL's meaning: the kind of URL, its channel and the connection it names (if any)."""

    mode: str
    channel: str
    connection: str | None = None


def _hook(path: str) -> _Hook | None:
    """The webhook a path names, or None; see `_WEBHOOK` for the shapes."""
    match = _WEBHOOK.match(path)
    if match is None:
        return None
    first, second = unquote(match.group("first")), match.group("second")
    if match.group("kind") == "webhookb2":
        return _Hook(LEGACY, first)
    if second is None or second == _TRIGGERS:
        return _Hook(WORKFLOW, first)
    return _Hook(WORKFLOW, unquote(second), first)


def _control_json(body: bytes | None) -> dict[str, Any]:
    if body is None:
        raise BadControl("body too large")
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadControl("body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BadControl("body must be a JSON object")
    return data


def _legacy_error(status: int) -> bytes:
    """The connector's 200-wrapped error text, with a fresh fake ContextId like the real ones."""
    text = _LEGACY_ERROR.format(status=status, tcid=secrets.randbelow(10**19), cv=secrets.token_urlsafe(16))
    return text.encode("utf-8")


def _too_big(size: int) -> Rejection:
    return Rejection(
        413,
        "MessageSizeExceeded",
        f"Request Entity too large: {size} bytes (the sink reads at most {READ_CAP})",
    )


def _post_record(post: rules.Post) -> dict[str, Any]:
    """A post as the sink keeps and shows it (JSON-ready)."""
    return {
        "attachment": post.attachment,
        "card": post.card,
        "size": post.size,
        "displayed": post.displayed,
        "shown": post.shown,
        "reasons": [problem.message for problem in post.problems],
        "codes": [problem.code for problem in post.problems],
    }


def _legacy_posts(body: Any, size: int) -> list[dict[str, Any]]:
    """What a legacy connector shows of an accepted body: each card of an envelope, else the body itself
    (`size` bytes on the wire). Legacy connectors post the whole body as one message: sizes are the
    wire's."""
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if isinstance(attachments, list) and attachments:
        return [
            _post_record(rules.Post(index, item.get("content"), size))
            for index, item in enumerate(attachments)
            if isinstance(item, dict)
        ]
    return [_post_record(rules.Post(None, body, size))]


def _rules_view(flow: FlowRules) -> dict[str, Any]:
    """The rules a Workflows channel of this sink applies, for /rules and the HTML page."""
    return {
        "workflow_max_version": rules.version_text(flow.max_version),
        "legacy_max_version": rules.version_text(rules.LEGACY_MAX_VERSION),
        "max_bytes": flow.max_bytes,
        "only_action": rules.SUPPORTED_ACTION,
        "max_user_mentions": rules.MAX_USER_MENTIONS,
        "max_tag_mentions": rules.MAX_TAG_MENTIONS,
        "schema": flow.schema.path.name if flow.schema is not None else None,
    }


_schemas: dict[Path, CardSchema] = {}
_schemas_lock = threading.Lock()


def _card_schema(max_version: tuple[int, int], folder: Path | None) -> CardSchema | None:
    """The schema rule for `max_version`, shared by every sink of the process (it is costly to build)."""
    path = schema_file(max_version, folder)
    if path is None:
        where = folder or DEFAULT_SCHEMAS
        warn_once(
            f"teams sink: no Adaptive Card {rules.version_text(max_version)} schema in {where} (the "
            "official schemas live in ../shared beside the repository): the schema check is skipped"
        )
        return None
    with _schemas_lock:
        return _schemas.setdefault(path, CardSchema(path))


def _shown(channel: str) -> str:
    """A channel name safe for one log line."""
    return repr(channel[:80])


class TeamsSink:
    """A local stand-in for Teams channels' webhooks (Workflows and legacy connector URLs).

    Runs in a background thread of the calling process; `python -m tools.teams_sink` runs it alone.
    A Workflows URL answers 202 to any JSON, then records per attachment whether the channel would display
    it (`displayed`, `not_displayed`): cards up to `max_version` (default 1.4, or $TEAMS_SINK_MAX_VERSION),
    only Action.OpenUrl, at most `max_bytes` per card message, 20 user and 20 tag mentions, and the official
    schema of that version from `schemas` (default ../shared/schemas; skipped, with one warning, when absent).

    Like the real Flow bot, Workflows posts spend a budget per connection (`budget`, default
    $DELIVERY_BUDGET_WORKFLOWS or 25/300, a sliding window): a post past it is answered 202 all the same and
    then lost (`lost()`, with the reason), never shown; `budgets` gives connections their own ({name:
    "5/60"}). `windows` are the per-URL 429 windows, another rule.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        windows: Sequence[Sequence[float]] | None = None,
        max_bytes: int = rules.MAX_BYTES,
        keep: int = 200,
        delay: float = 0.0,
        max_channels: int = 100,
        max_version: tuple[int, int] | None = None,
        idle_timeout: float = 30.0,
        max_stored_bytes: int = MAX_STORED_BYTES,
        schemas: Path | None = None,
        check_schema: bool = True,
        budget: str | None = None,
        budgets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self._port = port
        self.idle_timeout = idle_timeout
        if max_version is None:
            max_version = rules.workflow_max_version()
        self.flow = FlowRules(
            max_version=max_version,
            max_bytes=max_bytes,
            schema=_card_schema(max_version, schemas) if check_schema else None,
        )
        self.state = SinkState(
            windows=windows,
            max_bytes=max_bytes,
            keep=keep,
            delay=delay,
            max_channels=max_channels,
            max_stored_bytes=max_stored_bytes,
            budget=budget_text(budget_from_env()) if budget is None else budget,
            budgets=budgets,
            clock=clock,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> TeamsSink:
        if self._server is not None:
            return self
        server = _Server((self.host, self._port), self.state, self.idle_timeout, self.flow)
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="teams-sink", daemon=True
        )
        self._thread.start()
        log.info("Teams sink listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close every open connection and join every thread the server started."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.join_workers(5)
        if thread is not None:
            thread.join(5)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (the CLI)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> TeamsSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses --

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the sink has no port yet: start() it first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def workflow_url(self, channel: str, connection: str | None = None) -> str:
        """/workflows/<channel> (the default connection, or the one `set_connections` names), or
        /workflows/<connection>/<channel>."""
        if connection is None:
            return f"{self.url}/workflows/{quote(channel, safe='')}"
        return f"{self.url}/workflows/{quote(connection, safe='')}/{quote(channel, safe='')}"

    def legacy_url(self, channel: str) -> str:
        return f"{self.url}/webhookb2/{quote(channel, safe='')}"

    # -- inspection --

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The JSON bodies the channel accepted, oldest first."""
        return [record["body"] for record in self.state.records(channel)]

    def records(self, channel: str) -> list[dict[str, Any]]:
        """Accepted messages with their metadata: body, time (ISO UTC), ts (epoch), channel, mode."""
        return self.state.records(channel)

    def requests(self, channel: str) -> list[dict[str, Any]]:
        """Every request to the channel, rejected ones too: status, teams_status, time, ts, size, error..."""
        return self.state.requests(channel)

    def posts(self, channel: str) -> list[dict[str, Any]]:
        """What the channel made of its accepted messages, one post per attachment (or one for a flow run
        that failed before posting): attachment, card, size, displayed, shown, reasons, codes, time, mode."""
        return self.state.posts(channel)

    def displayed(self, channel: str) -> list[dict[str, Any]]:
        """The posts a person would see as cards in the channel."""
        return [post for post in self.state.posts(channel) if post["displayed"]]

    def not_displayed(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The posts the channel would not display, with `reasons` (all channels' when `channel` is None)."""
        return [post for post in self.state.posts(channel) if not post["displayed"]]

    def mark(self) -> int:
        """A point in the not-displayed record, for `not_displayed_since`; `reset` does not move it."""
        return self.state.mark()

    def not_displayed_since(self, mark: int) -> list[dict[str, Any]]:
        """Posts recorded as not displayed after `mark`, across resets (without their cards); the newest
        500 at most: `mark() - mark` is how many there were."""
        return self.state.not_displayed_since(mark)[0]

    def lost(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The posts the Flow bot budget lost after answering 202 (channel, connection, attachment, card,
        size, reason, time, mode), of one channel or all (None), oldest first; `reset` clears them."""
        return self.state.lost(channel)

    def lost_mark(self) -> int:
        """A point in the lost record, for `lost_since`; `reset` does not move it."""
        return self.state.lost_mark()

    def lost_since(self, mark: int) -> list[dict[str, Any]]:
        """Posts lost after `mark`, across resets (without their cards); the newest 500 at most:
        `lost_mark() - mark` is how many there were."""
        return self.state.lost_since(mark)[0]

    def budget(self) -> dict[str, Any]:
        """The default budget, connections' own, and each connection's use, channels and losses
        (as GET /control/budget)."""
        return self.state.budget_view()

    def channels(self) -> list[str]:
        return self.state.channel_names()

    def rules(self) -> dict[str, Any]:
        """The rules Workflows channels apply here (versions, sizes, schema file or None), as GET /rules."""
        return _rules_view(self.flow)

    def wait_for_messages(self, channel: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until the channel holds `count` messages (for asynchronous senders); returns the bodies."""
        return [record["body"] for record in self.state.wait_for(channel, count, timeout)]

    def open_connections(self) -> int:
        return self._server.open_connections() if self._server is not None else 0

    # -- control --

    def reset(self) -> None:
        """Forget messages, posts, lost posts, requests, faults, throttle counters, connections named by
        control and budget use; limits and the budget go back to the start values. The marks of
        `not_displayed_since` and `lost_since` stay valid."""
        self.state.reset()

    def fault(
        self,
        channel: str,
        count: int = 1,
        status: int | None = None,
        delay: float | None = None,
        drop: bool = False,
        body: str | None = None,
    ) -> None:
        """The next `count` requests to `channel` (either URL kind) wait `delay`, then fail as asked.

        Only a delay (or a status < 400 without `body`): the requests are then handled normally, late.
        No status, delay or drop: HTTP 500. `body` is answered verbatim with `status`, never wrapped.
        Faults queue up: a second call applies after the first one's requests are used up.
        """
        spec, times = make_fault(count=count, status=status, delay=delay, drop=drop, body=body)
        self.state.add_fault(channel, spec, times)

    def set_limits(
        self, windows: Sequence[Sequence[float]] | str | None = None, delay: float | None = None
    ) -> None:
        """Change throttle windows ([] = off, "default" = Teams') and/or the response delay; None = keep."""
        if windows is not None and not isinstance(windows, str):
            windows = list(windows)
        self.state.set_limits(windows=windows, delay=delay)

    def set_budget(self, budget: str | None, connection: str | None = None) -> None:
        """The Flow bot budget ("25/300,...", "off", "default" = the start value) of every connection
        without its own, or of `connection` (None there drops its own); counting restarts."""
        self.state.set_budget(budget, connection)

    def set_connections(self, mapping: Mapping[str, str | None]) -> None:
        """Name the connection of channels posted to without one in the URL ({channel: connection};
        None goes back to the default connection)."""
        self.state.set_connections(mapping)
