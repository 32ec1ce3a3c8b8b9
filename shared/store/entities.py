"""Records to table entities and back.

Lists, dicts and nested models are stored as JSON text (Table Storage has no such types); datetimes
stay Edm.DateTime so that filters like `next_attempt le @now` work on the server. A string longer
than one property may hold (64 KiB of UTF-16) is split over `name`, `name__1`, ... and joined on
read, so a 28 KB card or a large event fits without callers caring.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)

# 16,000 characters are at most 64,000 bytes in UTF-16, under the 64 KiB property limit.
CHUNK = 16_000
_PART = "__"


def _is_json(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, dict, tuple, set):
        return True
    if origin in (Union, types.UnionType):
        return any(_is_json(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is not None:  # Annotated, Literal
        return _is_json(get_args(annotation)[0]) if get_args(annotation) else False
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@cache
def json_fields(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in cls.model_fields.items() if _is_json(field.annotation))


def _put(entity: dict[str, Any], name: str, value: str) -> None:
    if len(value) <= CHUNK:
        entity[name] = value
        return
    for index, start in enumerate(range(0, len(value), CHUNK)):
        entity[name if index == 0 else f"{name}{_PART}{index}"] = value[start : start + CHUNK]


def _get(entity: Mapping[str, Any], name: str) -> Any:
    value = entity.get(name)
    if not isinstance(value, str) or f"{name}{_PART}1" not in entity:
        return value
    parts = [value]
    index = 1
    while f"{name}{_PART}{index}" in entity:
        parts.append(str(entity[f"{name}{_PART}{index}"]))
        index += 1
    return "".join(parts)


def to_entity(
    record: BaseModel, partition_key: str, row_key: str, *, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The entity for `record`; fields in `skip` (those that are the keys) are left out."""
    entity: dict[str, Any] = {"PartitionKey": partition_key, "RowKey": row_key}
    as_json = json_fields(type(record))
    dumped = record.model_dump(mode="json")
    for name in type(record).model_fields:
        if name in skip or name not in dumped:
            continue
        value = getattr(record, name)
        if value is None:
            continue
        if name in as_json:
            _put(entity, name, json.dumps(dumped[name], ensure_ascii=False, separators=(",", ":")))
        elif isinstance(value, datetime):
            entity[name] = value
        elif isinstance(value, str):
            _put(entity, name, value)
        else:
            entity[name] = dumped[name]
    return entity


def from_entity(cls: type[R], entity: Mapping[str, Any], **fields: Any) -> R:
    """The record stored in `entity`; `fields` supplies what the keys hold (already unescaped)."""
    as_json = json_fields(cls)
    data: dict[str, Any] = {}
    for name in cls.model_fields:
        if name in fields:
            data[name] = fields[name]
            continue
        if name not in entity:
            continue
        value = _get(entity, name)
        if name in as_json and isinstance(value, str):
            value = json.loads(value)
        data[name] = value
    metadata = getattr(entity, "metadata", None)
    if isinstance(metadata, Mapping) and "etag" in cls.model_fields:
        data["etag"] = metadata.get("etag")
    return cls.model_validate(data)
