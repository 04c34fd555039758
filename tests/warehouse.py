"""Compare what a Singer target loaded with what the sandbox served.

Independent of the tap's own code: the expected side is the sandbox's records exactly as
the API sends them; the loaded side is PostgreSQL rows or JSON lines. The stream's JSON
schema (the one the tap ships) says how to compare each field: date-times as instants
(PostgreSQL keeps microseconds, so a longer fraction is cut there), numbers as exact
decimals, objects and arrays field by field.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from tests.harness import REPO

SCHEMAS = REPO / "schemas"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def stream_schema(api: str, stream: str) -> dict:
    return json.loads((SCHEMAS / api / f"{stream}.json").read_text())


def primary_key(api: str, stream: str) -> str:
    (key,) = stream_schema(api, stream)["required"]
    return key


def instant(value: Any) -> datetime:
    """A date-time string (any RFC 3339 spelling the APIs use), or a naive UTC datetime as
    PostgreSQL returns it, as an aware UTC datetime with at most microseconds."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("z", "Z")))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _types(schema: dict) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def mismatch(expected: Any, actual: Any, schema: dict, where: str) -> str | None:
    """Why ``actual`` is not ``expected`` under ``schema``, or None when they agree."""
    if expected is None or actual is None:
        return None if expected is actual else f"{where}: expected {expected!r}, got {actual!r}"
    types = _types(schema)
    if schema.get("format") == "date-time":
        same = instant(expected) == instant(actual)
    elif "object" in types and "properties" in schema:
        if not isinstance(actual, dict) or set(actual) - set(expected):
            return f"{where}: expected {expected!r}, got {actual!r}"
        for name, sub in schema["properties"].items():
            problem = mismatch(expected.get(name), actual.get(name), sub, f"{where}.{name}")
            if problem:
                return problem
        return None
    elif "array" in types and "items" in schema:
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected {expected!r}, got {actual!r}"
        for i, (exp, act) in enumerate(zip(expected, actual, strict=True)):
            problem = mismatch(exp, act, schema["items"], f"{where}[{i}]")
            if problem:
                return problem
        return None
    elif "number" in types and not isinstance(expected, bool):
        same = Decimal(str(expected)) == Decimal(str(actual))
    else:
        same = expected == actual and type(expected) is type(actual)
    return None if same else f"{where}: expected {expected!r}, got {actual!r}"


def compare_records(api: str, stream: str, expected: list[dict], loaded: list[dict]) -> list[str]:
    """Every difference between the loaded rows and the expected records (empty if none):
    missing, extra or repeated keys, columns (a target's ``_sdc_*`` metadata columns
    aside), and values."""
    schema = stream_schema(api, stream)
    key = primary_key(api, stream)
    problems: list[str] = []
    by_key: dict[Any, dict] = {}
    for row in loaded:
        if row[key] in by_key:
            problems.append(f"{api}.{stream}: key {row[key]!r} loaded twice")
        by_key[row[key]] = row
    wanted = {record[key]: record for record in expected}
    missing = sorted(set(wanted) - set(by_key), key=str)
    extra = sorted(set(by_key) - set(wanted), key=str)
    if missing:
        problems.append(f"{api}.{stream}: {len(missing)} records missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{api}.{stream}: {len(extra)} unexpected records, e.g. {extra[:3]}")
    for k, record in wanted.items():
        row = by_key.get(k)
        if row is None:
            continue
        if {c for c in row if not c.startswith("_sdc_")} != set(schema["properties"]):
            problems.append(f"{api}.{stream}: columns {sorted(row)} != schema")
            break
        for name, sub in schema["properties"].items():
            problem = mismatch(record.get(name), row[name], sub, f"{api}.{stream}[{k}].{name}")
            if problem:
                problems.append(problem)
                break
    return problems


def connect(url: str) -> psycopg.Connection:
    """A connection whose JSON columns decode numbers as exact decimals."""
    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    set_json_loads(partial(json.loads, parse_float=Decimal), conn)
    return conn


def table_rows(conn: psycopg.Connection, schema: str, table: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{schema}"."{table}"')  # noqa: S608 - test identifiers
        return list(cur.fetchall())


def tables(conn: psycopg.Connection, schema: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        return {row["table_name"] for row in cur.fetchall()}


def primary_key_columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary
            """,
            (f'"{schema}"."{table}"',),
        )
        return [row["attname"] for row in cur.fetchall()]


def jsonl_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]
