"""Local dev host: serves the function folders the way the Functions host does, without Core Tools.

Core Tools (`func`) cannot be installed offline and is missing on CI and many laptops, so this runs
the *same files* the real host reads (host.json, `*/function.json`, each folder's script) on a
waitress server, and is what `make serve`, the pytest `devhost` fixture and the demo talk to.

Usage::

    python -m tools.devhost [--root .] [--host 127.0.0.1] [--port 7071]
                            [--settings local.settings.json] [--no-timers] [--state-dir DIR]

In-process (tests, benchmarks)::

    host = DevHost(root, settings={"NAME": "value"})
    port = host.serve("127.0.0.1", 0)      # background thread; returns the bound port
    ...
    host.stop()

Settings (environment variables; `Values` of local.settings.json work too):

- `DEVHOST_FUNCTION_KEY`: key for `authLevel: function` routes (header `x-functions-key` or
  `?code=`). Unset (and no master key): function routes need no key, as with `func start`.
- `DEVHOST_MASTER_KEY`: key for `authLevel: admin` routes and `POST /admin/functions/<name>`;
  it is also accepted on function routes. Unset: those need no key locally.
- `FUNCTIONS_PORT`: port when `--port` is not given (then `Host.LocalHttpPort`, then 7071).
- `DEVHOST_SETTINGS_FILE`: settings file when `--settings` is not given.
- `DEVHOST_STATE_DIR`: where timer schedule status is kept between runs (like the host's
  `azure-webjobs-hosts` blobs), so a restart after a missed occurrence runs it with
  `past_due=True`. Unset: status is kept in memory only.
- `WEBSITE_TIME_ZONE`: IANA time zone of timer schedules (default UTC).
- `AzureWebJobs.<name>.Disabled` = `true`: the function is not served nor scheduled.

Behaviour shared with the real host: `Values` never override variables already in the environment;
route templates (`{x}`, `{x?}`, `{x=default}`, `{id:int}` and the other ASP.NET constraints,
`{*rest}`), case-insensitive literals, 404 for an unknown path and for a method the function does
not list (as the host's routing does), 401 without the key, 405 for the admin API's wrong method,
`authLevel` defaulting to `function`;
functions are imported once with the app root on `sys.path`; parameters are bound by binding name
(plus `context`); timers follow 6-field NCRONTAB (seconds first) or `hh:mm:ss`, with `%SETTING%`
resolved, `runOnStartup`, `useMonitor` and `past_due`; one run of a timer at a time.
`GET /admin/host/status` and `GET /admin/host/ping` answer 200 once every function is loaded
(open locally so scripts can wait for readiness; they reveal no secrets).

What the dev host does NOT emulate:

- bindings other than HTTP and timer triggers (queue/blob/table/... triggers are listed and can be
  run with `POST /admin/functions/<name>`, but nothing polls them; input/output bindings other
  than the HTTP response get `None` / a local `Out` that is discarded);
- per-function keys, host keys other than the two settings above, key management APIs, EasyAuth;
- `functionTimeout`, `maxConcurrentRequests`, dynamic concurrency, scale-out, `host.json`
  logging / Application Insights (only its tagging of log lines with the invocation their thread
  works for is kept: `record.invocation_id`, from `context.thread_local_storage`), retries
  policies, CORS, proxies, HTTP/2 and TLS;
- separate worker processes: functions run in threads of one Python process (module globals
  are shared between concurrent invocations, as with `PYTHON_THREADPOOL_THREAD_COUNT` > 1);
- timer singleton locks across several instances (one process only) and `AdjustForDST` nuances.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import http
import importlib
import importlib.util
import inspect
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from azure.functions import _abc as func_abc
from azure.functions.timer import TimerRequest

from tools import stack

LOG = logging.getLogger("devhost")

DEFAULT_PORT = 7071
MAX_BODY_BYTES = 100 * 1024 * 1024  # the host's request size limit when the setting is unset


def body_limit(environ: Mapping[str, str] | None = None) -> int:
    """The host's request body cap: `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (bytes), as the host reads it."""
    from shared.web import BODY_LIMIT_SETTING

    raw = (os.environ if environ is None else environ).get(BODY_LIMIT_SETTING, "").strip()
    try:
        value = int(raw) if raw else MAX_BODY_BYTES
    except ValueError:
        raise SystemExit(f"{BODY_LIMIT_SETTING} must be a number of bytes, got {raw!r}") from None
    return value if value > 0 else MAX_BODY_BYTES


