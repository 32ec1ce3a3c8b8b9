"""Settings come from the environment: app settings in Azure, `local.settings.json` Values locally.

Everything reads them through here so that one place knows every name, its default and how it is
parsed, and so that a bad value names the setting instead of failing somewhere deep inside a
request. The app's own settings are typed sections (`delivery()`, `feeds()`, `store()`,
`outgoing()`, `digest()`, `weather()`), each read from the environment once per process and then
kept; `reload()` forgets them (tests that change the environment, the admin CLI after loading
`local.settings.json`). A bad value fails the section that holds it, not the others.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SettingError(ValueError):
    """A setting is present but cannot be used."""


def get(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def get_int(name: str, default: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(f"setting {name} must be a whole number, got {raw!r}") from None


def get_float(name: str, default: float) -> float:
    raw = get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingError(f"setting {name} must be a number, got {raw!r}") from None


def get_bool(name: str, default: bool = False) -> bool:
    raw = get(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"setting {name} must be true or false, got {raw!r}")


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True)
class Delivery:
    """Posting to Teams (`shared.delivery`): timeouts, retries and the card size margin."""

    timeout_seconds: float
    connect_timeout_seconds: float
    max_attempts: int
    inline_attempts: int
    budget_seconds: float
    margin_bytes: int
    max_threads: int
    max_age_seconds: float
    rate_workflows: str | None
    rate_legacy: str | None
    #: the Flow bot's budget per connection (flow owner), `count/seconds,...` (shared.delivery.budget)
    budget_workflows: str | None
    #: how long each run of the `outbox_sweep` timer (every 30 s) keeps draining the outbox
    sweep_seconds: float
    extra_allowed_urls: str

    @classmethod
    def read(cls) -> Delivery:
        # Clamped: a socket timeout of 0 would mean non-blocking, and a huge one would hang a worker.
        timeout = _clamp(get_float("DELIVERY_TIMEOUT_SECONDS", 10.0), 0.5, 120.0)
        return cls(
            timeout_seconds=timeout,
            connect_timeout_seconds=min(timeout, 5.0),
            max_attempts=max(1, get_int("DELIVERY_MAX_ATTEMPTS", 8)),
            inline_attempts=max(1, get_int("DELIVERY_INLINE_ATTEMPTS", 3)),
            budget_seconds=max(0.0, get_float("DELIVERY_BUDGET_SECONDS", 8.0)),
            margin_bytes=int(_clamp(get_int("DELIVERY_MARGIN_BYTES", 2048), 0, 16384)),
            max_threads=int(_clamp(get_int("DELIVERY_MAX_THREADS", 8), 1, 32)),
            max_age_seconds=max(0.0, get_float("DELIVERY_MAX_AGE_SECONDS", 86400.0)),
            rate_workflows=get("DELIVERY_RATE_WORKFLOWS"),
            rate_legacy=get("DELIVERY_RATE_LEGACY"),
            budget_workflows=get("DELIVERY_BUDGET_WORKFLOWS"),
            sweep_seconds=_clamp(get_float("DELIVERY_SWEEP_SECONDS", 25.0), 1.0, 270.0),
            extra_allowed_urls=get("DELIVERY_EXTRA_ALLOWED_URLS") or "",
        )


@dataclass(frozen=True)
class Feeds:
    """Outbound fetches of the digests (`shared.digest.fetch`)."""

    timeout_seconds: float
    max_bytes: int
    max_redirects: int
    allow_loopback: bool

    @classmethod
    def read(cls) -> Feeds:
        return cls(
            timeout_seconds=get_float("FEEDS_TIMEOUT_SECONDS", 10.0),
            max_bytes=get_int("FEEDS_MAX_BYTES", 2 * 1024 * 1024),
            max_redirects=get_int("FEEDS_MAX_REDIRECTS", 3),
            allow_loopback=get_bool("FEEDS_ALLOW_LOOPBACK", False),
        )


@dataclass(frozen=True)
class Weather:
    """The weather digest's Open-Meteo endpoints and units."""

    geocoding_url: str
    forecast_url: str
    units: str

    @classmethod
    def read(cls) -> Weather:
        return cls(
            geocoding_url=get("OPEN_METEO_GEOCODING_URL") or "https://geocoding-api.open-meteo.com/v1/search",
            forecast_url=get("OPEN_METEO_FORECAST_URL") or "https://api.open-meteo.com/v1/forecast",
            units=(get("WEATHER_UNITS") or "metric").lower(),
        )


