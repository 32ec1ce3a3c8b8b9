"""Incoming sources: one module per sender kind, found by name so a new source is one file.

A module ``shared/incoming/sources/<name>.py`` exposes ``SOURCES: dict[str, Source]``. A route's ``source``
is looked up in the module of the same name first, then in every module (``text`` lives in
``generic``). ``auto`` asks each source's ``detect`` in turn. Modules are imported on first use,
which keeps Jinja2 and the other sources off the cold-start path of a route that does not need them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.incoming.sources.base import Incoming, Source

_NOT_SOURCES = {"base", "auth"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
#: detection order for ``auto``: the most specific signals first, the catch-all last
_DETECT_ORDER = (
    "github",
    "azure_devops",
    "grafana",
    "alertmanager",
    "messagecard",
    "adaptivecard",
    "generic",
)


class UnknownSource(LookupError):
    """The route names a source kind that no module provides."""


@cache
def _module_names() -> tuple[str, ...]:
    """Listed once per process: the modules ship with the app, and a listing costs a directory read."""
    folder = Path(__file__).parent
    found = [m.name for m in pkgutil.iter_modules([str(folder)]) if m.name not in _NOT_SOURCES]
    ordered = [n for n in _DETECT_ORDER if n in found]
    return tuple(ordered + sorted(n for n in found if n not in ordered))


@cache
def _sources_of(module_name: str) -> dict[str, Source]:
    module = importlib.import_module(f"{__name__}.{module_name}")
    sources: dict[str, Source] = getattr(module, "SOURCES", {})
    return sources


def get(kind: str) -> Source:
    """The source for a route's ``source`` value."""
    kind = (kind or "").strip().lower().replace("-", "_")
    if not _NAME.match(kind):
        raise UnknownSource(kind)
    names = _module_names()
    if kind in names and kind in _sources_of(kind):
        return _sources_of(kind)[kind]
    for name in names:
        if kind in _sources_of(name):
            return _sources_of(name)[kind]
    raise UnknownSource(kind)


def kinds() -> list[str]:
    """Every source kind (for the admin CLI and docs)."""
    out: list[str] = []
    for name in _module_names():
        out.extend(_sources_of(name))
    return out


def detect(req: Incoming) -> Source:
    """The first source that recognises the request (route source ``auto``)."""
    for name in _module_names():
        for source in _sources_of(name).values():
            if source.detect(req):
                return source
    return get("generic")
