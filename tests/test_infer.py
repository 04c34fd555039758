"""Schema inference (contract §1.3): a stream whose definition gives no schema file and no
dlt ``columns`` hints is typed from its first ``schema_sample_size`` records (default 100).

Pinned here: what `tap_commerce.infer.schema` makes of values (nullable fields but the
key; integer, exact number, boolean, string, date-time, object, array; a field only null
in the sample left out; ``columns`` hints win), and what a user's dlt-style definition does
against the sandbox: ``--discover`` lists the API's own field names with inferred types,
a sync without a catalog sends the same schema before its first RECORD, a sync with the
discovered catalog reads no sample again, ``unknown_fields`` defaults to ``keep`` for an
inferred stream, and date-times in inferred date-time fields leave as UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from tap_commerce_sandbox import Sandbox

from tap_commerce.infer import schema
from tap_commerce.loader import load
from tests.harness import FAST, Output, run, run_cli

FAKE_PAYMENTS_KEY = "fake-payments-key-0001"

# payments as dlt's rest_api config takes it: no x-schema, no columns, so both streams
# are inferred (the base URL is the sandbox's, from the base_url setting)
DEFINITION = """\
client:
  base_url: https://api.example.com
  auth: {type: api_key, name: api_key, api_key: "{settings.api_key}", location: query}
resource_defaults: {primary_key: id, write_disposition: merge}
resources:
  - name: order_payments
    endpoint:
      path: /v1/order_payments
      data_selector: data
      paginator: {type: offset, limit: 100}
      incremental: {cursor_path: updated_at}
  - name: products
    endpoint: {path: /v1/products, data_selector: data, paginator: {type: offset, limit: 100}}
"""
STREAMS = ["order_payments", "products"]
PAGE = 100  # the definition's page size
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}


# -- infer.schema ------------------------------------------------------------------------


def resource(**item):
    """The one resource of a minimal definition (key ``id``), with ``item``'s keys."""
    definition = {
        "client": {"base_url": "https://api.example.com"},
        "resources": [
            {"name": "things", "primary_key": "id", "endpoint": {"path": "/things"}, **item}
        ],
    }
    return load(definition).resources[0]


def inferred(records: list[dict], **item) -> dict:
    """The properties inferred from ``records`` for `resource` (``item``: its keys)."""
    return schema(records, resource(**item))["properties"]


def test_every_field_is_nullable_except_the_primary_key() -> None:
    props = inferred([{"id": 1, "name": "a", "qty": 2}])
    assert props == {
        "id": {"type": ["integer"]},
        "name": {"type": ["string", "null"]},
        "qty": {"type": ["integer", "null"]},
    }


def test_every_field_of_a_compound_key_is_not_nullable() -> None:
    props = inferred([{"store": "eu", "id": 7, "note": "x"}], primary_key=["store", "id"])
    assert props["store"] == {"type": ["string"]}
    assert props["id"] == {"type": ["integer"]}
    assert props["note"] == {"type": ["string", "null"]}


def test_whole_numbers_are_integers() -> None:
    props = inferred([{"id": 1, "qty": 0}, {"id": 2, "qty": -3}, {"id": 3, "qty": 10**20}])
    assert props["qty"] == {"type": ["integer", "null"]}


@pytest.mark.parametrize("value", [Decimal("19.99"), Decimal("0.1000"), 2.5])
def test_exact_numbers_are_numbers(value) -> None:
    assert inferred([{"id": 1, "price": value}])["price"] == {"type": ["number", "null"]}


def test_integers_mixed_with_exact_numbers_are_numbers() -> None:
    props = inferred([{"id": 1, "price": 5}, {"id": 2, "price": Decimal("5.25")}])
    assert props["price"] == {"type": ["number", "null"]}


def test_booleans_are_booleans_not_integers() -> None:
    props = inferred([{"id": 1, "hidden": True}, {"id": 2, "hidden": False}])
    assert props["hidden"] == {"type": ["boolean", "null"]}


def test_strings_are_strings() -> None:
    props = inferred([{"id": 1, "sku": "A-1"}, {"id": 2, "sku": "123"}])
    assert props["sku"] == {"type": ["string", "null"]}


