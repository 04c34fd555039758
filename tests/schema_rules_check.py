#!/usr/bin/env python
"""Standalone check of the stream schemas under schemas/<api>/<stream>.json.

Run from the project root:  python tests/schema_rules_check.py

Checks, per contract §1.2 ("Schemas") and §2:
* every file is a valid JSON Schema draft 7 (Draft7Validator.check_schema);
* top level is {"$schema": draft-07, "type": "object", "properties", "required": [key]};
* the primary key (the single entry of "required") is a non-null integer or string;
* every other property, at every nesting level (object properties, array items),
  allows null (child streams' ``prd_id`` is the one other non-null top-level field);
* every property named ...On, ..._at, ..._at_utc or ..._date has "format": "date-time",
  and no other property does;
* "additionalProperties" is not used anywhere;
* objects either spell out "properties" or are free-form (no "properties" key).
Prints the stream count and field count (top-level / all levels) per API and exits
non-zero when any rule is broken.
"""

import json
import re
import sys
from pathlib import Path

from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parent.parent / "schemas"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
DATE_TIME_NAME = re.compile(r"(On|_at|_at_utc|_date)$")
NON_NULL_EXTRA = {"prd_id"}  # tap-added parent id on shop child streams
EXPECTED_STREAMS = {"storefront": 6, "payments": 2, "shop": 14, "digital": 4, "orders": 1}

errors = []


def types_of(schema):
    t = schema.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


def walk(schema, where, name, nullable_required):
    """Check one property schema; return the number of named fields beneath it."""
    count = 0
    types = types_of(schema)
    if not types:
        errors.append(f"{where}: no type")
    if "additionalProperties" in schema:
        errors.append(f"{where}: additionalProperties must not be set")
    if nullable_required and "null" not in types:
        errors.append(f"{where}: does not allow null (type {schema.get('type')!r})")
    if name is not None:
        is_dt_name = bool(DATE_TIME_NAME.search(name))
        has_dt = schema.get("format") == "date-time"
        if is_dt_name and not has_dt:
            errors.append(f"{where}: date-time field without format date-time")
        if has_dt and not is_dt_name:
            errors.append(f"{where}: format date-time on a field not named as a date-time")
        if has_dt and "string" not in types:
            errors.append(f"{where}: date-time field is not a string")
    if "object" in types:
        for pname, psch in schema.get("properties", {}).items():
            count += 1 + walk(psch, f"{where}.{pname}", pname, True)
    if "array" in types:
        items = schema.get("items")
        if not isinstance(items, dict):
            errors.append(f"{where}: array without an items schema")
        else:
            count += walk(items, f"{where}[]", None, True)
    return count


def check_file(path):
    where = str(path.relative_to(ROOT.parent))
    try:
        schema = json.loads(path.read_text())
    except ValueError as exc:
        errors.append(f"{where}: invalid JSON: {exc}")
        return 0, 0
    try:
        Draft7Validator.check_schema(schema)
    except Exception as exc:  # noqa: BLE001 - jsonschema.exceptions.SchemaError and kin
        errors.append(f"{where}: not a valid draft-07 schema: {getattr(exc, 'message', exc)}")
    if schema.get("$schema") != DRAFT7:
        errors.append(f"{where}: $schema is not draft-07")
    if schema.get("type") != "object":
        errors.append(f"{where}: top-level type is not object")
    if "additionalProperties" in schema:
        errors.append(f"{where}: additionalProperties must not be set")
    props = schema.get("properties") or {}
    required = schema.get("required")
    if not (isinstance(required, list) and len(required) == 1 and required[0] in props):
        errors.append(f"{where}: required must list exactly the primary key, got {required!r}")
        required = []
    keys = set(required)
    top = 0
    nested = 0
    for pname, psch in props.items():
        top += 1
        pwhere = f"{where}:{pname}"
        if pname in keys or pname in NON_NULL_EXTRA:
            t = psch.get("type")
            if pname in keys and t not in ("integer", "string"):
                errors.append(f"{pwhere}: primary key must be a non-null integer or string")
            if pname in NON_NULL_EXTRA and t != "integer":
                errors.append(f"{pwhere}: prd_id must be a non-null integer")
            nested += walk(psch, pwhere, pname, False)
        else:
            nested += walk(psch, pwhere, pname, True)
    return top, top + nested


def main():
    if not ROOT.is_dir():
        print(f"no schemas directory at {ROOT}", file=sys.stderr)
        return 1
    total_streams = 0
    print(f"{'api':<12}{'streams':>8}{'fields':>8}{'all-levels':>12}")
    for api_dir in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        files = sorted(api_dir.glob("*.json"))
        top_sum = all_sum = 0
        for f in files:
            top, all_levels = check_file(f)
            top_sum += top
            all_sum += all_levels
        total_streams += len(files)
        print(f"{api_dir.name:<12}{len(files):>8}{top_sum:>8}{all_sum:>12}")
        want = EXPECTED_STREAMS.get(api_dir.name)
        if want is None:
            errors.append(f"unexpected API directory schemas/{api_dir.name}")
        elif want != len(files):
            errors.append(f"schemas/{api_dir.name}: {len(files)} streams, expected {want}")
    errors.extend(
        f"missing API directory schemas/{api}"
        for api in EXPECTED_STREAMS
        if not (ROOT / api).is_dir()
    )
    print(f"{'total':<12}{total_streams:>8}")
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  {e}", file=sys.stderr)
        return 1
    print("all schema rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
