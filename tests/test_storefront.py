"""storefront (contract §2.1): bearer token, absolute next-page URLs, modifiedAfter/Before."""

from __future__ import annotations

import pytest

from tap_commerce.errors import BadResponseError
from tests.fakeapi import cursor_handler, json_response, sent
from tests.harness import run

PREFIX = "/1.0"  # the default base URL has a path: it must survive the join
LISTS = {
    # each stream: its path, selector, and whether it takes the date filter
    "inventory": ("/commerce/inventory", "inventory", False),
    "orders": ("/commerce/orders", "result", True),
    "store_pages": ("/commerce/store_pages", "storePages", False),
    "products": ("/commerce/products", "products", True),
    "transactions": ("/commerce/transactions", "documents", True),
    "profiles": ("/profiles", "profiles", False),
}
#: one inventory record, for the tests of where a list's next-page link leads
INVENTORY_ITEM = {
    "id": "i1",
    "variantId": None,
    "sku": None,
    "descriptor": None,
    "isUnlimited": None,
    "quantity": 1,
}


def money(value: str) -> dict:
    return {"currency": "USD", "value": value}


def order(i: int, modified: str) -> dict:
    address = {
        "firstName": "Ada",
        "lastName": None,
        "address1": "1 Loop",
        "address2": None,
        "city": "X",
        "state": None,
        "countryCode": "GB",
        "postalCode": "N1",
        "phone": None,
    }
    return {
        "id": f"ord-{i}",
        "orderNumber": str(1000 + i),
        "createdOn": "2024-01-01T00:00:00.000Z",
        "modifiedOn": modified,
        "channel": "web",
        "testmode": False,
        "customerEmail": None,
        "billingAddress": address,
        "shippingAddress": None,
        "fulfillmentStatus": "PENDING",
        "fulfilledOn": None,
        "lineItems": [
            {
                "id": "li-1",
                "variantId": "v1",
                "sku": "S1",
                "productId": "p1",
                "productName": "Thing",
                "quantity": 2,
                "unitPricePaid": money("10.00"),
                "variantOptions": [],
            }
        ],
        "shippingLines": [],
        "discountLines": None,
        "subtotal": money("20.00"),
        "shippingTotal": money("0.00"),
        "discountTotal": money("0.00"),
        "taxTotal": money("3.33"),
        "refundedTotal": money("0.00"),
        "grandTotal": money("23.33"),
    }


def simple(i: int) -> dict:
    return {"id": f"id-{i}", "title": f"Page {i}", "isEnabled": True, "urlSlug": f"p{i}"}


@pytest.fixture
def config(server) -> dict:
    return {
        "api": "storefront",
        "base_url": server.url_for(f"{PREFIX}/"),
        "api_key": "fake-storefront-token",
    }


def serve(server, data: dict[str, list[dict]], page_size: int = 3) -> None:
    for name, (path, selector, filterable) in LISTS.items():
        full = PREFIX + path
        handler = cursor_handler(
            server,
            full,
            data.get(name, []),
            selector=selector,
            page_size=page_size,
            filterable=filterable,
        )

        def checked(request, handler=handler):
            if request.headers.get("Authorization") != "Bearer fake-storefront-token":
                return json_response(
                    {
                        "type": "AUTHORIZATION_ERROR",
                        "subtype": None,
                        "message": "bad token",
                        "details": None,
                        "contextId": "c1",
                    },
                    401,
                )
            return handler(request)

        server.expect_request(full).respond_with_handler(checked)


def test_full_sync_follows_next_page_urls_verbatim_under_the_base_path(server, config) -> None:
    orders = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 8)]
    serve(server, {"orders": orders, "store_pages": [simple(1)]})
    out = run(config)
    assert [r["id"] for r in out.records["orders"]] == [f"ord-{i}" for i in range(1, 8)]
    requests = sent(server, f"{PREFIX}/commerce/orders")
    assert [r.query_string.decode() for r in requests] == ["", "cursor=3", "cursor=6"]
    assert all(r.headers["Authorization"] == "Bearer fake-storefront-token" for r in requests)
    assert all(r.headers["User-Agent"].startswith("tap-commerce/") for r in requests)
    assert len(out.records["store_pages"]) == 1


def test_nested_values_pass_through_and_dates_normalise(server, config) -> None:
    serve(server, {"orders": [order(1, "2024-02-01T10:11:12.345Z")]})
    record = run(config).records["orders"][0]
    assert record["modifiedOn"] == "2024-02-01T10:11:12.345+00:00"
    assert record["createdOn"] == "2024-01-01T00:00:00+00:00"
    assert record["lineItems"][0]["unitPricePaid"] == {"currency": "USD", "value": "10.00"}
    assert record["shippingLines"] == [] and record["discountLines"] is None
    assert record["billingAddress"]["lastName"] is None