def test_a_field_with_values_of_two_types_lists_both() -> None:
    props = inferred([{"id": 1, "ref": 17}, {"id": 2, "ref": "R-17"}])
    assert props["ref"] == {"type": ["integer", "string", "null"]}


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T12:00:00Z",
        "2024-03-01T07:00:00-05:00",
        "2024-03-01T17:30:00+05:30",
        "2024-03-01T07:00:00.127-05:00",
        "2024-03-01T12:00:00.5+00:00",
        "2024-03-01T12:00:00.123456789Z",
    ],
)
def test_iso_8601_date_times_are_date_times(value) -> None:
    props = inferred([{"id": 1, "paid_at": value}, {"id": 2, "paid_at": "2024-01-01T00:00:00Z"}])
    assert props["paid_at"] == NULLABLE_DATETIME


def test_date_times_mixed_with_other_strings_are_plain_strings() -> None:
    props = inferred([{"id": 1, "due": "2024-03-01T12:00:00Z"}, {"id": 2, "due": "on receipt"}])
    assert props["due"] == {"type": ["string", "null"]}


def test_plain_dates_are_not_date_times() -> None:
    props = inferred([{"id": 1, "day": "2024-01-01"}, {"id": 2, "day": "2024-01-02"}])
    assert props["day"] == {"type": ["string", "null"]}


def test_a_date_time_lookalike_that_is_no_instant_is_a_plain_string() -> None:
    props = inferred([{"id": 1, "at": "2024-13-45T10:00:00Z"}])
    assert props["at"] == {"type": ["string", "null"]}


def test_nested_objects_get_their_fields_inferred() -> None:
    records = [
        {
            "id": 1,
            "address": {
                "city": "Oslo",
                "zip": 150,
                "geo": {"lat": Decimal("59.91"), "verified": True},
                "moved_at": "2024-03-01T07:00:00-05:00",
            },
        },
        {"id": 2, "address": None},
    ]
    assert inferred(records)["address"] == {
        "type": ["object", "null"],
        "properties": {
            "city": {"type": ["string", "null"]},
            "zip": {"type": ["integer", "null"]},
            "geo": {
                "type": ["object", "null"],
                "properties": {
                    "lat": {"type": ["number", "null"]},
                    "verified": {"type": ["boolean", "null"]},
                },
            },
            "moved_at": NULLABLE_DATETIME,
        },
    }


def test_arrays_get_their_items_inferred() -> None:
    records = [
        {
            "id": 1,
            "tags": ["red", "sale"],
            "weights": [1, Decimal("2.5")],
            "lines": [{"sku": "A", "qty": 2}],
            "shipped": ["2024-03-01T12:00:00Z"],
        },
        {"id": 2, "tags": [], "weights": None, "lines": [{"sku": "B", "qty": 1}], "shipped": []},
    ]
    props = inferred(records)
    assert props["tags"] == {"type": ["array", "null"], "items": {"type": ["string", "null"]}}
    assert props["weights"] == {"type": ["array", "null"], "items": {"type": ["number", "null"]}}
    assert props["lines"] == {
        "type": ["array", "null"],
        "items": {
            "type": ["object", "null"],
            "properties": {
                "sku": {"type": ["string", "null"]},
                "qty": {"type": ["integer", "null"]},
            },
        },
    }
    assert props["shipped"] == {"type": ["array", "null"], "items": NULLABLE_DATETIME}


def test_a_field_only_null_in_the_sample_is_left_out() -> None:
    records = [
        {"id": 1, "voided_at": None, "meta": {"note": None, "by": "x"}},
        {"id": 2, "voided_at": None, "meta": {"note": None, "by": "y"}},
    ]
    props = inferred(records)
    assert "voided_at" not in props
    assert props["meta"]["properties"] == {"by": {"type": ["string", "null"]}}


def test_a_field_null_in_some_records_is_typed_by_the_others() -> None:
    props = inferred([{"id": 1, "customer_id": None}, {"id": 2, "customer_id": 500}])
    assert props["customer_id"] == {"type": ["integer", "null"]}


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        ("decimal", {"type": ["number", "null"]}),
        ("double", {"type": ["number", "null"]}),
        ("bigint", {"type": ["integer", "null"]}),
        ("text", {"type": ["string", "null"]}),
        ("bool", {"type": ["boolean", "null"]}),
        ("timestamp", NULLABLE_DATETIME),
        ("date", {"type": ["string", "null"], "format": "date"}),
        ("json", {"type": ["object", "array", "string", "number", "boolean", "null"]}),
    ],
)
def test_a_columns_hint_overrides_what_inference_found(data_type, expected) -> None:
    records = [{"id": 1, "value": "12", "other": 3}]
    props = inferred(records, columns={"value": {"data_type": data_type}})
    assert props["value"] == expected
    assert props["other"] == {"type": ["integer", "null"]}  # the rest is still inferred