@dataclass(frozen=True)
class Store:
    """Table Storage: table names' prefix and how long a call may take before callers answer 503."""

    table_prefix: str
    timeout_seconds: float

    @classmethod
    def read(cls) -> Store:
        return cls(
            table_prefix=get("TABLE_PREFIX", "tc") or "tc",
            timeout_seconds=get_float("STORE_TIMEOUT_SECONDS", 3.0),
        )


@dataclass(frozen=True)
class Outgoing:
    """The bot: Teams waits 5 s for an answer; replayed activities are refused within a window."""

    deadline_seconds: float
    replay_window_seconds: float
    #: how long a process keeps a team registration it read (also "no such team"): floods cost
    #: no table reads; a token rotated or retired with the CLI counts after at most this long
    team_cache_seconds: float

    @classmethod
    def read(cls) -> Outgoing:
        return cls(
            deadline_seconds=get_float("OUTGOING_DEADLINE_SECONDS", 4.0),
            replay_window_seconds=get_float("OUTGOING_REPLAY_WINDOW_SECONDS", 300.0),
            team_cache_seconds=min(max(get_float("OUTGOING_TEAM_CACHE_SECONDS", 30.0), 0.0), 300.0),
        )


@dataclass(frozen=True)
class Digest:
    """One timer run of the scheduled connector."""

    budget_seconds: float
    max_per_run: int
    concurrency: int

    @classmethod
    def read(cls) -> Digest:
        return cls(
            budget_seconds=get_float("DIGEST_BUDGET_SECONDS", 120.0),
            max_per_run=get_int("DIGEST_MAX_PER_RUN", 2000),
            concurrency=get_int("DIGEST_CONCURRENCY", 8),
        )


@dataclass(frozen=True)
class Retention:
    """How long the timer's purge keeps what nothing else removes (`shared.store.purge`)."""

    #: delivery log rows (`admin`'s "what happened to my message") are kept this long
    delivery_log_days: int
    #: idempotency keys (dedupe, the bot's replay guard, delivery parts) are kept this long past
    #: their expiry: an expired key is already free to take over; this only bounds the table
    expired_keys_hours: int
    #: events buffered for a digest are dropped when older than this (a paused subscription)
    events_days: int
    #: rows each kind may delete in one timer run (the rest waits for the next run)
    per_run: int

    @classmethod
    def read(cls) -> Retention:
        return cls(
            delivery_log_days=int(_clamp(get_int("RETENTION_DELIVERY_LOG_DAYS", 30), 1, 3650)),
            expired_keys_hours=int(_clamp(get_int("RETENTION_EXPIRED_KEYS_HOURS", 168), 1, 87600)),
            events_days=int(_clamp(get_int("RETENTION_EVENTS_DAYS", 30), 1, 3650)),
            per_run=int(_clamp(get_int("RETENTION_PURGE_PER_RUN", 1000), 1, 100_000)),
        )


@dataclass(frozen=True)
class Configure:
    """The channel configuration page (`shared.configure`): where it is and the key of its links."""

    #: the page's public origin; links in Teams point here
    base_url: str
    #: the HMAC key of links and sessions (a secret); empty: the app keeps one in its store
    signing_key: str = field(repr=False)

    @classmethod
    def read(cls) -> Configure:
        # The Bicep sets it to https://<app>.azurewebsites.net; locally http://localhost, which
        # browsers treat as a secure context, so the page's Secure cookie works over plain HTTP.
        fallback = get(PUBLIC_BASE_URL_SETTING) or "http://localhost:7071"
        return cls(
            base_url=(get("CONFIGURE_BASE_URL") or fallback).rstrip("/"),
            signing_key=(get("CONFIGURE_SIGNING_KEY") or "").strip(),
        )