def _json_error_channel() -> type:
    """waitress's channel whose "too large" answer is JSON like every other error of ours.

    waitress refuses a body over `max_request_body_size` itself: a declared Content-Length at
    once, a chunked body as soon as it passes the cap, so no more than the cap is ever read.
    """
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class JsonErrorTask(ErrorTask):
        def execute(self) -> None:
            error = self.request.error
            if getattr(error, "code", None) != 413:
                super().execute()
                return
            body = json.dumps(
                {"error": "body too large", "detail": f"the limit is {body_limit()} bytes"}
            ).encode("utf-8")
            self.status = "413 Request Entity Too Large"
            self.response_headers.append(("Content-Type", "application/json; charset=utf-8"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonErrorChannel
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
AUTH_LEVELS = {"anonymous": "anonymous", "function": "function", "admin": "admin", "system": "admin"}
REASONS = {s.value: s.phrase for s in http.HTTPStatus}

WsgiStartResponse = Callable[..., Any]
WsgiEnviron = dict[str, Any]


class ConfigError(Exception):
    """The app's files cannot be served as they are; each problem names its file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------------------------
# Settings


def read_settings_file(path: Path) -> dict[str, str]:
    """The `Values` of a local.settings.json, as strings (what `func start` exports)."""
    try:
        return stack.read_settings_values(path)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None


def local_http_port(path: Path) -> int | None:
    """`Host.LocalHttpPort` of a settings file, which `func start` uses as its default port."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        port = data.get("Host", {}).get("LocalHttpPort")
    except (OSError, ValueError, AttributeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def apply_settings(values: Mapping[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """Export settings like `func start`: variables already in the environment win."""
    env = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for name, value in values.items():
        if name not in env:
            env[name] = value
            applied[name] = value
    return applied


def resolve_setting_refs(text: str, where: str, environ: Mapping[str, str]) -> str:
    """Replace `%NAME%` by the setting, as the host does in binding expressions."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError([f"{where}: setting '{name}' (from %{name}%) is not defined"])
        return environ[name]

    return re.sub(r"%([^%\s]+)%", repl, text)


# --------------------------------------------------------------------------------------------
# Route templates


def _int_range(lo: int, hi: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if not re.fullmatch(r"[+-]?\d+", value):
            return False
        return lo <= int(value) <= hi

    return check


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _args(raw: str | None, count: tuple[int, ...], name: str) -> list[int]:
    if raw is None:
        raise ValueError(f"constraint '{name}' needs arguments")
    try:
        values = [int(part) for part in raw.split(",")]
    except ValueError:
        raise ValueError(f"constraint '{name}' needs integer arguments") from None
    if len(values) not in count:
        raise ValueError(f"constraint '{name}' takes {' or '.join(map(str, count))} arguments")
    return values


INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def make_constraint(name: str, raw_args: str | None) -> Callable[[str], bool]:
    """An ASP.NET Core route constraint as a predicate on the (decoded) segment value."""
    kind = name.lower()
    simple: dict[str, Callable[[str], bool]] = {
        "int": _int_range(*INT32),
        "long": _int_range(*INT64),
        "bool": lambda v: v.lower() in {"true", "false"},
        "guid": _is_guid,
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "decimal": _is_float,
        "double": _is_float,
        "float": _is_float,
        "datetime": _is_datetime,
        "required": lambda v: v != "",
    }
    if kind in simple:
        if raw_args is not None:
            raise ValueError(f"constraint '{name}' takes no arguments")
        return simple[kind]
    if kind in {"min", "max"}:
        (bound,) = _args(raw_args, (1,), name)
        lo, hi = (bound, INT64[1]) if kind == "min" else (INT64[0], bound)
        return _int_range(lo, hi)
    if kind == "range":
        lo, hi = _args(raw_args, (2,), name)
        return _int_range(lo, hi)
    if kind in {"minlength", "maxlength"}:
        (bound,) = _args(raw_args, (1,), name)
        return (lambda v: len(v) >= bound) if kind == "minlength" else (lambda v: len(v) <= bound)
    if kind == "length":
        bounds = _args(raw_args, (1, 2), name)
        lo, hi = (bounds[0], bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return lambda v: lo <= len(v) <= hi
    if kind == "regex":
        if not raw_args:
            raise ValueError("constraint 'regex' needs a pattern")
        try:
            pattern = re.compile(raw_args, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"constraint regex({raw_args}): {exc}") from None
        return lambda v: pattern.search(v) is not None
    raise ValueError(f"unknown route constraint '{name}'")


@dataclass
class RouteParam:
    name: str
    group: str
    constraints: list[Callable[[str], bool]] = field(default_factory=list)
    optional: bool = False
    default: str | None = None
    catch_all: bool = False


_PARAM = re.compile(r"\{([^{}]*(?:\([^)]*\)[^{}]*)*)\}")


def _parse_param(text: str, group: str) -> RouteParam:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", text)
    if not match:
        raise ValueError(f"bad route parameter '{{{text}}}'")
    param = RouteParam(name=match.group(1), group=group, catch_all=catch_all)
    rest = text[match.end():]
    if rest.endswith("?"):
        param.optional = True
        rest = rest[:-1]
    eq = rest.find("=")
    if eq >= 0 and "(" not in rest[:eq]:
        param.default = rest[eq + 1:]
        param.optional = True
        rest = rest[:eq]
    while rest:
        cm = re.match(r":([A-Za-z]+)(?:\((.*?)\))?(?=:[A-Za-z]|$)", rest)
        if not cm:
            raise ValueError(f"bad constraint '{rest}' on route parameter '{param.name}'")
        param.constraints.append(make_constraint(cm.group(1), cm.group(2)))
        rest = rest[cm.end():]
    return param


@dataclass
class RouteTemplate:
    """A compiled route: a regex for the shape, then constraint checks on the values."""

    template: str
    regex: re.Pattern[str]
    params: list[RouteParam]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            raw = m.group(param.group)
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            value = unquote(raw)
            if not all(check(value) for check in param.constraints):
                return None
            values[param.name] = value
        return values


def compile_route(prefix: str, route: str) -> RouteTemplate:
    """Turn `prefix` + a function.json route template into a matcher; ValueError when malformed."""
    prefix_parts = [p for p in prefix.strip("/").split("/") if p]
    route_parts = [p for p in route.strip("/").split("/") if p] if route.strip("/") else []
    pattern = "".join("/" + re.escape(p) for p in prefix_parts)
    params: list[RouteParam] = []
    precedence: list[int] = [0] * len(prefix_parts)
    optional_from: int | None = None
    closing = ""
    for index, segment in enumerate(route_parts):
        pieces: list[str] = []
        pos = 0
        seg_params: list[RouteParam] = []
        for m in _PARAM.finditer(segment):
            literal = segment[pos:m.start()]
            if "{" in literal or "}" in literal:
                raise ValueError(f"unbalanced braces in segment '{segment}'")
            pieces.append(re.escape(literal))
            parsed = _parse_param(m.group(1), f"p{len(params) + len(seg_params)}")
            seg_params.append(parsed)
            whole = m.start() == 0 and m.end() == len(segment)
            if parsed.catch_all:
                if index != len(route_parts) - 1 or not whole:
                    raise ValueError(f"catch-all '{{*{parsed.name}}}' must be the whole last segment")
                pieces.append(f"(?P<{parsed.group}>.*)")
            else:
                pieces.append(f"(?P<{parsed.group}>[^/]+)" if whole else f"(?P<{parsed.group}>[^/]+?)")
            pos = m.end()
        tail = segment[pos:]
        if "{" in tail or "}" in tail:
            raise ValueError(f"unbalanced braces in segment '{segment}'")
        pieces.append(re.escape(tail))
        names = [p.name.lower() for p in params + seg_params]
        if len(set(names)) != len(names):
            raise ValueError(f"route parameter names repeat in '{route}'")
        body = "".join(pieces)
        whole_param = len(seg_params) == 1 and segment.startswith("{") and segment.endswith("}")
        param: RouteParam | None = seg_params[0] if whole_param else None
        if param is not None and (param.optional or param.catch_all):
            pattern += f"(?:/{body}"
            closing += ")?"
            optional_from = index if optional_from is None else optional_from
        else:
            if any(p.optional for p in seg_params):
                raise ValueError(f"optional parameter in '{segment}' must be a whole segment")
            if optional_from is not None:
                raise ValueError(f"optional parameter before the required segment '{segment}'")
            pattern += "/" + body
        if not seg_params:
            precedence.append(1)
        elif not whole_param:
            precedence.append(2)
        elif param is not None and param.catch_all:
            precedence.append(5 if param.constraints else 6)
        else:
            precedence.append(3 if param is not None and param.constraints else 4)
        params.extend(seg_params)
    regex = re.compile(pattern + closing + "/?", re.IGNORECASE | re.DOTALL)
    return RouteTemplate(template=route, regex=regex, params=params, precedence=tuple(precedence))


# --------------------------------------------------------------------------------------------
# Timer schedules


class Schedule:
    """NCRONTAB (6 fields, seconds first) or a `hh:mm:ss` interval, evaluated in one time zone."""

    def __init__(self, expression: str, tz: tzinfo = UTC) -> None:
        self.expression = expression.strip()
        self.tz = tz
        self.interval: timedelta | None = None
        span = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", self.expression)
        if span:
            days, hours, minutes, seconds = (int(g) if g else 0 for g in span.groups())
            self.interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if self.interval <= timedelta(0):
                raise ValueError("a timer interval must be positive")
            return
        fields = self.expression.split()
        if len(fields) != 6:
            raise ValueError(
                f"schedule '{self.expression}' has {len(fields)} fields; NCRONTAB needs 6 "
                "(second minute hour day month day-of-week)"
            )
        from croniter import croniter  # only apps with timers pay for this import

        try:
            croniter(self.expression, datetime.now(self.tz), second_at_beginning=True).get_next(datetime)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"schedule '{self.expression}' is not valid NCRONTAB: {exc}") from None

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + self.interval
        from croniter import croniter

        it = croniter(self.expression, moment.astimezone(self.tz), second_at_beginning=True)
        nxt: datetime = it.get_next(datetime)
        return nxt.astimezone(UTC)

    def min_interval(self, now: datetime) -> timedelta:
        first = self.next_after(now)
        return self.next_after(first) - first


def schedule_tz(environ: Mapping[str, str]) -> tzinfo:
    name = environ.get("WEBSITE_TIME_ZONE", "").strip()
    if not name or name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        LOG.warning("WEBSITE_TIME_ZONE=%s is not an IANA zone; timers use UTC", name)
        return UTC


# --------------------------------------------------------------------------------------------
# Discovery


@dataclass
class Function:
    name: str
    folder: Path
    config_path: Path
    script: Path
    entry_point: str
    bindings: list[dict[str, Any]]
    trigger: dict[str, Any]
    route: RouteTemplate | None = None
    methods: frozenset[str] | None = None
    auth_level: str = "function"
    schedule: Schedule | None = None
    run_on_startup: bool = False
    use_monitor: bool | None = None
    main: Callable[..., Any] | None = None
    arg_plan: list[tuple[str, str]] = field(default_factory=list)  # (parameter, trigger|context|out|in)
    is_async: bool = False
    http_out: str = "$return"
    load_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type", ""))


@dataclass
class App:
    root: Path
    route_prefix: str
    functions: dict[str, Function]

    def http_functions(self) -> list[Function]:
        found = [f for f in self.functions.values() if f.route is not None]
        return sorted(found, key=lambda f: (f.route.precedence if f.route else (), f.name.lower()))


def _read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        problems.append(f"{path}: invalid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}")
    return None


def _is_disabled(name: str, config: dict[str, Any], environ: Mapping[str, str]) -> bool:
    if config.get("disabled") is True:
        return True
    for key, value in environ.items():
        if key.lower() == f"azurewebjobs.{name}.disabled".lower():
            return value.strip().lower() in {"true", "1"}
    return False


def _check_function(
    folder: Path, config_path: Path, config: Any, prefix: str, environ: Mapping[str, str], problems: list[str]
) -> Function | None:
    where = str(config_path)
    if not isinstance(config, dict):
        problems.append(f"{where}: expected a JSON object")
        return None
    bindings = config.get("bindings")
    if not isinstance(bindings, list) or not bindings:
        problems.append(f"{where}: 'bindings' must be a non-empty list")
        return None
    before = len(problems)
    triggers: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            problems.append(f"{where}: bindings[{i}] must be an object")
            continue
        for key in ("type", "name", "direction"):
            if not isinstance(binding.get(key), str) or not binding.get(key):
                problems.append(f"{where}: bindings[{i}] needs a string '{key}'")
        direction = binding.get("direction")
        if isinstance(direction, str) and direction not in {"in", "out", "inout"}:
            problems.append(f"{where}: bindings[{i}].direction must be in, out or inout, not '{direction}'")
        name = binding.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(f"{where}: binding name '{name}' is used twice")
            names.add(name)
        btype = binding.get("type")
        if isinstance(btype, str) and btype.lower().endswith("trigger"):
            triggers.append(binding)
    if len(problems) > before:
        return None
    if len(triggers) != 1:
        problems.append(f"{where}: a function needs exactly one trigger binding, found {len(triggers)}")
        return None
    trigger = triggers[0]
    if trigger.get("direction") != "in":
        problems.append(f"{where}: the trigger binding must have direction 'in'")
        return None
    script_name = config.get("scriptFile", "__init__.py")
    entry = config.get("entryPoint", "main")
    if not isinstance(script_name, str) or not script_name:
        problems.append(f"{where}: 'scriptFile' must be a string")
        return None
    if not isinstance(entry, str) or not entry.isidentifier():
        problems.append(f"{where}: 'entryPoint' must be a Python identifier")
        return None
    script = (folder / script_name).resolve()
    if not script.is_file():
        problems.append(f"{where}: scriptFile '{script_name}' does not exist")
        return None
    fn = Function(
        name=folder.name, folder=folder, config_path=config_path, script=script, entry_point=entry,
        bindings=bindings, trigger=trigger,
    )
    ttype = trigger["type"].lower()
    if ttype == "httptrigger":
        methods = trigger.get("methods")
        if methods is not None:
            if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
                problems.append(f"{where}: 'methods' must be a list of HTTP method names")
                return None
            bad = [m for m in methods if m.upper() not in HTTP_METHODS]
            if bad:
                problems.append(f"{where}: unknown HTTP method(s) {', '.join(bad)}")
                return None
            fn.methods = frozenset(m.upper() for m in methods) or None
        level = trigger.get("authLevel", "function")
        if not isinstance(level, str) or level.lower() not in AUTH_LEVELS:
            problems.append(f"{where}: authLevel must be anonymous, function or admin, not {level!r}")
            return None
        fn.auth_level = AUTH_LEVELS[level.lower()]
        route = trigger.get("route", fn.name)
        if not isinstance(route, str):
            problems.append(f"{where}: 'route' must be a string")
            return None
        try:
            fn.route = compile_route(prefix, route)
        except ValueError as exc:
            problems.append(f"{where}: route '{route}': {exc}")
            return None
    elif ttype == "timertrigger":
        raw = trigger.get("schedule")
        if not isinstance(raw, str) or not raw.strip():
            problems.append(f"{where}: a timerTrigger needs a 'schedule' string")
            return None
        for key in ("runOnStartup", "useMonitor"):
            if key in trigger and not isinstance(trigger[key], bool):
                problems.append(f"{where}: '{key}' must be true or false")
                return None
        try:
            expression = resolve_setting_refs(raw, where, environ)
            fn.schedule = Schedule(expression, schedule_tz(environ))
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return None
        fn.run_on_startup = bool(trigger.get("runOnStartup", False))
        fn.use_monitor = trigger.get("useMonitor")
    return fn


def discover(root: Path, environ: Mapping[str, str] | None = None) -> App:
    """Read host.json and every `*/function.json` under root; ConfigError lists every problem."""
    env = os.environ if environ is None else environ
    root = root.resolve()
    problems: list[str] = []
    host_path = root / "host.json"
    if not host_path.is_file():
        raise ConfigError([f"{host_path}: missing; the app root must contain host.json"])
    host = _read_json(host_path, problems)
    prefix = "api"
    allowed: set[str] | None = None
    if problems:
        raise ConfigError(problems)
    if not isinstance(host, dict):
        raise ConfigError([f"{host_path}: expected a JSON object"])
    http_ext = host.get("extensions", {}).get("http", {}) if isinstance(host.get("extensions"), dict) else {}
    if isinstance(http_ext, dict) and "routePrefix" in http_ext:
        prefix = http_ext["routePrefix"]
        if not isinstance(prefix, str):
            raise ConfigError([f"{host_path}: extensions.http.routePrefix must be a string"])
    if "functions" in host:
        listed = host["functions"]
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise ConfigError([f"{host_path}: 'functions' must be a list of function names"])
        allowed = {n.lower() for n in listed}
    functions: dict[str, Function] = {}
    for config_path in sorted(root.glob("*/function.json")):
        folder = config_path.parent
        if allowed is not None and folder.name.lower() not in allowed:
            continue
        config = _read_json(config_path, problems)
        if config is None:
            continue
        fn = _check_function(folder, config_path, config, prefix, env, problems)
        if fn is not None and not _is_disabled(fn.name, config, env):
            functions[fn.name] = fn
    if problems:
        raise ConfigError(problems)
    return App(root=root, route_prefix=prefix, functions=functions)


def _module_name(root: Path, script: Path) -> str | None:
    try:
        rel = script.relative_to(root).with_suffix("")
    except ValueError:
        return None
    parts = list(rel.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def load_function(app: App, fn: Function) -> None:
    """Import the function's script once, as the worker does; a failure marks the function, not the host."""
    try:
        module_name = _module_name(app.root, fn.script)
        module: ModuleType
        if module_name is not None:
            module = importlib.import_module(module_name)
        else:
            spec = importlib.util.spec_from_file_location(f"devhost_fn_{fn.name}", fn.script)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {fn.script}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        main = getattr(module, fn.entry_point, None)
        if not callable(main):
            raise AttributeError(f"{fn.script.name} has no function '{fn.entry_point}'")
        binding_names = {b["name"] for b in fn.bindings if b["name"] != "$return"}
        params = inspect.signature(main).parameters
        unknown = [p for p in params if p not in binding_names and p != "context"]
        missing = [b for b in binding_names if b not in params]
        if unknown or missing:
            raise TypeError(
                f"parameters of {fn.entry_point}() do not match function.json bindings "
                f"(not in function.json: {unknown or '-'}; not in Python: {missing or '-'})"
            )
        kinds = {b["name"]: ("out" if b["direction"] == "out" else "in") for b in fn.bindings}
        kinds[fn.trigger["name"]] = "trigger"
        fn.arg_plan = [(p, kinds.get(p, "context")) for p in params]
        fn.is_async = inspect.iscoroutinefunction(main)
        http_outs = [b["name"] for b in fn.bindings if b["direction"] == "out" and b["type"] == "http"]
        fn.http_out = http_outs[0] if http_outs else "$return"
        fn.main = main
    except Exception as exc:
        fn.load_error = f"{type(exc).__name__}: {exc}"
        LOG.error("function %s failed to load: %s\n%s", fn.name, fn.load_error, traceback.format_exc())


# --------------------------------------------------------------------------------------------
# Invocation


class _Out(func.Out[Any]):
    """Local stand-in for an output binding: keeps what the function sets."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


class _TraceContext(func_abc.TraceContext):
    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(func_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


#: The worker's one thread-local: `invocation_id` names the invocation a thread works for. The
#: worker sets it on the function's thread; threads the function starts may set it themselves
#: (`context.thread_local_storage`). Log records made here carry it as `record.invocation_id`.
_WORKER_TLS = threading.local()


def _invocation_record_factory(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.invocation_id = getattr(_WORKER_TLS, "invocation_id", None)
        return record

    make.devhost = True  # type: ignore[attr-defined]
    return make


def _tag_log_records() -> None:
    """Like Application Insights, tag every log record with the invocation its thread works for."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "devhost", False):
        logging.setLogRecordFactory(_invocation_record_factory(factory))


class _Context(func.Context):
    def __init__(self, fn: Function) -> None:
        self._fn = fn
        self._id = str(uuid.uuid4())
        self._tls = _WORKER_TLS

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def function_name(self) -> str:
        return self._fn.name

    @property
    def function_directory(self) -> str:
        return str(self._fn.folder)

    @property
    def trace_context(self) -> func_abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> func_abc.RetryContext:
        return _RetryContext()

    @property
    def thread_local_storage(self) -> Any:
        return self._tls


def call_function(fn: Function, trigger_value: Any) -> tuple[Any, dict[str, _Out]]:
    """Run fn with arguments bound by binding name; returns ($return, output bindings)."""
    assert fn.main is not None
    outs: dict[str, _Out] = {}
    kwargs: dict[str, Any] = {}
    context = _Context(fn)
    for param, kind in fn.arg_plan:
        if kind == "trigger":
            kwargs[param] = trigger_value
        elif kind == "context":
            kwargs[param] = context
        elif kind == "out":
            outs[param] = kwargs[param] = _Out()
        else:
            kwargs[param] = None
    before = getattr(_WORKER_TLS, "invocation_id", None)
    _WORKER_TLS.invocation_id = context.invocation_id  # as the worker does for the function's thread
    try:
        result = fn.main(**kwargs)
        if fn.is_async or inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    finally:
        _WORKER_TLS.invocation_id = before
    return result, outs


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _response_parts(value: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """What the host sends for a function's HTTP output, as HttpResponseConverter encodes it."""
    if isinstance(value, func_abc.HttpResponse):
        headers = value.headers
        pairs: list[tuple[str, str]] = []
        if hasattr(headers, "items") and hasattr(headers, "to_wsgi_list"):
            pairs = [(str(k), str(v)) for k, v in headers.to_wsgi_list()]
        else:
            pairs = [(str(k), str(v)) for k, v in dict(headers).items()]
        if not any(k.lower() == "content-type" for k, _ in pairs):
            mimetype = value.mimetype or "text/plain"
            ct = f"{mimetype}; charset={value.charset}" if mimetype.startswith("text/") else mimetype
            pairs.append(("Content-Type", ct))
        return int(value.status_code), pairs, value.get_body() or b""
    if value is None:
        return 204, [], b""
    if isinstance(value, str):
        return 200, [("Content-Type", "text/plain; charset=utf-8")], value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return 200, [("Content-Type", "application/octet-stream")], bytes(value)
    raise TypeError(f"an HTTP function must return HttpResponse, str or bytes, not {type(value).__name__}")


def _json_body(status: int, error: str, detail: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"error": error, "detail": detail}).encode("utf-8")
    return status, [("Content-Type", "application/json; charset=utf-8")], body


# --------------------------------------------------------------------------------------------
# Timer state


class TimerState:
    """Schedule status per timer (Last/Next/LastUpdated), in a folder or in memory."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._memory: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path | None:
        return None if self.folder is None else self.folder / "timers" / f"{name}.status.json"

    def get(self, name: str) -> dict[str, str] | None:
        with self._lock:
            path = self._path(name)
            if path is None:
                return self._memory.get(name)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) else None

    def put(self, name: str, status: dict[str, str]) -> None:
        with self._lock:
            path = self._path(name)
            if path is None:
                self._memory[name] = status
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(status), encoding="utf-8")
            tmp.replace(path)


def _iso(moment: datetime | None) -> str:
    return "0001-01-01T00:00:00+00:00" if moment is None else moment.astimezone(UTC).isoformat()


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The host


class AccessLog:
    """One line per invocation, written by a background thread so requests do not wait on stderr."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self._queue: queue.SimpleQueue[tuple[float, str, str, str, float] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, name: str, method: str, status: int | str, ms: float) -> None:
        if self.stream is None:
            return
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="devhost-access-log", daemon=True)
                    self._thread.start()
        self._queue.put((time.time(), name, method, str(status), ms))

    def _run(self) -> None:
        assert self.stream is not None
        while True:
            item = self._queue.get()
            batch = [item]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            lines = []
            for entry in batch:
                if entry is None:
                    continue
                ts, name, method, status, ms = entry
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
                millis = int(ts * 1000) % 1000
                lines.append(f"{stamp},{millis:03d} devhost {name} {method} {status} {ms:.1f} ms\n")
            with contextlib.suppress(Exception):
                self.stream.write("".join(lines))
                self.stream.flush()
            if None in batch:
                return

    def close(self) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(5)
            self._thread = None


class DevHost:
    """The app under `root`, loaded once, served by waitress; usable in-process or via the CLI.

    `access_log`: where the per-invocation lines go (default stderr; None: nowhere).
    """

    def __init__(
        self,
        root: str | Path,
        settings: Mapping[str, str] | None = None,
        *,
        timers: bool = True,
        state_dir: str | Path | None = None,
        threads: int = 16,
        access_log: TextIO | None = sys.stderr,
    ) -> None:
        self.root = Path(root).resolve()
        _tag_log_records()
        self.access_log = AccessLog(access_log)
        self.settings_applied = apply_settings(settings or {})
        self.timers_enabled = timers
        state = state_dir if state_dir is not None else os.environ.get("DEVHOST_STATE_DIR") or None
        self.timer_state = TimerState(Path(state).resolve() if state else None)
        self.threads = threads
        self.app = discover(self.root)
        root_str = str(self.root)
        if root_str not in sys.path:
            sys.path.insert(0, root_str)
        for fn in self.app.functions.values():
            load_function(self.app, fn)
        self._routes = self.app.http_functions()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._timer_threads: list[threading.Thread] = []
        self._background: set[threading.Thread] = set()
        self._background_lock = threading.Lock()
        self._active = 0
        self._active_lock = threading.Lock()
        self.port: int | None = None
        self.host: str | None = None

    # -- keys

    @staticmethod
    def _key(name: str) -> str | None:
        value = os.environ.get(name, "")
        return value or None

    def _authorised(self, level: str, environ: WsgiEnviron, query: list[tuple[str, str]]) -> bool:
        if level == "anonymous":
            return True
        master = self._key("DEVHOST_MASTER_KEY")
        function_key = self._key("DEVHOST_FUNCTION_KEY")
        keys = [k for k in ((master,) if level == "admin" else (function_key, master)) if k]
        if not keys:
            return True  # no key configured for this level: open locally, as with `func start`
        given = environ.get("HTTP_X_FUNCTIONS_KEY") or next((v for k, v in query if k == "code"), None)
        if not given:
            return False
        return any(hmac.compare_digest(given.encode(), k.encode()) for k in keys)

    # -- WSGI

    def wsgi(self, environ: WsgiEnviron, start_response: WsgiStartResponse) -> Iterable[bytes]:
        with self._active_lock:
            self._active += 1
        try:
            status, headers, body = self._handle(environ)
        finally:
            with self._active_lock:
                self._active -= 1
        reason = REASONS.get(status, "Unknown")
        out_body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else body
        headers = [(k, v) for k, v in headers if k.lower() not in {"content-length", "transfer-encoding"}]
        if status not in (204, 304) and not 100 <= status < 200:
            headers.append(("Content-Length", str(len(body))))
        else:
            out_body = b""
        start_response(f"{status} {reason}", headers)
        return [out_body]

    def _path(self, environ: WsgiEnviron) -> str:
        raw = environ.get("REQUEST_URI") or ""
        if raw:
            path = urlsplit(raw).path if "://" in raw[:10] else raw.split("?", 1)[0]
        else:
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        return "/" + path.lstrip("/")

    def _handle(self, environ: WsgiEnviron) -> tuple[int, list[tuple[str, str]], bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = self._path(environ)
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        segments = path.lower().strip("/").split("/")
        if segments[0] == "admin":
            return self._admin(method, segments[1:], environ, query)
        if path == "/" and method in {"GET", "HEAD"}:
            return 200, [("Content-Type", "text/plain; charset=utf-8")], b"The dev host is running.\n"
        allowed: set[str] = set()
        for fn in self._routes:
            assert fn.route is not None
            values = fn.route.match(path)
            if values is None:
                continue
            if fn.methods is not None and method not in fn.methods:
                allowed |= fn.methods
                continue
            if not self._authorised(fn.auth_level, environ, query):
                result = _json_body(
                    401, "unauthorized",
                    "this function needs a key: send it in the x-functions-key header or ?code=",
                )
                self._log(fn.name, method, result[0], started)
                return result
            result = self._invoke_http(fn, method, path, environ, query, values)
            self._log(fn.name, method, result[0], started)
            return result
        self._log("-", method, 404, started)
        if allowed:
            # The Functions host's routing treats `methods` as a route constraint: a known path with
            # another method is a 404 there (azure-functions-host#10098), so it is one here too.
            detail = f"no function matches {method} on this path; it accepts {', '.join(sorted(allowed))}"
            return _json_body(404, "not found", detail)
        return _json_body(404, "not found", "no function matches this path")

    def _log(self, name: str, method: str, status: int | str, started: float) -> None:
        # Never the path or the query string: either may carry keys or tokens.
        self.access_log.add(name, method, status, (time.perf_counter() - started) * 1000)

    def _read_body(self, environ: WsgiEnviron) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                return bytes(stream.read(int(length)))
            except ValueError:
                return b""
        return bytes(stream.read())

    def _invoke_http(
        self, fn: Function, method: str, path: str, environ: WsgiEnviron,
        query: list[tuple[str, str]], route_params: dict[str, str],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if fn.main is None:
            return _json_body(500, "function not loaded", f"function '{fn.name}' failed to load; see the log")
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        params: dict[str, str] = {}
        for key, value in query:
            params[key] = f"{params[key]},{value}" if key in params else value
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        qs = environ.get("QUERY_STRING", "")
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (f"?{qs}" if qs else "")
        request = func.HttpRequest(
            method=method, url=url, headers=headers, params=params, route_params=route_params,
            body=self._read_body(environ),
        )
        try:
            result, outs = call_function(fn, request)
            value = result if fn.http_out == "$return" else outs[fn.http_out].value
            return _response_parts(value)
        except Exception:
            LOG.error("function %s raised:\n%s", fn.name, traceback.format_exc())
            return _json_body(500, "function failed", f"'{fn.name}' raised an exception; see the log")

    # -- admin API

    def _admin(
        self, method: str, parts: list[str], environ: WsgiEnviron, query: list[tuple[str, str]]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        started = time.perf_counter()
        if parts[:2] in (["host", "status"], ["host", "ping"]) and len(parts) == 2:
            if method not in {"GET", "HEAD", "POST"}:
                return _json_body(405, "method not allowed", "use GET")
            if parts[1] == "ping":
                return 200, [], b""
            body = json.dumps(self.status()).encode("utf-8")
            return 200, [("Content-Type", "application/json; charset=utf-8")], body
        if len(parts) == 2 and parts[0] == "functions":
            fn = next((f for f in self.app.functions.values() if f.name.lower() == unquote(parts[1])), None)
            if fn is None:
                return _json_body(404, "not found", "no function with this name")
            if method != "POST":
                result = _json_body(405, "method not allowed", "use POST with {\"input\": \"...\"}")
                result[1].append(("Allow", "POST"))
                return result
            if not self._authorised("admin", environ, query):
                return _json_body(401, "unauthorized", "needs the master key (x-functions-key or ?code=)")
            raw = self._read_body(environ)
            try:
                payload = json.loads(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError):
                return _json_body(400, "invalid body", "expected a JSON object like {\"input\": \"...\"}")
            if not isinstance(payload, dict) or not isinstance(payload.get("input", ""), str | type(None)):
                return _json_body(400, "invalid body", "expected a JSON object whose 'input' is a string")
            if fn.main is None:
                return _json_body(500, "function not loaded", f"'{fn.name}' failed to load; see the log")
            self._run_background(fn, payload.get("input") or "")
            self._log(fn.name, "ADMIN", 202, started)
            return 202, [], b""
        return _json_body(404, "not found", "unknown admin endpoint")

    def status(self) -> dict[str, Any]:
        """Readiness and what was loaded; no keys or settings values."""
        functions = []
        for fn in self.app.functions.values():
            entry: dict[str, Any] = {"name": fn.name, "trigger": fn.trigger_type}
            if fn.route is not None:
                prefix = f"/{self.app.route_prefix.strip('/')}" if self.app.route_prefix.strip("/") else ""
                entry["route"] = prefix + "/" + fn.route.template.strip("/")
                entry["methods"] = sorted(fn.methods) if fn.methods else None
                entry["authLevel"] = fn.auth_level
            if fn.schedule is not None:
                entry["schedule"] = fn.schedule.expression
            if fn.load_error:
                entry["error"] = fn.load_error
            functions.append(entry)
        errors = [f"{f['name']}: {f['error']}" for f in functions if "error" in f]
        return {"state": "Running", "version": "devhost", "functions": functions, "errors": errors}

    def invoke(self, name: str, input_text: str = "", *, past_due: bool = False) -> Any:
        """Run a function now in this thread (admin endpoint, timers, tests); returns its $return."""
        fn = self.app.functions[name]
        if fn.main is None:
            raise RuntimeError(f"function '{name}' failed to load: {fn.load_error}")
        ttype = fn.trigger_type.lower()
        trigger: Any
        if ttype == "timertrigger":
            status = self.timer_state.get(fn.name) or {}
            trigger = TimerRequest(
                past_due=past_due,
                schedule_status={k: status.get(k, _iso(None)) for k in ("Last", "Next", "LastUpdated")},
                schedule={"AdjustForDST": True},
            )
        elif ttype == "httptrigger":
            trigger = func.HttpRequest(
                method="POST", url=f"http://localhost/admin/functions/{name}",
                headers={"content-type": "text/plain"}, body=input_text.encode("utf-8"),
            )
        elif ttype == "queuetrigger":
            trigger = func.QueueMessage(id=str(uuid.uuid4()), body=input_text.encode("utf-8"))
        else:
            trigger = input_text
        started = time.perf_counter()
        outcome = "ok"
        try:
            with fn.lock if ttype == "timertrigger" else contextlib.nullcontext():
                result, _ = call_function(fn, trigger)
            return result
        except Exception:
            outcome = "error"
            LOG.error("function %s raised:\n%s", fn.name, traceback.format_exc())
            raise
        finally:
            label = f"{ttype.removesuffix('trigger')}{' past_due' if past_due else ''}"
            self._log(fn.name, label, outcome, started)

    def _run_background(self, fn: Function, input_text: str, past_due: bool = False) -> None:
        def run() -> None:
            with contextlib.suppress(Exception):
                self.invoke(fn.name, input_text, past_due=past_due)
            with self._background_lock:
                self._background.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"devhost-run-{fn.name}", daemon=True)
        with self._background_lock:
            self._background.add(thread)
        thread.start()

    # -- timers

    def _timer_loop(self, fn: Function) -> None:
        assert fn.schedule is not None
        schedule = fn.schedule
        now = datetime.now(UTC)
        monitor = fn.use_monitor
        if monitor is None:
            monitor = schedule.min_interval(now) >= timedelta(minutes=1)
        status = self.timer_state.get(fn.name) if monitor else None
        next_due = _parse_iso(status.get("Next")) if status else None
        last = _parse_iso(status.get("Last")) if status else None
        if next_due is not None and next_due < now:
            # The host was down when this was due: run it now, flagged, as the real host does.
            self._run_timer(fn, scheduled=next_due, past_due=True, record=False)
            last = next_due
        elif fn.run_on_startup:
            self._run_timer(fn, scheduled=now, past_due=False, record=False)
        nxt = schedule.next_after(datetime.now(UTC))
        self._record(fn, last=last, nxt=nxt)
        while not self._stopping.is_set():
            delay = (nxt - datetime.now(UTC)).total_seconds()
            if delay > 0 and self._stopping.wait(min(delay, 3600)):
                return
            if delay > 0 and datetime.now(UTC) < nxt:
                continue
            now = datetime.now(UTC)
            following = schedule.next_after(nxt)
            # Started after the following occurrence was due too: a run was missed, like after a pause.
            late = following <= now
            self._run_timer(fn, scheduled=nxt, past_due=late)
            nxt = schedule.next_after(max(datetime.now(UTC), nxt))

    def _run_timer(self, fn: Function, scheduled: datetime, past_due: bool, record: bool = True) -> None:
        with contextlib.suppress(Exception):
            self.invoke(fn.name, past_due=past_due)
        if record and fn.schedule is not None:
            self._record(fn, last=scheduled, nxt=fn.schedule.next_after(datetime.now(UTC)))

    def _record(self, fn: Function, last: datetime | None, nxt: datetime) -> None:
        self.timer_state.put(
            fn.name, {"Last": _iso(last), "Next": _iso(nxt), "LastUpdated": _iso(datetime.now(UTC))}
        )

    def start_timers(self) -> None:
        if not self.timers_enabled:
            return
        for fn in self.app.functions.values():
            if fn.schedule is not None and fn.main is not None:
                thread = threading.Thread(
                    target=self._timer_loop, args=(fn,), name=f"timer-{fn.name}", daemon=True
                )
                self._timer_threads.append(thread)
                thread.start()

    # -- serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start serving in a background thread; returns the bound port (0 picks a free one)."""
        from waitress.server import create_server

        self._server = create_server(
            self.wsgi, host=host, port=port, threads=self.threads, ident="devhost",
            max_request_body_size=body_limit(), clear_untrusted_proxy_headers=True,
            channel_timeout=30,
        )
        self._server.channel_class = _json_error_channel()
        self.host = host
        self.port = int(self._server.effective_port)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="devhost-http", daemon=True)
        self._thread.start()
        self.start_timers()
        return self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _loop(self) -> None:
        from waitress import wasyncore

        server = self._server
        while not self._stopping.is_set():
            wasyncore.loop(timeout=0.2, map=server._map, count=1)
        # Stop accepting (close the listening socket only: task threads still need the trigger),
        # then let in-flight requests finish and their replies flush (bounded).
        with contextlib.suppress(Exception):
            wasyncore.dispatcher.close(server)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and server._map:
            with self._active_lock:
                active = self._active
            busy = any(getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0)
                       for ch in list(server._map.values()))
            if not active and not busy:
                break
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
        wasyncore.close_all(server._map)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop timers and HTTP; waits for in-flight work (bounded)."""
        self._stopping.set()
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.pull_trigger()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        deadline = time.monotonic() + timeout
        for thread in [*self._timer_threads, *list(self._background)]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._timer_threads.clear()
        self._server = None
        self.access_log.close()

    def __enter__(self) -> DevHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# CLI


def _port_from(args_port: int | None, settings_path: Path | None) -> int:
    if args_port is not None:
        return args_port
    env_port = os.environ.get("FUNCTIONS_PORT", "").strip()
    if env_port:
        if not env_port.isdigit() or not 0 <= int(env_port) < 65536:
            raise ConfigError([f"FUNCTIONS_PORT: '{env_port}' is not a port number"])
        return int(env_port)
    if settings_path is not None and settings_path.is_file():
        configured = local_http_port(settings_path)
        if configured:
            return configured
    return DEFAULT_PORT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.devhost", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".", help="app root holding host.json (default: .)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: $FUNCTIONS_PORT or 7071")
    parser.add_argument("--settings", default=None, help="default: <root>/local.settings.json")
    parser.add_argument("--no-timers", action="store_true", help="do not run timers on their schedule")
    parser.add_argument("--state-dir", default=None, help="timer schedule status folder ($DEVHOST_STATE_DIR)")
    parser.add_argument("--threads", type=int, default=16, help="request threads (default 16)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    root = Path(args.root).resolve()
    explicit = args.settings or os.environ.get("DEVHOST_SETTINGS_FILE")
    settings_path = Path(explicit) if explicit else root / "local.settings.json"
    try:
        values: dict[str, str] = {}
        if explicit or settings_path.is_file():
            values = read_settings_file(settings_path)
        port = _port_from(args.port, settings_path)
        host = DevHost(
            root, values, timers=not args.no_timers, state_dir=args.state_dir, threads=args.threads
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"devhost: error: {problem}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        bound = host.serve(args.host, port)
    except OSError as exc:
        print(f"devhost: error: cannot listen on {args.host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    names = ", ".join(sorted(host.app.functions)) or "none"
    LOG.info("serving %s on http://%s:%d (functions: %s)", root, args.host, bound, names)
    while not stop.wait(0.5):
        pass
    LOG.info("stopping")
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