def test_a_columns_hint_with_nullable_false_is_not_nullable() -> None:
    props = inferred(
        [{"id": 1, "amount": Decimal("1.5")}],
        columns={"amount": {"data_type": "decimal", "nullable": False}},
    )
    assert props["amount"] == {"type": ["number"]}


def test_a_columns_hint_types_a_field_the_sample_never_showed() -> None:
    props = inferred(
        [{"id": 1, "refunded_at": None}], columns={"refunded_at": {"data_type": "timestamp"}}
    )
    assert props["refunded_at"] == NULLABLE_DATETIME


def test_columns_hints_may_be_a_list_of_named_columns() -> None:
    props = inferred(
        [{"id": 1, "amount": "1.50"}], columns=[{"name": "amount", "data_type": "decimal"}]
    )
    assert props["amount"] == {"type": ["number", "null"]}


def test_a_columns_hint_on_the_primary_key_keeps_it_not_nullable() -> None:
    props = inferred([{"id": 1, "name": "a"}], columns={"id": {"data_type": "bigint"}})
    assert props["id"] == {"type": ["integer"]}


# -- a user's definition against the sandbox ---------------------------------------------


@pytest.fixture
def sandbox():
    with Sandbox(
        seed=3,
        scale=0.05,
        anchor="2026-01-01",
        credentials={"payments": {"api_key": FAKE_PAYMENTS_KEY}},
    ) as sb:
        yield sb


@pytest.fixture
def config(sandbox, tmp_path) -> dict:
    path = tmp_path / "payments_dlt.yml"
    path.write_text(DEFINITION)
    config = sandbox.config("payments")
    del config["api"]
    return {**config, "definition": str(path)}


