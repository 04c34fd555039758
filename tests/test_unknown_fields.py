"""Fields the API adds (contract §1.2 "Unknown top-level fields"): dropped by default,
kept exactly as sent with ``unknown_fields: keep``, each announced by a re-sent SCHEMA
before the first RECORD that carries it, and widened by another SCHEMA on a new type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tap_commerce_sandbox import Sandbox

from tests.harness import Output, run

KEEP = {"unknown_fields": "keep"}
EXTRA = {
    "x_note": "a new field",
    "x_score": Decimal("0.123456789012345678"),
    "x_meta": {"a": [1, 2]},
}


@pytest.fixture
def sandbox():
    sb = Sandbox(seed=8, scale=0.05, anchor="2026-06-01").start()
    yield sb
    sb.stop()


def first_index(output: Output, stream: str, field: str) -> int:
    return next(
        i for i, m in enumerate(output.messages)
        if m["type"] == "RECORD" and m["stream"] == stream and field in m["record"]
    )  # fmt: skip


def schema_at(output: Output, stream: str, before: int) -> dict:
    """The last SCHEMA of ``stream`` before message ``before``."""
    schemas = [
        m for m in output.messages[:before] if m["type"] == "SCHEMA" and m["stream"] == stream
    ]
    return schemas[-1]["schema"]


def test_unknown_fields_are_dropped_by_default(sandbox):
    sandbox.set_extra_fields(EXTRA, apis="payments")
    output = run(sandbox.config("payments"))
    assert all(not set(EXTRA) & set(r) for r in output.records["order_payments"])
    assert len(output.schemas("order_payments")) == 1


@pytest.mark.parametrize(
    ("api", "stream"),
    [("payments", "order_payments"), ("shop", "products_reviews"), ("shop", "products")],
)
def test_kept_fields_arrive_as_sent_after_a_schema_that_adds_them(sandbox, api, stream):
    sandbox.set_extra_fields(EXTRA, apis=api)
    output = run({**sandbox.config(api), **KEEP})
    records = output.records[stream]
    assert records and all(r["x_note"] == "a new field" for r in records)
    assert all(r["x_score"] == EXTRA["x_score"] for r in records)  # exact, all 18 digits
    assert all(r["x_meta"] == {"a": [1, 2]} for r in records)
    schemas = output.schemas(stream)
    assert len(schemas) == 2, len(schemas)
    assert "x_note" not in schemas[0]["schema"]["properties"]
    added = schema_at(output, stream, first_index(output, stream, "x_note"))["properties"]
    assert added["x_note"] == {"type": ["string", "null"]}
    assert added["x_score"] == {"type": ["number", "null"]}
    assert added["x_meta"] == {"type": ["object", "null"]}
    # the schema re-sent keeps the stream's keys and everything it had
    assert schemas[1]["key_properties"] == schemas[0]["key_properties"]
    assert set(schemas[0]["schema"]["properties"]) < set(added)


def test_keep_with_no_new_field_sends_one_schema(sandbox):
    output = run({**sandbox.config("digital"), **KEEP})
    assert all(len(output.schemas(s)) == 1 for s in sandbox.streams("digital")["digital"])


def test_a_field_added_mid_list_is_announced_before_its_first_record(sandbox):
    """The field appears from the 131st record on (the second page of 100): the SCHEMA that
    adds it comes after the records without it and before the first with it."""
    sandbox.set_extra_fields(
        {"x_note": "new"}, apis="payments", streams="order_payments", start=130
    )
    output = run({**sandbox.config("payments"), **KEEP})
    served = sandbox.records_with_extra_fields("payments", "order_payments")
    assert extra(output.records["order_payments"], "x_note") == extra(served, "x_note")
    assert "x_note" not in served[129] and served[130]["x_note"] == "new"
    first = first_index(output, "order_payments", "x_note")
    schemas = [
        i for i, m in enumerate(output.messages)
        if m["type"] == "SCHEMA" and m["stream"] == "order_payments"
    ]  # fmt: skip
    assert len(schemas) == 2 and schemas[1] < first
    records_before = [m for m in output.messages[schemas[1] : first] if m["type"] == "RECORD"]
    assert all("x_note" not in m["record"] for m in records_before)
    assert schema_at(output, "order_payments", first)["properties"]["x_note"] == {
        "type": ["string", "null"]
    }


def test_a_type_change_widens_the_field_with_another_schema(sandbox):
    sandbox.set_extra_fields(
        {"x_score": 42},
        apis="payments",
        streams="order_payments",
        start=20,
        changed={"x_score": "forty-two"},
        change_at=120,
    )
    output = run({**sandbox.config("payments"), **KEEP})
    records = output.records["order_payments"]
    served = sandbox.records_with_extra_fields("payments", "order_payments")
    assert extra(records, "x_score") == extra(served, "x_score")
    assert {r["x_score"] for r in records[20:120]} == {42}
    assert {r["x_score"] for r in records[120:]} == {"forty-two"}
    schemas = output.schemas("order_payments")
    assert len(schemas) == 3
    assert schemas[1]["schema"]["properties"]["x_score"] == {"type": ["number", "null"]}
    assert schemas[2]["schema"]["properties"]["x_score"] == {"type": ["number", "string", "null"]}
    widened = next(
        i for i, m in enumerate(output.messages) if m["type"] == "SCHEMA" and m is schemas[2]
    )
    assert widened < first_index_where(
        output, "order_payments", lambda r: r.get("x_score") == "forty-two"
    )


def first_index_where(output: Output, stream: str, test) -> int:
    return next(
        i for i, m in enumerate(output.messages)
        if m["type"] == "RECORD" and m["stream"] == stream and test(m["record"])
    )  # fmt: skip


def extra(records: list[dict], field: str) -> list[tuple]:
    """``(id, whether the record has the field, its value and type)`` of each record."""
    return [(r["id"], field in r, r.get(field), type(r.get(field))) for r in records]
