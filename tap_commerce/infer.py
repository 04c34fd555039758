"""A stream's schema from its first records, for a resource whose definition gives none.

`sample` reads the first ``schema_sample_size`` records the way a sync would (the same
requests, pacing and retries; a child's from the first parents' lists); `schema` types
every field from its values: every field nullable but the key; integers, exact numbers,
booleans, strings, date-times (strings that all read as ISO 8601 or RFC 2822 date-times,
any ``""`` among them read as unset; normalised like every date-time), nested objects
with their fields, and arrays with their items. A field that was only ever null is left out: `unknown_fields` (``keep`` for inferred
schemas) types it with its first value, so no field first seen after the sample is lost.
dlt ``columns`` hints replace what inference found for the fields they name.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing as t
from decimal import Decimal

from tap_commerce.children import ChildStream
from tap_commerce.normalize import RFC2822, normalize_datetime

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Record

    from tap_commerce.client import CommerceStream
    from tap_commerce.definition import Resource
    from tap_commerce.run import RunContext

_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
#: the order JSON types are listed in
_ORDER = ("integer", "number", "string", "boolean", "object", "array")


def sample(
    tap: Tap, resource: Resource, parent: CommerceStream | None, run: RunContext, size: int
) -> list[Record]:
    """Up to ``size`` records of a resource, read as a sync would read them."""
    stream_type = next(c for c in type(tap).stream_types() if c.resource is resource)  # type: ignore[attr-defined]
    reader = stream_type(tap, run=run, schema={"type": "object", "properties": {}})
    records: list[Record] = []
    if not isinstance(reader, ChildStream) or parent is None:
        for page in reader.request_pages(None):
            records += page
            if len(records) >= size:
                break
        return records[:size]
    for page in parent.request_pages(None):
        for record in page:
            context = {key: record.get(field) for field, key in reader.parent_context.items()}
            records += reader.fetch(context)
            if len(records) >= size:
                return records[:size]
        if len(records) >= size:
            break
    return records


@dataclasses.dataclass
class _Field:
    """What the sample showed of one field (or one array's items)."""

    types: set[str] = dataclasses.field(default_factory=set)
    all_datetimes: bool = True
    datetimes: int = 0
    fields: dict[str, _Field] | None = None
    items: _Field | None = None

    def add(self, value: t.Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.types.add("boolean")
        elif isinstance(value, int):
            self.types.add("integer")
        elif isinstance(value, float | Decimal):
            self.types.add("number")
        elif isinstance(value, str):
            self.types.add("string")
            if value and self.all_datetimes:  # "" reads as an unset date-time among them
                if _is_datetime(value):
                    self.datetimes += 1
                else:
                    self.all_datetimes = False
        elif isinstance(value, dict):
            self.types.add("object")
            fields = self.fields if self.fields is not None else {}
            self.fields = fields
            for name, item in value.items():
                fields.setdefault(name, _Field()).add(item)
        elif isinstance(value, list):
            self.types.add("array")
            items = self.items if self.items is not None else _Field()
            self.items = items
            for item in value:
                items.add(item)

    def schema(self, *, nullable: bool = True) -> dict[str, t.Any] | None:
        """The JSON Schema of what was seen (None: only nulls)."""
        if not self.types:
            return None
        types = set(self.types)
        if {"integer", "number"} <= types:
            types.discard("integer")
        prop: dict[str, t.Any] = {"type": [k for k in _ORDER if k in types]}
        if types == {"string"} and self.all_datetimes and self.datetimes:
            prop["format"] = "date-time"
        if "object" in types and self.fields:
            properties = _properties(self.fields)
            if properties:
                prop["properties"] = properties
        if "array" in types and self.items is not None:
            items = self.items.schema()
            if items is not None:
                prop["items"] = items
        if nullable:
            prop["type"].append("null")
        return prop


def _is_datetime(value: str) -> bool:
    text = value.strip()
    if not _DATETIME.fullmatch(text) and not RFC2822.fullmatch(text):
        return False
    try:
        normalize_datetime(value)
    except ValueError:
        return False
    return True


def _properties(fields: dict[str, _Field], keys: t.Collection[str] = ()) -> dict[str, t.Any]:
    properties = {}
    for name, seen in fields.items():
        prop = seen.schema(nullable=name not in keys)
        if prop is not None:
            properties[name] = prop
    return properties


def schema(records: list[Record], resource: Resource) -> dict[str, t.Any]:
    """The schema of a resource inferred from ``records`` (see the module docstring),
    with the definition's ``columns`` hints applied.
    """
    top = _Field()
    for record in records:
        top.add(record)
    properties = _properties(top.fields or {}, resource.key_columns)
    for key in resource.key_columns:
        properties.setdefault(key, {"type": ["string", "integer"]})
    cursor = resource.replication_key
    if cursor:  # the incremental cursor is a date-time (numbers in it: UNIX seconds), even
        # where the sample showed none of it (an empty list)
        properties[cursor] = {"type": ["string", "null"], "format": "date-time"}
    properties.update(copy.deepcopy(resource.columns))
    for key in resource.key_columns:  # a key is never null, a columns hint or not
        types = properties[key]["type"]
        properties[key]["type"] = [kind for kind in types if kind != "null"]
    return {"type": "object", "properties": properties}