def discover(config: dict, tmp_path, **settings) -> dict:
    """The catalog ``--discover`` prints (the real command)."""
    out = run_cli(["--discover"], config={**config, **settings}, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.messages[0]


def entries(catalog: dict) -> dict[str, dict]:
    return {entry["tap_stream_id"]: entry for entry in catalog["streams"]}


def sampled_fields(sandbox: Sandbox, stream: str, size: int = 100) -> set[str]:
    """The fields with a value in the first ``size`` records the API serves."""
    records = sandbox.records_with_extra_fields("payments", stream)[:size]
    return {name for record in records for name, value in record.items() if value is not None}


def message_index(output: Output, test) -> int:
    return next(i for i, m in enumerate(output.messages) if test(m))


def test_discovery_lists_each_resource_with_the_apis_fields_and_inferred_types(
    sandbox, config, tmp_path
) -> None:
    streams = entries(discover(config, tmp_path))
    assert list(streams) == STREAMS
    for name, entry in streams.items():
        assert set(entry["schema"]["properties"]) == sampled_fields(sandbox, name), name
        assert entry["key_properties"] == ["id"]
    payments = streams["order_payments"]["schema"]["properties"]
    assert payments["id"] == {"type": ["integer"]}
    assert payments["order_id"] == {"type": ["integer", "null"]}
    assert payments["amount"] == {"type": ["number", "null"]}
    assert payments["currency"] == {"type": ["string", "null"]}
    assert payments["is_approved"] == {"type": ["boolean", "null"]}
    products = streams["products"]["schema"]["properties"]
    assert products["price"] == {"type": ["number", "null"]}
    assert products["quantity_on_hand"] == {"type": ["integer", "null"]}
    assert products["name"] == {"type": ["string", "null"]}
    assert products["is_hidden"] == {"type": ["boolean", "null"]}


def test_discovered_date_time_fields_carry_format_date_time(config, tmp_path) -> None:
    streams = entries(discover(config, tmp_path))
    payments = streams["order_payments"]["schema"]["properties"]
    for field in ("paid_at", "created_at", "updated_at"):
        assert payments[field] == NULLABLE_DATETIME, field
    for field in ("currency", "transaction_id", "payment_type"):
        assert "format" not in payments[field], field
    products = streams["products"]["schema"]["properties"]
    assert products["created_at"] == products["updated_at"] == NULLABLE_DATETIME
    assert "format" not in products["product_id"]


@pytest.mark.parametrize(("sample_size", "seen"), [(3, False), (4, True)])
def test_schema_sample_size_is_how_many_records_discovery_types(
    sandbox, config, tmp_path, sample_size, seen
) -> None:
    sandbox.set_extra_fields(
        {"x_late": "from the 4th record"}, apis="payments", streams="order_payments", start=3
    )
    catalog = discover(config, tmp_path, schema_sample_size=sample_size)
    assert ("x_late" in entries(catalog)["order_payments"]["schema"]["properties"]) is seen


@pytest.mark.parametrize(("start", "seen"), [(99, True), (100, False)])
def test_discovery_types_the_first_100_records_by_default(
    sandbox, config, tmp_path, start, seen
) -> None:
    assert sandbox.count("payments", "order_payments") > 100  # the sample ends mid-list
    sandbox.set_extra_fields(
        {"x_late": "late"}, apis="payments", streams="order_payments", start=start
    )
    catalog = discover(config, tmp_path)
    assert ("x_late" in entries(catalog)["order_payments"]["schema"]["properties"]) is seen


def test_discovery_reads_only_the_pages_that_hold_the_sample(sandbox, config, tmp_path) -> None:
    discover(config, tmp_path, page_size=10, schema_sample_size=25)
    offsets = [
        r.query["offset"] for r in sandbox.requests.snapshot() if r.path.endswith("/order_payments")
    ]
    assert offsets == ["0", "10", "20"]


def test_a_sync_without_a_catalog_sends_the_inferred_schema_before_its_first_record(
    sandbox, config, tmp_path
) -> None:
    discovered = entries(discover(config, tmp_path))
    out = run(config)
    for stream in STREAMS:
        own = [m for m in out.messages if m.get("stream") == stream]
        assert own[0]["type"] == "SCHEMA", stream
        assert own[0]["schema"] == discovered[stream]["schema"], stream
        assert own[0]["key_properties"] == discovered[stream]["key_properties"], stream
        assert len(out.records[stream]) == sandbox.count("payments", stream)


def test_a_sync_with_the_discovered_catalog_reads_no_sample_again(
    sandbox, config, tmp_path
) -> None:
    catalog = discover(config, tmp_path)
    sandbox.reset_stats()
    out = run(config, catalog=catalog)
    pages = sorted((r.path, r.query["offset"]) for r in sandbox.requests.snapshot())
    expected = sorted(
        (f"/payments/v1/{stream}", str(offset))
        for stream in STREAMS
        for offset in range(0, sandbox.count("payments", stream), PAGE)
    )
    assert pages == expected  # each page of the sync once; no page read for a sample
    assert len(out.records["order_payments"]) == sandbox.count("payments", "order_payments")


def test_a_field_first_seen_after_discovery_is_kept_and_added_to_a_resent_schema(
    sandbox, config, tmp_path
) -> None:
    catalog = discover(config, tmp_path)
    sandbox.set_extra_fields({"x_note": "late"}, apis="payments", streams="order_payments")
    out = run(config, catalog=catalog)
    records = out.records["order_payments"]
    assert records and all(r["x_note"] == "late" for r in records)
    schemas = out.schemas("order_payments")
    assert len(schemas) == 2
    assert "x_note" not in schemas[0]["schema"]["properties"]
    assert schemas[1]["schema"]["properties"]["x_note"] == {"type": ["string", "null"]}
    resent = message_index(out, lambda m: m is schemas[1])
    first = message_index(out, lambda m: m["type"] == "RECORD" and "x_note" in m["record"])
    assert resent < first


def test_a_field_first_seen_after_the_sample_is_kept_in_a_sync_without_a_catalog(
    sandbox, config
) -> None:
    sandbox.set_extra_fields(
        {"x_note": "late"}, apis="payments", streams="order_payments", start=10
    )
    out = run({**config, "schema_sample_size": 5})
    served = sandbox.records_with_extra_fields("payments", "order_payments")
    assert "x_note" not in served[9] and served[10]["x_note"] == "late"
    kept = {r["id"]: r.get("x_note") for r in out.records["order_payments"]}
    assert kept == {r["id"]: r.get("x_note") for r in served}
    schemas = out.schemas("order_payments")
    assert len(schemas) == 2
    assert "x_note" not in schemas[0]["schema"]["properties"]
    assert schemas[1]["schema"]["properties"]["x_note"] == {"type": ["string", "null"]}


def test_unknown_fields_drop_drops_a_field_the_inferred_schema_lacks(
    sandbox, config, tmp_path
) -> None:
    catalog = discover(config, tmp_path)
    sandbox.set_extra_fields({"x_note": "late"}, apis="payments", streams="order_payments")
    out = run({**config, "unknown_fields": "drop"}, catalog=catalog)
    records = out.records["order_payments"]
    assert records and all("x_note" not in r for r in records)
    assert len(out.schemas("order_payments")) == 1


def test_date_times_in_inferred_date_time_fields_leave_as_utc(sandbox, config) -> None:
    served = {r["id"]: r for r in sandbox.records("payments", "order_payments")}
    sent = [r[f] for r in served.values() for f in ("created_at", "updated_at") if r[f]]
    assert any(value.endswith("-05:00") for value in sent)  # the API sends local offsets
    out = run(config)
    checked = 0
    for record in out.records["order_payments"]:
        for field in ("paid_at", "created_at", "updated_at"):
            original = served[record["id"]][field]
            if original is None:
                assert record[field] is None
                continue
            assert record[field].endswith("+00:00"), record[field]
            assert datetime.fromisoformat(record[field]) == datetime.fromisoformat(original)
            checked += 1
    assert checked > 100


def test_rfc_2822_date_times_are_date_times() -> None:
    props = inferred(
        [
            {"id": 1, "at": "Mon, 23 Nov 2015 18:42:29 +0000"},
            {"id": 2, "at": "1 Dec 2026 00:00 GMT"},
        ]
    )
    assert props["at"] == NULLABLE_DATETIME


def test_empty_strings_among_date_times_read_as_unset_date_times() -> None:
    props = inferred(
        [{"id": 1, "at": ""}, {"id": 2, "at": "2024-01-01T00:00:00Z"}, {"id": 3, "at": ""}]
    )
    assert props["at"] == NULLABLE_DATETIME


def test_a_field_of_empty_strings_only_is_a_string() -> None:
    props = inferred([{"id": 1, "note": ""}, {"id": 2, "note": ""}])
    assert props["note"] == {"type": ["string", "null"]}


def test_zero_one_flags_and_padded_ids_keep_their_types() -> None:
    records = [
        {"id": "0000123456", "ok": 1, "price": "£15.00"},
        {"id": "0000123457", "ok": 0, "price": "£2"},
    ]
    props = inferred(records)
    assert props["id"] == {"type": ["string"]}
    assert props["ok"] == {"type": ["integer", "null"]}
    assert props["price"] == {"type": ["string", "null"]}


def test_unix_seconds_are_date_times_where_a_columns_hint_says_timestamp() -> None:
    props = inferred([{"id": 1, "at": 1448304149}], columns={"at": {"data_type": "timestamp"}})
    assert props["at"]["format"] == "date-time"
    assert inferred([{"id": 1, "at": 1448304149}])["at"] == {"type": ["integer", "null"]}


def test_a_key_inside_an_object_is_a_top_level_column_named_as_dlt_names_it() -> None:
    thing = resource(primary_key="variant.id", write_disposition="merge")
    assert thing.key_properties == ["variant__id"]
    assert thing.nested_keys == (("variant__id", ("variant", "id")),)
    props = schema([{"variant": {"id": "v1"}, "variant__id": "v1"}], thing)["properties"]
    assert props["variant__id"] == {"type": ["string"]}
    composite = resource(primary_key=["product_id", "name"], write_disposition="merge")
    assert composite.key_properties == ["product_id", "name"]
    assert composite.nested_keys == ()


def test_the_replication_key_is_a_date_time_even_in_an_empty_sample_or_in_unix_seconds() -> None:
    thing = resource(endpoint={"path": "/things", "incremental": {"cursor_path": "updated_at"}})
    props = schema([], thing)["properties"]
    assert props == {"id": {"type": ["string", "integer"]}, "updated_at": NULLABLE_DATETIME}
    seen = schema([{"id": 1, "updated_at": 1448304149}], thing)["properties"]
    assert seen["updated_at"] == NULLABLE_DATETIME  # a cursor in UNIX seconds


def test_a_sync_of_an_empty_list_with_an_inferred_schema_and_no_catalog_runs(tmp_path) -> None:
    with Sandbox(scale=0, anchor="2026-01-01") as sb:
        settings = {k: v for k, v in sb.config("payments").items() if k != "api"}
        path = tmp_path / "payments.yml"
        path.write_text(DEFINITION)
        output = run({**settings, **FAST, "definition": str(path)})
    assert output.records == {}
    assert {m["stream"] for m in output.messages if m["type"] == "SCHEMA"} == set(STREAMS)
