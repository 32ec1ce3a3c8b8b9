"""The project's tables behind small repositories: `open_store()` -> `Store`.

Importing this package is cheap (errors only); pydantic models and the Azure SDK load when first
used, so a function that answers without the store does not pay for them at cold start. The
table design is described in `shared.store.tables`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.store.errors import Conflict, NotFound, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from shared.store.tables import Store, open_store

__all__ = ["Conflict", "NotFound", "Store", "StoreError", "StoreUnavailable", "open_store"]


def __getattr__(name: str) -> Any:
    if name in ("Store", "open_store"):
        from shared.store import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'shared.store' has no attribute {name!r}")
