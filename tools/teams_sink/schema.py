"""The official Adaptive Card JSON schema as one of the Flow bot's rules, read from ../shared/schemas.

The schemas are third-party files kept beside the repository, never copied into it; without them the
check is skipped and the sink says so once. `jsonschema` (a dev dependency) is imported only when a
schema is actually loaded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

log = logging.getLogger("tools.teams_sink")

DEFAULT_FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
_FILE = "adaptive-card-{major}.{minor}.0.json"
_MAX_MESSAGES = 3  # schema findings reported per card; the first ones are the useful ones

_warned: set[str] = set()
_warned_lock = threading.Lock()


def schema_file(max_version: tuple[int, int], folder: Path | None = None) -> Path | None:
    """The schema of the highest version the channel displays; the closest one above it when that exact
    file is absent (no schema below 1.4 is kept: 1.4's is the strictest available), None when none is."""
    folder = folder or DEFAULT_FOLDER
    exact = folder / _FILE.format(major=max_version[0], minor=max_version[1])
    if exact.is_file():
        return exact
    found = []
    for path in folder.glob("adaptive-card-*.*.0.json") if folder.is_dir() else []:
        try:
            major, minor = (int(part) for part in _version_of(path).split("."))
        except ValueError:
            continue
        found.append(((major, minor), path))
    above = sorted(item for item in found if item[0] >= max_version)
    return above[0][1] if above else None


def _version_of(path: Path) -> str:
    """'adaptive-card-1.4.0.json' -> '1.4'."""
    return path.name[len("adaptive-card-") : -len(".0.json")]


def warn_once(message: str) -> None:
    """Log a configuration notice once per process (every test starts a sink; one line is enough)."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("%s", message)


class CardSchema:
    """Validates cards against one schema file; the validator is built on first use and then shared."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = _version_of(path)
        self._validator: Validator | None = None
        self._lock = threading.Lock()

    def _get(self) -> Validator:
        with self._lock:
            if self._validator is None:
                self._validator = _make_validator(json.loads(self.path.read_text(encoding="utf-8")))
            return self._validator

    def problems(self, card: dict[str, Any], where: str) -> list[str]:
        """Readable findings (JSON path, element type, what is wrong); [] for a valid card.

        `msteams` is Teams' own extension, which the stock schema refuses (schemas/README.md): it is
        stripped from the card before validating and checked by the sink's other rules instead.
        """
        stripped = {key: value for key, value in card.items() if key != "msteams"}
        found: list[str] = []
        for error in self._get().iter_errors(stripped):
            for finding in _findings(error):
                text = _describe(finding, where, self.version)
                if text not in found:
                    found.append(text)
        if len(found) > _MAX_MESSAGES:
            found = [*found[:_MAX_MESSAGES], f"... and {len(found) - _MAX_MESSAGES} more schema findings"]
        return found


def _make_validator(schema: dict[str, Any]) -> Validator:
    """Draft-06, with the element lists (`anyOf` of one branch per type) dispatched on the element's own
    `type`: the same verdict as trying every branch, some 20 times faster on a large card, and the
    errors come from the element's own definition."""
    from jsonschema import Draft6Validator, validators
    from jsonschema.exceptions import ValidationError

    plain_any_of = Draft6Validator.VALIDATORS["anyOf"]
    by_type: dict[int, dict[str, int] | None] = {}

    def branches_by_type(branches: list[Any]) -> dict[str, int] | None:
        table: dict[str, int] = {}
        for index, branch in enumerate(branches):
            refs = branch.get("allOf") if isinstance(branch, dict) else None
            ref = refs[0].get("$ref") if isinstance(refs, list) and len(refs) == 1 else None
            if not isinstance(ref, str) or not ref.startswith("#/definitions/") or set(branch) - {
                "allOf",
                "required",
            }:
                return None
            table[ref[len("#/definitions/") :]] = index
        return table

    # `descend` is on every concrete validator but not on the Validator protocol.
    def any_of(validator: Any, branches: Any, instance: Any, schema: dict[str, Any]) -> Any:
        key = id(branches)
        if key not in by_type:
            by_type[key] = branches_by_type(branches) if isinstance(branches, list) else None
        table = by_type[key]
        kind = instance.get("type") if isinstance(instance, dict) else None
        if table is None or not isinstance(kind, str):
            yield from plain_any_of(validator, branches, instance, schema)
            return
        index = table.get(kind)
        if index is None:
            yield ValidationError(f"{kind!r} is not one of the types allowed here")
            return
        yield from validator.descend(instance, branches[index], schema_path=index)

    extended = validators.extend(Draft6Validator, {"anyOf": any_of})
    result: Validator = extended(schema)
    return result


def _about_type(error: ValidationError) -> bool:
    """Whether a branch failed because the element is of another type (the branch is not its own)."""
    path = list(error.relative_path)
    if path == ["type"] or (not path and error.validator in ("type", "enum")):
        return True
    required = error.validator_value if error.validator == "required" else ()
    return isinstance(required, list) and "type" in required and not path


def _findings(error: ValidationError) -> list[ValidationError]:
    """Descend through `anyOf` (the schema's `ImplementationsOf.*` lists) into the branch of the element's
    own `type`, so each finding names the property at fault instead of "not valid under any schema"."""
    if error.validator in ("anyOf", "oneOf") and error.context and isinstance(error.instance, dict):
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
        own = [errs for errs in branches.values() if not any(_about_type(e) for e in errs)]
        if len(own) == 1:
            return [finding for sub in own[0] for finding in _findings(sub)]
    return [error]


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _describe(error: ValidationError, where: str, version: str) -> str:
    instance = error.instance
    kind = instance.get("type") if isinstance(instance, dict) else None
    at = where + _path(error.absolute_path)
    label = f"{at} ({kind})" if isinstance(kind, str) else at
    if error.validator in ("anyOf", "oneOf"):
        if isinstance(kind, str):
            return f"{label}: '{kind}' is not an Adaptive Cards {version} type here"
        if isinstance(instance, dict):
            return f"{label}: an element without a 'type' (Adaptive Cards {version} schema)"
        allowed = _enum(error)
        values = f": one of {', '.join(map(repr, allowed))}" if allowed else ""
        shown = json.dumps(instance)[:60]
        return f"{label}: {shown} is not an allowed value{values} (Adaptive Cards {version})"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        properties = error.schema.get("properties") if isinstance(error.schema, dict) else None
        known = _keys(properties)
        extra = sorted(key for key in instance if key not in known)
        names = ", ".join(repr(key) for key in extra) or "?"
        return f"{label}: property {names} is not in the Adaptive Cards {version} schema"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{label}: {message} (Adaptive Cards {version} schema)"


def _enum(error: ValidationError) -> list[Any]:
    """The enumerated values somewhere among an `anyOf`'s failed branches (Teams' case-insensitive
    enums are an `enum` plus a `pattern` alternative)."""
    for sub in error.context or ():
        if sub.validator == "enum" and isinstance(sub.validator_value, list):
            return list(sub.validator_value)
        found = _enum(sub)
        if found:
            return found
    return []


def _keys(value: Any) -> Sequence[str]:
    return list(value) if isinstance(value, dict) else []
