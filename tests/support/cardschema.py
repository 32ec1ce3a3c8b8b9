"""Test helper: validate cards and messages against the official Adaptive Card JSON schemas.

`assert_valid_card` checks a card against the 1.5 schema (what Teams renders for bots);
`assert_workflows_card` against the 1.4 schema, the most the Workflows Flow bot displays, plus its
rules (version <= 1.4, Action.OpenUrl only); `assert_valid_message` checks every card of an
envelope the Workflows way, since everything the project posts or replies is meant to be shown.
The stock schemas reject Teams' `msteams` property (`additionalProperties: false` on
AdaptiveCard), so a copy is patched in memory to allow it (with its known shape) and cached.
The schemas live in ../shared/schemas beside the repo; tests skip with a clear message when they
are absent. Also checks the Teams rules the schema cannot express (version, 28 KB).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas"
SCHEMA_FILE = SCHEMAS / "adaptive-card-1.5.0.json"
SCHEMA_FILES = {"1.4": SCHEMAS / "adaptive-card-1.4.0.json", "1.5": SCHEMA_FILE}
ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 28672

MSTEAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "width": {"type": "string"},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "text": {"type": "string"},
                    "mentioned": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                        "required": ["id", "name"],
                    },
                },
                "required": ["type"],
            },
        },
    },
}


@lru_cache(maxsize=2)
def _validator(version: str = "1.5") -> Any:
    from jsonschema import Draft6Validator

    schema = json.loads(SCHEMA_FILES[version].read_text(encoding="utf-8"))
    patched = copy.deepcopy(schema)
    patched["definitions"]["AdaptiveCard"]["properties"]["msteams"] = MSTEAMS_SCHEMA
    Draft6Validator.check_schema(patched)
    return Draft6Validator(patched)


def _require_schema(version: str = "1.5") -> None:
    path = SCHEMA_FILES[version]
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the official Adaptive Card schemas live in ../shared/schemas beside the repo"
        )


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key not in ("data", "msteams"):
                found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def card_errors(card: dict[str, Any], schema: str = "1.5") -> list[str]:
    """Schema and Teams-rule problems of a card (empty when valid) against schema 1.5 or 1.4.

    Against 1.4 (the Workflows Flow bot) also: declared version <= 1.4, Action.OpenUrl only.
    """
    _require_schema(schema)
    from jsonschema.exceptions import best_match

    validator = _validator(schema)
    problems: list[str] = []
    error = best_match(validator.iter_errors(card))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "card"
        problems.append(f"{where}: {error.message[:500]}")
    version = card.get("version")
    try:
        parts = tuple(int(p) for p in str(version).split("."))
    except ValueError:
        parts = (99,)
    most = tuple(int(p) for p in schema.split("."))
    if parts[:2] > most:
        problems.append(f"version {version!r} is not <= {schema}")
    if schema == "1.4":
        kinds = {str(n.get("type")) for n in _walk(card) if str(n.get("type", "")).startswith("Action.")}
        if kinds - {"Action.OpenUrl"}:
            problems.append(f"actions other than Action.OpenUrl: {sorted(kinds - {'Action.OpenUrl'})}")
    return problems


def assert_valid_card(card: dict[str, Any]) -> None:
    """Fail the test unless `card` validates against Adaptive Card 1.5 (+ `msteams`)."""
    problems = card_errors(card)
    assert not problems, "invalid Adaptive Card: " + "; ".join(problems)


def assert_workflows_card(card: dict[str, Any]) -> None:
    """Fail unless `card` is one the Workflows Flow bot displays: the 1.4 schema, version <= 1.4,
    Action.OpenUrl only."""
    problems = card_errors(card, "1.4")
    assert not problems, "not a card Workflows displays: " + "; ".join(problems)


def assert_valid_message(msg: dict[str, Any], *, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
    """Fail unless `msg` is a Workflows/reply envelope of cards Workflows displays, within the cap."""
    assert isinstance(msg, dict), f"message must be a JSON object, got {type(msg).__name__}"
    assert msg.get("type") == "message", f"message type must be 'message', got {msg.get('type')!r}"
    attachments = msg.get("attachments")
    if attachments is None:
        assert isinstance(msg.get("text"), str), "a message needs attachments or text"
    else:
        assert isinstance(attachments, list) and attachments, "attachments must be a non-empty list"
        for index, item in enumerate(attachments):
            assert isinstance(item, dict), f"attachments[{index}] must be an object"
            assert item.get("contentType") == ADAPTIVE_CONTENT_TYPE, (
                f"attachments[{index}].contentType must be {ADAPTIVE_CONTENT_TYPE}"
            )
            content = item.get("content")
            assert isinstance(content, dict), f"attachments[{index}].content must be a card object"
            assert_workflows_card(content)
    size = len(json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert size <= max_bytes, f"message is {size} bytes, over the {max_bytes}-byte cap"
