"""One registry style for the pluggable kinds of this app: incoming sources and digest feeds.

Each registry is an explicit table, kind -> the module that provides it, written where the kinds
are (``shared.incoming.sources``, ``shared.digest.feeds``). Why a table and not a folder scan:

- cold start: looking a kind up imports that one module and nothing else (no directory listing,
  no Jinja2 for a route that never renders a template, no feedparser for a weather digest);
- order: the table's order is the order callers iterate in (the incoming sources' detection
  order), stated once instead of derived from file names; a row marked ``last`` (a catch-all)
  stays after every row registered later;
- nothing forgotten: ``tests/test_plugins.py`` checks that every module file in a registry's
  folder is in its table and that every row imports and provides what it names.

A plug-in module exposes a dict named by its registry (``SOURCES``, ``FEEDS``): kind -> object.
A registry may carry more per row than the module (a subclass of ``Row``), for callers that must
know something about a kind without importing it (the bot's usage text names each feed's target).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Registry", "Row", "UnknownKind"]


@dataclass(frozen=True)
class Row:
    """Where one kind lives: ``module`` (dotted path); ``last``: a catch-all, iterated last."""

    module: str
    last: bool = False


T = TypeVar("T")
R = TypeVar("R", bound=Row)


class UnknownKind(LookupError):
    """No row of the registry names this kind."""


class Registry(Generic[T, R]):
    """kind -> ``Row``; ``get`` imports the row's module on first use and returns its plug-in."""

    def __init__(self, what: str, attribute: str, rows: Mapping[str, R]) -> None:
        self.what = what
        self.attribute = attribute
        self._rows: dict[str, R] = dict(rows)
        self._loaded: dict[str, T] = {}
        self._lock = threading.Lock()

    def __contains__(self, kind: object) -> bool:
        return kind in self._rows

    def kinds(self) -> tuple[str, ...]:
        """Every kind in the table's order, ``last`` rows at the end."""
        rows = self._rows.items()
        return tuple([k for k, r in rows if not r.last] + [k for k, r in rows if r.last])

    def row(self, kind: str) -> R:
        try:
            return self._rows[kind]
        except KeyError:
            raise UnknownKind(kind) from None

    def get(self, kind: str) -> T:
        """The plug-in for ``kind``: ``<module>.<attribute>[kind]``, imported once per process."""
        found = self._loaded.get(kind)
        if found is not None:
            return found
        row = self.row(kind)
        module = importlib.import_module(row.module)
        provided: Mapping[str, T] = getattr(module, self.attribute, {})
        if kind not in provided:
            raise LookupError(f"{row.module}.{self.attribute} has no {self.what} {kind!r}")
        with self._lock:
            return self._loaded.setdefault(kind, provided[kind])

    def register(self, kind: str, row: R) -> None:
        """Add a kind after the others (before the ``last`` rows unless it is one itself)."""
        with self._lock:
            if kind in self._rows:
                raise ValueError(f"{self.what} {kind!r} is registered already")
            self._rows[kind] = row

    def unregister(self, kind: str) -> None:
        with self._lock:
            if self._rows.pop(kind, None) is None:
                raise UnknownKind(kind)
            self._loaded.pop(kind, None)

    @contextmanager
    def registered(self, kind: str, row: R) -> Iterator[None]:
        """``register`` for the duration of a block (tests), undone however the block ends."""
        self.register(kind, row)
        try:
            yield
        finally:
            self.unregister(kind)
