"""digital (contract §2.4): basic auth, Accept header, page/per_page, wrappers, from/to."""

from __future__ import annotations

import pytest

from tests.fakeapi import basic_user, json_response, page_handler, sent
from tests.harness import run

WRAPPERS = {
    "products": "product",
    "packages": "package",
    "orders": "order",
    "subscriptions": "subscription",
}


def order(i: int, created: str) -> dict:
    return {
        "id": i, "state": "paid", "gateway": "card", "buyer_email": None, "buyer_name": "Ann",
        "price_at_checkout": "10.00", "settled_currency": "USD", "settled_gross": "10.00",
        "settled_gateway_fee": "0.59", "download_url": None,
        "cart": {"cart_items": [{"product_id": 7, "quantity": 1, "price_at_checkout": "10.00"}]},
        "subscription_id": None, "created_at": created, "updated_at": created,
    }  # fmt: skip


def package(i: int) -> dict:
    return {
        "id": i,
        "name": f"Pack {i}",
        "price": "5.50",
        "currency_code": "EUR",
        "components": {"product_ids": [1, 2]},
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": None,
    }


@pytest.fixture
def config(base_url: str) -> dict:
    return {
        "api": "digital",
        "base_url": base_url + "/v1/",
        "username": "fake-user",
        "password": "fake-digital-password",
        "page_size": 3,
    }


def serve(server, data: dict[str, list[dict]], *, object_form: bool = False) -> None:
    def auth(request):
        if basic_user(request) != ("fake-user", "fake-digital-password"):
            return json_response({"error": "Invalid credentials"}, 401)
        return None

    for stream, wrapper in WRAPPERS.items():
        server.expect_request(f"/v1/{stream}").respond_with_handler(
            page_handler(data.get(stream, []), wrapper=wrapper, object_form=object_form, check=auth)
        )


@pytest.mark.parametrize("object_form", [False, True], ids=["wrapper-array", "object-form"])
def test_full_sync_unwraps_records_across_pages(server, config, object_form) -> None:
    orders = [order(i, f"2024-02-{i:02d}T12:00:00Z") for i in range(1, 8)]
    serve(server, {"orders": orders, "packages": [package(1)]}, object_form=object_form)
    out = run(config)
    assert [r["id"] for r in out.records["orders"]] == list(range(1, 8))
    assert [r.args["page"] for r in sent(server, "/v1/orders")] == ["1", "2", "3"]
    assert all(r.headers["Accept"] == "application/json" for r in sent(server, "/v1/orders"))
    record = out.records["orders"][0]
    assert record["settled_gateway_fee"] == "0.59"  # decimal strings stay strings
    assert record["created_at"] == "2024-02-01T12:00:00+00:00"
    assert record["cart"]["cart_items"][0]["product_id"] == 7
    assert out.records["packages"][0]["components"] == {"product_ids": [1, 2]}


def test_first_run_without_bounds_reads_unfiltered(server, config) -> None:
    serve(server, {"orders": [order(1, "2024-02-01T00:00:00Z")]})
    run(config)
    assert "from" not in sent(server, "/v1/orders")[0].args


def test_incremental_run_sends_whole_days_on_every_page_and_drops_what_the_bookmark_covers(
    server, config
) -> None:
    orders = [order(i, f"2024-02-10T{i:02d}:00:00Z") for i in range(1, 9)]
    serve(server, {"orders": orders})
    state = {
        "bookmarks": {
            "orders": {
                "replication_key": "created_at",
                "replication_key_value": "2024-02-10T05:00:00+00:00",
            }
        }
    }
    out = run({**config, "end_date": "2024-02-11T00:00:00Z"}, state=state)
    requests = sent(server, "/v1/orders")
    assert len(requests) == 3
    assert all(r.args["from"] == "2024-02-10" and r.args["to"] == "2024-02-11" for r in requests)
    # the server answered the whole day; records before the bookmark are not emitted
    assert [r["id"] for r in out.records["orders"]] == [5, 6, 7, 8]
    assert (
        out.final_state["bookmarks"]["orders"]["replication_key_value"]
        == "2024-02-10T08:00:00+00:00"
    )


def test_per_page_stays_within_the_maximum(server, config) -> None:
    from singer_sdk.exceptions import ConfigValidationError  # noqa: PLC0415

    with pytest.raises(ConfigValidationError, match=r"page_size.*at most 50"):
        run({**config, "page_size": 60})
    serve(server, {})
    run({**config, "page_size": None})
    assert sent(server, "/v1/products")[0].args["per_page"] == "50"