def test_incremental_run_sends_the_filter_pair_on_the_first_page_only(server, config) -> None:
    orders = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 9)]
    serve(server, {"orders": orders})
    first = run(config)
    assert (
        first.final_state["bookmarks"]["orders"]["replication_key_value"]
        == "2024-02-08T00:00:00+00:00"
    )

    orders[0]["modifiedOn"] = "2024-03-01T00:00:00.000Z"
    orders[1]["modifiedOn"] = "2024-03-02T00:00:00.000Z"
    server.clear_log()
    second = run({**config, "lookback_window": 0}, state=first.final_state)
    # newest first, bookmark record re-read (inclusive), nothing older
    assert [r["id"] for r in second.records["orders"]] == ["ord-2", "ord-1", "ord-8"]
    first_page, *later = sent(server, f"{PREFIX}/commerce/orders")
    assert first_page.args["modifiedAfter"] == "2024-02-08T00:00:00.000Z"
    assert (
        first_page.args["modifiedBefore"].endswith("Z")
        and len(first_page.args["modifiedBefore"]) == 24
    )
    assert all(set(r.args) == {"cursor"} for r in later)
    # lists without a filter never get one
    assert all(not r.args for r in sent(server, f"{PREFIX}/commerce/inventory"))
    assert (
        second.final_state["bookmarks"]["orders"]["replication_key_value"]
        == "2024-03-02T00:00:00+00:00"
    )


def test_a_bookmark_past_end_date_clamps_the_window_instead_of_inverting_it(server, config) -> None:
    serve(server, {"orders": [order(1, "2024-02-01T00:00:00.000Z")]})
    state = {
        "bookmarks": {
            "orders": {
                "replication_key": "modifiedOn",
                "replication_key_value": "2024-06-01T00:00:00+00:00",
            }
        }
    }
    run({**config, "end_date": "2024-05-01T00:00:00Z"}, state=state)
    request = sent(server, f"{PREFIX}/commerce/orders")[0]
    assert (
        request.args["modifiedAfter"]
        == request.args["modifiedBefore"]
        == "2024-05-01T00:00:00.000Z"
    )


def test_a_next_page_url_on_another_origin_stops_the_sync_and_is_never_contacted(
    server, config
) -> None:
    foreign = "http://127.0.0.2:9/steal?cursor=3"
    server.expect_request(f"{PREFIX}/commerce/inventory").respond_with_json(
        {
            "inventory": [INVENTORY_ITEM],
            "pagination": {"hasNextPage": True, "nextPageCursor": "3", "nextPageUrl": foreign},
        }
    )
    with pytest.raises(
        BadResponseError, match=r"inventory.*127\.0\.0\.2.*stopped without following"
    ):
        run(config)


def test_auth_failure_names_the_api_and_the_setting(server, config) -> None:
    serve(server, {})
    from tap_commerce.errors import AuthError  # noqa: PLC0415

    with pytest.raises(
        AuthError, match=r"storefront API refused the credentials.*401.*bad token.*'api_key'"
    ):
        run({**config, "api_key": "fake-wrong-token"})


def test_the_same_next_page_url_twice_stops_instead_of_looping(server, config) -> None:
    again = server.url_for(f"{PREFIX}/commerce/inventory?cursor=3")
    page = {
        "inventory": [INVENTORY_ITEM],
        "pagination": {"hasNextPage": True, "nextPageCursor": "3", "nextPageUrl": again},
    }
    server.expect_request(f"{PREFIX}/commerce/inventory").respond_with_json(page)
    with pytest.raises(BadResponseError, match="same next-page URL twice"):
        run(config)
    assert len(sent(server, f"{PREFIX}/commerce/inventory")) == 2


def test_an_unparseable_replication_key_stops_the_stream_naming_the_record(server, config) -> None:
    serve(server, {"orders": [order(1, "2024-02-01T00:00:00.000Z"), order(2, "last week")]})
    with pytest.raises(
        BadResponseError,
        match=r"stream 'orders'.*id='ord-2'.*'modifiedOn' is not a date-time: 'last week'",
    ):
        run(config)


def test_a_record_without_its_key_stops_the_stream_naming_it(server, config) -> None:
    keyless = {**order(2, "2024-02-01T00:00:00.000Z"), "id": None}
    serve(server, {"orders": [order(1, "2024-02-01T00:00:00.000Z"), keyless]})
    with pytest.raises(
        BadResponseError,
        match=r"stream 'orders'.*commerce/orders.*without its key 'id'.*'orderNumber'",
    ):
        run(config)


def test_a_403_fails_fast_like_a_401(server, config) -> None:
    server.expect_request(f"{PREFIX}/commerce/inventory").respond_with_json(
        {
            "type": "FORBIDDEN",
            "subtype": None,
            "message": "scope missing",
            "details": None,
            "contextId": "c2",
        },
        status=403,
    )
    from tap_commerce.errors import AuthError  # noqa: PLC0415

    with pytest.raises(AuthError, match=r"403.*scope missing.*'api_key'"):
        run(config)
    assert len(sent(server, f"{PREFIX}/commerce/inventory")) == 1
