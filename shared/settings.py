"""Settings come from the environment: app settings in Azure, `local.settings.json` Values locally.

Everything reads them through here so that one place knows how values are parsed, and so that a
bad value names the setting instead of failing somewhere deep inside a request.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


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
