"""Templates (Jinja2, autoescape on) and static files of the page; loaded on first use."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: what the page may load from static/ (vendor/: copied from node_modules and ../shared at build time)
STATIC_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".txt": "text/plain",
}

_env: Environment | None = None
_lock = threading.Lock()


def _environment() -> Environment:
    global _env
    with _lock:
        if _env is None:
            from jinja2 import Environment, FileSystemLoader, select_autoescape

            _env = Environment(
                loader=FileSystemLoader(str(TEMPLATES)),
                autoescape=select_autoescape(default=True, default_for_string=True),
                trim_blocks=True,
                lstrip_blocks=True,
            )
        return _env


def render(template: str, **values: Any) -> bytes:
    return _environment().get_template(template).render(**values).encode("utf-8")


def static_file(name: str) -> tuple[bytes, str] | None:
    """A static file by its path under static/ (no way out of it), with its type; None if absent."""
    if not name or ".." in name.split("/") or name.startswith("/") or "\\" in name:
        return None
    path = (STATIC / name).resolve()
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or STATIC not in path.parents or not path.is_file():
        return None
    return path.read_bytes(), kind


def renderer_present() -> bool:
    return (STATIC / "vendor" / "adaptivecards.min.js").is_file()
