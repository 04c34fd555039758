"""payments (contract §2.2): query-string key, offset/limit, client-side incremental."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakeapi import json_response, offset_handler, sent
from tests.harness import run


def payment(i: int, updated: str = "2024-03-01T07:00:00.127-05:00") -> dict:
    return {
        "id": i,
        "order_id": 1000 + i,
        "customer_id": None if i % 3 == 0 else 500 + i,
        "amount": Decimal("1234567890123.4567") if i == 1 else Decimal(f"{i}.1000"),
        "currency": "USD",
        "payment_type": "card",
        "card_type": None,
        "last_four": "4242",
        "is_approved": True,
        "is_declined": False,
        "is_captured": i % 2 == 0,
        "is_void": False,
        "transaction_id": f"tx-{i}",
        "paid_at": None,
        "created_at": "2024-03-01T07:00:00.127-05:00",
        "updated_at": updated,
    }


def product(i: int, updated: str = "2024-01-01T00:00:00+01:00") -> dict:
    return {
        "id": i,
        "product_id": f"SKU-{i}",
        "name": f"Product {i}",
        "price": Decimal("19.99"),
        "cost": Decimal("0.1"),
        "quantity_on_hand": i,
        "is_hidden": False,
        "is_discontinued": None,
        "primary_category_id": 7,
        "weight": Decimal("1.250"),
        "created_at": "2023-12-31T23:00:00+01:00",
        "updated_at": updated,
    }


def key_checked(request):
    if request.args.get("api_key") != "fake-payments-key":
        return json_response(
            {"status_code": 401, "message": "Unauthorized", "details": "bad key"}, 401
        )
    return None


@pytest.fixture
def config(base_url: str) -> dict:
    return {"api": "payments", "base_url": base_url, "api_key": "fake-payments-key", "page_size": 3}


def serve(server, payments: list[dict], products: list[dict], *, total: bool = False) -> None:
    server.expect_request("/v1/order_payments").respond_with_handler(
        offset_handler(payments, total=total, check=key_checked)
    )
    server.expect_request("/v1/products").respond_with_handler(
        offset_handler(products, total=total, check=key_checked)
    )


def test_full_sync_reads_every_page_and_stops_on_the_short_one(server, config) -> None:
    serve(server, [payment(i) for i in range(1, 8)], [product(1)])
    out = run(config)
    assert [r["id"] for r in out.records["order_payments"]] == list(range(1, 8))
    offsets = [r.args["offset"] for r in sent(server, "/v1/order_payments")]
    assert offsets == ["0", "3", "6"]  # 3 + 3 + 1: the short page ends the list
    assert len(sent(server, "/v1/products")) == 1


def test_total_ends_the_list_without_an_empty_page(server, config) -> None:
    serve(server, [payment(i) for i in range(1, 7)], [], total=True)
    run(config)
    assert [r.args["offset"] for r in sent(server, "/v1/order_payments")] == ["0", "3"]


def test_exactly_full_last_page_without_total_costs_one_empty_page(server, config) -> None:
    serve(server, [payment(i) for i in range(1, 7)], [])
    out = run(config)
    assert len(out.records["order_payments"]) == 6
    assert [r.args["offset"] for r in sent(server, "/v1/order_payments")] == ["0", "3", "6"]


def test_api_key_rides_on_every_request_and_default_page_size_is_100(server, config) -> None:
    serve(server, [payment(i) for i in range(1, 3)], [])
    run({**config, "page_size": None})
    for request in sent(server, "/v1/order_payments"):
        assert request.args["api_key"] == "fake-payments-key"
        assert request.args["limit"] == "100"
        assert request.headers["User-Agent"].startswith("tap-commerce/")


def test_values_pass_through_exactly_and_dates_become_utc(server, config) -> None:
    serve(server, [payment(1), payment(3)], [product(1)])
    out = run(config)
    first = out.records["order_payments"][0]
    assert first["amount"] == Decimal("1234567890123.4567")
    assert str(out.records["order_payments"][1]["amount"]) == "3.1000"
    assert first["updated_at"] == "2024-03-01T12:00:00.127+00:00"
    assert first["paid_at"] is None and first["card_type"] is None
    assert out.records["order_payments"][1]["customer_id"] is None
    assert out.records["products"][0]["updated_at"] == "2023-12-31T23:00:00+00:00"
    assert out.records["products"][0]["weight"] == Decimal("1.250")


def test_second_run_emits_only_records_changed_since_the_bookmark(server, config) -> None:
    rows = [payment(i, f"2024-03-0{i}T10:00:00-05:00") for i in range(1, 6)]
    serve(server, rows, [])
    first = run(config)
    bookmark = first.final_state["bookmarks"]["order_payments"]["replication_key_value"]
    assert bookmark == "2024-03-05T15:00:00+00:00"

    rows[1]["updated_at"] = "2024-03-09T10:00:00-05:00"  # record 2 changes
    second = run(config, state=first.final_state)
    # the bookmark record itself comes again (>=), plus the change; nothing else
    assert sorted(r["id"] for r in second.records["order_payments"]) == [2, 5]
    assert second.final_state["bookmarks"]["order_payments"]["replication_key_value"] == (
        "2024-03-09T15:00:00+00:00"
    )


def test_lookback_window_reaches_behind_the_bookmark(server, config) -> None:
    rows = [payment(i, f"2024-03-0{i}T00:00:00Z") for i in range(1, 6)]
    serve(server, rows, [])
    state = {
        "bookmarks": {
            "order_payments": {
                "replication_key": "updated_at",
                "replication_key_value": "2024-03-05T00:00:00+00:00",
            }
        }
    }
    out = run({**config, "lookback_window": 2 * 86400}, state=state)
    assert sorted(r["id"] for r in out.records["order_payments"]) == [3, 4, 5]
    # look-back records never move the bookmark backwards
    assert (
        out.final_state["bookmarks"]["order_payments"]["replication_key_value"]
        == "2024-03-05T00:00:00+00:00"
    )


def test_start_and_end_date_bound_the_first_run(server, config) -> None:
    rows = [payment(i, f"2024-03-0{i}T00:00:00Z") for i in range(1, 8)]
    serve(server, rows, [])
    out = run({**config, "start_date": "2024-03-02T00:00:00Z", "end_date": "2024-03-05T00:00:00Z"})
    assert [r["id"] for r in out.records["order_payments"]] == [2, 3, 4, 5]


def test_records_updated_after_the_sync_started_wait_for_the_next_run(server, config) -> None:
    serve(server, [payment(1, "2024-01-01T00:00:00Z"), payment(2, "2999-01-01T00:00:00Z")], [])
    out = run(config)
    assert [r["id"] for r in out.records["order_payments"]] == [1]


def test_a_record_without_a_replication_value_is_kept(server, config) -> None:
    rows = [payment(1, "2024-01-01T00:00:00Z"), {**payment(2), "updated_at": None}]
    serve(server, rows, [])
    out = run({**config, "start_date": "2024-02-01T00:00:00Z"})
    assert [r["id"] for r in out.records["order_payments"]] == [2]


def test_unknown_fields_are_dropped_and_reported_once(server, config, caplog) -> None:
    serve(server, [{**payment(i), "surprise": i} for i in range(1, 4)], [])
    out = run(config)
    assert all("surprise" not in r for r in out.records["order_payments"])
    warnings = [r for r in caplog.records if "surprise" in r.getMessage()]
    assert len(warnings) == 1


def test_a_400_fails_the_run_with_the_apis_message(server, config) -> None:
    server.expect_request("/v1/order_payments").respond_with_json(
        {"status_code": 400, "message": "limit too large", "details": "max 100"}, status=400
    )
    server.expect_request("/v1/products").respond_with_json({"data": []})
    from tap_commerce.errors import ApiError  # noqa: PLC0415

    with pytest.raises(ApiError, match=r"order_payments.*400.*limit too large"):
        run(config)


def test_the_command_writes_only_singer_messages_to_stdout(server, config, tmp_path) -> None:
    from tests.harness import run_cli  # noqa: PLC0415

    serve(server, [payment(i) for i in range(1, 5)], [product(1)])
    out = run_cli([], config=config, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert {m["type"] for m in out.messages} == {"SCHEMA", "RECORD", "STATE"}
    first_record = next(i for i, m in enumerate(out.messages) if m["type"] == "RECORD")
    assert out.messages[first_record - 1]["type"] == "SCHEMA"
    assert out.messages[-1]["type"] == "STATE"
    assert len(out.records["order_payments"]) == 4
    assert "fake-payments-key" not in out.stdout + out.stderr


def test_the_bookmark_is_the_largest_value_wherever_it_comes_in_the_list(server, config) -> None:
    dates = [
        "2024-03-02T07:00:00-05:00",
        "2024-03-09T07:00:00-05:00",
        "2024-03-01T07:00:00-05:00",
        "2024-03-05T07:00:00-05:00",
    ]
    serve(server, [payment(i, updated) for i, updated in enumerate(dates, start=1)], [])
    out = run(config)
    assert len(out.records["order_payments"]) == 4
    assert (
        out.final_state["bookmarks"]["order_payments"]["replication_key_value"]
        == "2024-03-09T12:00:00+00:00"
    )