_sections: dict[type, object] = {}
_sections_lock = threading.Lock()


def _section(kind: type[T], read: Callable[[], T]) -> T:
    found = _sections.get(kind)
    if found is None:
        with _sections_lock:
            found = _sections.get(kind)
            if found is None:
                found = _sections[kind] = read()
    assert isinstance(found, kind)
    return found


def delivery() -> Delivery:
    return _section(Delivery, Delivery.read)


def feeds() -> Feeds:
    return _section(Feeds, Feeds.read)


def weather() -> Weather:
    return _section(Weather, Weather.read)


def store() -> Store:
    return _section(Store, Store.read)


def outgoing() -> Outgoing:
    return _section(Outgoing, Outgoing.read)


def digest() -> Digest:
    return _section(Digest, Digest.read)


def retention() -> Retention:
    return _section(Retention, Retention.read)


def configure() -> Configure:
    return _section(Configure, Configure.read)


def reload() -> None:
    """Forget the sections read so far: the next call reads the environment again."""
    with _sections_lock:
        _sections.clear()


def read_local_settings(path: Path) -> dict[str, str]:
    """The `Values` of a local.settings.json as strings, what `func start` exports.

    The one reader of that file (the admin CLI, the dev host, `make serve`, the demo); the
    ValueError says what is wrong, naming the file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with a 'Values' object")
    if data.get("IsEncrypted") is True:
        raise ValueError(f"{path}: IsEncrypted is true; only plain settings can be read")
    values = data.get("Values", {})
    if not isinstance(values, dict):
        raise ValueError(f"{path}: 'Values' must be an object of strings")
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[name] = str(value)
        else:
            raise ValueError(f"{path}: Values.{name} must be a string")
    return out


def load_local_settings(path: Path, *, override: bool = False) -> dict[str, str]:
    """Put the Values of a `local.settings.json` into the environment, as `func start` does.

    Variables already in the environment win unless `override`, so tests and CI can point a
    process elsewhere without editing the file.
    """
    loaded: dict[str, str] = {}
    for key, text in read_local_settings(path).items():
        if override or key not in os.environ:
            os.environ[key] = text
            loaded[key] = text
    if loaded:
        reload()
    return loaded


PUBLIC_BASE_URL_SETTING = "PUBLIC_BASE_URL"


def public_url(*segments: str) -> str:
    """An address of this app as its callers see it (`PUBLIC_BASE_URL`), path segments escaped."""
    from urllib.parse import quote

    base = (get(PUBLIC_BASE_URL_SETTING) or "http://127.0.0.1:7071").rstrip("/")
    return "/".join([base, "api", *(quote(segment, safe="") for segment in segments)])


APP_ROOT = Path(__file__).resolve().parent.parent


def function_timeout_seconds(host_json: Path | None = None) -> float | None:
    """host.json's `functionTimeout` in seconds; None when unlimited (-1), absent or unreadable.

    Work that plans its own time (the digest run) must end well inside it: the host kills an
    invocation that overruns.
    """
    path = host_json or APP_ROOT / "host.json"  # read each time: a digest run is rare
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("functionTimeout")
    except (OSError, ValueError, AttributeError):
        return None
    return _timespan_seconds(value) if isinstance(value, str) else None


def _timespan_seconds(text: str) -> float | None:
    """A .NET TimeSpan as host.json writes it: "hh:mm:ss", "d.hh:mm:ss" or "hh:mm"; "-1" means none."""
    text = text.strip()
    days = 0.0
    head, dot, rest = text.partition(".")
    if dot and head.isdigit():  # "d.hh:mm:ss" (in "hh:mm:ss.f" the head holds colons)
        days, text = float(head), rest
    parts = text.split(":")
    if len(parts) == 2:
        parts.append("0")
    if len(parts) != 3 or not all(p.replace(".", "", 1).isdigit() for p in parts):
        return None
    hours, minutes, seconds = (float(p) for p in parts)
    return days * 86400 + hours * 3600 + minutes * 60 + seconds
