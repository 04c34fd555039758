"""The sandbox against the contract (§2), with hand-written requests and the exact answers
the contract prescribes — so the tap is never tested against a sandbox sharing its bugs."""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from tap_commerce_sandbox import DEFAULT_CREDENTIALS, Sandbox, cli
from tap_commerce_sandbox.drift import DEFAULT_EXTRA_FIELDS
from tap_commerce_sandbox.ratelimit import LeakyBucket, LockoutWindow, SlidingWindow, TokenBucket

from tests.sandbox_fixtures import (
    CONTRACT_FIELDS,
    TIMESTAMP_FORMATS,
    digital_get,
    follow_storefront,
    orders_get,
    orders_token,
    parse,
    payments_get,
    shop_get,
    storefront_get,
)

ANCHOR = "2025-06-01"


@pytest.fixture(scope="module")
def sb():
    """A read-only sandbox shared by the tests that do not change it."""
    with Sandbox(seed=1, scale=0.2) as sandbox:
        yield sandbox


@pytest.fixture
def make():
    """Build and start sandboxes with custom options; all are stopped afterwards."""
    started = []

    def factory(**options) -> Sandbox:
        options.setdefault("scale", 0.1)
        sandbox = Sandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ms_z(moment: datetime) -> str:
    return (
        moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


# The server ------------------------------------------------------------------------------


def test_one_port_serves_all_five_apis_under_their_prefixes(sb):
    bases = {api: sb.config(api)["base_url"] for api in DEFAULT_CREDENTIALS}
    assert bases == {
        "storefront": f"{sb.url}/storefront/1.0/",
        "payments": f"{sb.url}/payments/",
        "shop": f"{sb.url}/shop/",
        "digital": f"{sb.url}/digital/v1/",
        "orders": f"{sb.url}/orders/",
    }
    assert sb.url.startswith("http://127.0.0.1:")
    assert sb.config("orders")["token_url"] == f"{sb.url}/orders/oauth/token"
    assert storefront_get(sb, "profiles").status_code == 200
    assert payments_get(sb, "v1/products").status_code == 200
    assert shop_get(sb, "v1/themes").status_code == 200
    assert digital_get(sb, "packages").status_code == 200
    assert orders_get(sb).status_code == 200


def test_connections_are_kept_alive_with_exact_content_length(sb):
    host, port = sb.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for offset in (0, 100):
            connection.request(
                "GET", f"/payments/v1/products?api_key=sandbox-payments-key&offset={offset}"
            )
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == len(body)
            assert response.headers.get("Connection") != "close"
    finally:
        connection.close()


def test_credentials_are_fake_defaults_and_overridable(make):
    assert DEFAULT_CREDENTIALS["digital"]["username"] == "sandbox-user"
    for creds in DEFAULT_CREDENTIALS.values():
        assert all(value.startswith("sandbox-") for value in creds.values())
    sandbox = make(credentials={"shop": {"api_key": "other-key"}})
    assert sandbox.config("shop")["api_key"] == "other-key"
    assert shop_get(sandbox, "v1/pages").status_code == 200
    assert (
        shop_get(sandbox, "v1/pages", auth=("sandbox-shop-key", "sandbox-shop-secret")).status_code
        == 401
    )


def test_write_configs_writes_one_ready_config_per_api(sb, tmp_path):
    paths = sb.write_configs(tmp_path)
    assert sorted(p.name for p in paths.values()) == [
        f"{api}.json" for api in sorted(DEFAULT_CREDENTIALS)
    ]
    shop = json.loads((tmp_path / "shop.json").read_text())
    assert shop == {
        "api": "shop",
        "base_url": f"{sb.url}/shop/",
        "api_key": "sandbox-shop-key",
        "api_secret": "sandbox-shop-secret",
        "requests_per_second": 0,
    }
    orders = json.loads((tmp_path / "orders.json").read_text())
    assert orders["token_url"] == f"{sb.url}/orders/oauth/token"
    assert orders["client_id"] == "sandbox-client-id"


def test_unknown_prefix_is_404(sb):
    assert requests.get(f"{sb.url}/nope/v1/things").status_code == 404


def test_request_log_records_method_path_query_headers_and_status(make):
    sandbox = make()
    payments_get(sandbox, "v1/products", {"limit": "5"})
    entry = sandbox.requests[-1]
    assert (entry.method, entry.path, entry.status, entry.api) == (
        "GET",
        "/payments/v1/products",
        200,
        "payments",
    )
    assert entry.query == {"api_key": "sandbox-payments-key", "limit": "5"}
    assert entry.headers["user-agent"].startswith("python-requests")


# Data ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", sorted(CONTRACT_FIELDS))
def test_every_contract_field_is_on_every_record(sb, stream):
    api, name = stream.split(".")
    records = sb.records(api, name)
    assert records, f"{stream} is empty"
    expected = set(CONTRACT_FIELDS[stream]) | (
        {"prd_id"}
        if name in ("products_images", "products_reviews", "product_options", "products_variations")
        else set()
    )
    for record in records:
        assert set(record) == expected


@pytest.mark.parametrize("stream", sorted(CONTRACT_FIELDS))
def test_keys_are_unique(sb, stream):
    api, name = stream.split(".")
    key = {"orders.orders": "order_id", "shop.shipping_zones": "uuid"}.get(stream, "id")
    keys = [r[key] for r in sb.records(api, name)]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    "stream",
    [
        "storefront.orders",
        "payments.order_payments",
        "shop.products",
        "digital.orders",
        "orders.orders",
    ],
)
def test_timestamps_use_the_apis_format_and_span_years_to_the_present(sb, stream):
    api, name = stream.split(".")
    created_field = {
        "storefront": "createdOn",
        "payments": "created_at",
        "shop": "created_at_utc",
        "digital": "created_at",
        "orders": "creation_date",
    }[api]
    records = sb.records(api, name)
    values = [r[created_field] for r in records]
    assert all(TIMESTAMP_FORMATS[api].match(v) for v in values)
    moments = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
    moments = [m if m.tzinfo else m.replace(tzinfo=timezone.utc) for m in moments]
    assert moments == sorted(moments), "unfiltered lists come oldest first"
    now = datetime.now(timezone.utc)
    assert now - moments[0] > timedelta(days=700)
    assert any(now - m < timedelta(days=90) for m in moments)
    assert max(moments) <= now


def test_payments_timestamps_carry_local_offsets(sb):
    offsets = {r["created_at"][-6:] for r in sb.records("payments", "order_payments")}
    assert offsets == {"-05:00", "-04:00"}  # the merchant's zone, with daylight saving


def test_nullable_fields_and_arrays_come_null_empty_and_filled(sb):
    products = sb.records("storefront", "products")
    tags = [p["tags"] for p in products]
    assert None in tags and [] in tags and any(tags)
    orders = sb.records("storefront", "orders")
    assert any(o["shippingAddress"] is None for o in orders)
    assert all(isinstance(o["grandTotal"]["value"], str) for o in orders)
    options = sb.records("shop", "product_options")
    assert any(o["values"] is None for o in options) and any(o["values"] == [] for o in options)


def test_payments_amounts_are_exact_decimal_literals(sb):
    records = sb.records("payments", "order_payments")
    four_places = [r for r in records if r["amount"].as_tuple().exponent == -4]
    assert four_places, "some amounts have 4 decimal places"
    target = next((r for r in four_places if str(r["amount"]).endswith("0")), four_places[0])
    position = next(i for i, r in enumerate(records) if r["id"] == target["id"])
    raw = payments_get(sb, "v1/order_payments", {"offset": position, "limit": 1}).text
    assert f'"amount":{target["amount"]}' in raw  # verbatim, trailing zeros kept


def test_shop_prices_and_tiny_weights_are_exact_number_literals(sb):
    records = sb.records("shop", "products")
    assert all(
        isinstance(r["price"], Decimal) and r["price"].as_tuple().exponent == -2 for r in records
    )
    assert any(
        r["weight"] == Decimal("0.0001") or r["weight"] == Decimal("0.0005") for r in records
    )
    raw = shop_get(sb, "v1/products", {"limit": 100}).text
    assert re.search(r'":-?\d+(\.\d+)?[eE]', raw) is None  # no float exponent forms such as 1e-04
    assert re.search(r'"weight":0\.000[15]\b', raw)


def test_same_seed_same_data_other_seed_other_data():
    def snapshot(seed):
        sandbox = Sandbox(seed=seed, scale=0.1, anchor=ANCHOR)
        return {
            s: sandbox.records(*s.split("."))
            for s in (
                "storefront.orders",
                "shop.products_reviews",
                "payments.order_payments",
                "orders.orders",
            )
        }

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


def test_sizes_override_and_large_streams_are_lazy():
    sandbox = Sandbox(seed=1, sizes={"payments.order_payments": 250_000})
    started = time.perf_counter()
    assert sandbox.count("payments", "order_payments") == 250_000
    tail = sandbox.records("payments", "order_payments", offset=249_990)
    assert len(tail) == 10 and time.perf_counter() - started < 1.0
    with pytest.raises(ValueError, match="unknown stream"):
        Sandbox(sizes={"payments.nope": 1})


def test_shop_children_have_0_to_8_rows_per_product_and_globally_unique_ids(sb):
    for stream in ("products_images", "products_reviews", "product_options", "products_variations"):
        by_product = sb.child_records("shop", stream)
        assert set(by_product) == {p["id"] for p in sb.records("shop", "products")}
        assert all(0 <= len(rows) <= 8 for rows in by_product.values())
        ids = [row["id"] for rows in by_product.values() for row in rows]
        assert len(ids) == len(set(ids))
        assert all(row["prd_id"] in by_product for row in sb.records("shop", stream))


def test_orders_ids_look_like_order_numbers(sb):
    assert all(
        re.fullmatch(r"\d\d-\d{5}-\d{5}", r["order_id"]) for r in sb.records("orders", "orders")
    )


# storefront (§2.1) -------------------------------------------------------------------------


def assert_storefront_error(response, status, error_type):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"type", "subtype", "message", "details", "contextId"}
    assert body["type"] == error_type and body["details"] is None and body["message"]


def test_storefront_without_user_agent_is_400(sb):
    # http.client, because requests and urllib3 always add a User-Agent of their own.
    host, port = sb.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(
            "GET",
            "/storefront/1.0/commerce/orders",
            headers={"Authorization": "Bearer sandbox-storefront-token"},
        )
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400
    assert body["type"] == "INVALID_REQUEST_ERROR" and "User-Agent" in body["message"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic c2FuZGJveDp4"])
def test_storefront_bad_or_missing_token_is_401(sb, authorization):
    response = storefront_get(sb, "commerce/orders", headers={"Authorization": authorization})
    assert_storefront_error(response, 401, "AUTHORIZATION_ERROR")


def test_storefront_pages_hold_at_most_50_and_next_urls_are_absolute_cursors(sb):
    pages = follow_storefront(sb, "commerce/orders")
    assert len(pages) > 1
    for page in pages[:-1]:
        pagination = page["pagination"]
        assert len(page["result"]) == 50
        assert pagination["hasNextPage"] is True
        assert (
            pagination["nextPageUrl"]
            == f"{sb.url}/storefront/1.0/commerce/orders?cursor={pagination['nextPageCursor']}"
        )
    assert pages[-1]["pagination"] == {
        "hasNextPage": False,
        "nextPageCursor": None,
        "nextPageUrl": None,
    }
    served = [r["id"] for page in pages for r in page["result"]]
    assert served == [r["id"] for r in sb.records("storefront", "orders")]


def test_storefront_selectors(sb):
    for path, selector in [
        ("commerce/inventory", "inventory"),
        ("commerce/store_pages", "storePages"),
        ("commerce/products", "products"),
        ("commerce/transactions", "documents"),
        ("profiles", "profiles"),
    ]:
        body = storefront_get(sb, path).json()
        assert set(body) == {selector, "pagination"} and body[selector]


def test_storefront_cursor_with_any_other_parameter_is_400(sb):
    cursor = storefront_get(sb, "commerce/orders").json()["pagination"]["nextPageCursor"]
    window = {
        "modifiedAfter": "2020-01-01T00:00:00.000Z",
        "modifiedBefore": "2030-01-01T00:00:00.000Z",
    }
    assert storefront_get(sb, "commerce/orders", {"cursor": cursor}).status_code == 200
    for extra in ({"modifiedAfter": window["modifiedAfter"]}, window, {"foo": "1"}):
        response = storefront_get(sb, "commerce/orders", {"cursor": cursor, **extra})
        assert_storefront_error(response, 400, "INVALID_REQUEST_ERROR")


def test_storefront_unknown_parameter_is_400(sb):
    for params in ({"limit": "10"}, {"page": "2"}, {"modifiedSince": "2024-01-01T00:00:00.000Z"}):
        assert_storefront_error(
            storefront_get(sb, "commerce/orders", params), 400, "INVALID_REQUEST_ERROR"
        )


def test_storefront_forged_cursor_is_400(sb):
    assert storefront_get(sb, "commerce/orders", {"cursor": "not-a-cursor"}).status_code == 400
    other = storefront_get(sb, "profiles").json()["pagination"]["nextPageCursor"]
    assert storefront_get(sb, "commerce/orders", {"cursor": other}).status_code == 400


@pytest.mark.parametrize("name", ["modifiedAfter", "modifiedBefore"])
def test_storefront_one_filter_bound_alone_is_400(sb, name):
    response = storefront_get(sb, "commerce/products", {name: "2024-01-01T00:00:00.000Z"})
    assert_storefront_error(response, 400, "INVALID_REQUEST_ERROR")


@pytest.mark.parametrize(
    "after",
    [
        "2024-01-01T00:00:00.000+00:00",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000",
        "2024-13-01T00:00:00.000Z",
        "2024-01-01",
    ],
)
def test_storefront_filter_timestamps_must_be_utc_millis_z(sb, after):
    params = {"modifiedAfter": after, "modifiedBefore": "2025-01-01T00:00:00.000Z"}
    assert_storefront_error(
        storefront_get(sb, "commerce/orders", params), 400, "INVALID_REQUEST_ERROR"
    )


def test_storefront_inverted_window_is_400(sb):
    params = {
        "modifiedAfter": "2025-01-02T00:00:00.000Z",
        "modifiedBefore": "2025-01-01T00:00:00.000Z",
    }
    assert_storefront_error(
        storefront_get(sb, "commerce/transactions", params), 400, "INVALID_REQUEST_ERROR"
    )


@pytest.mark.parametrize("path", ["commerce/inventory", "commerce/store_pages", "profiles"])
def test_storefront_filter_where_none_is_offered_is_400(sb, path):
    params = {
        "modifiedAfter": "2020-01-01T00:00:00.000Z",
        "modifiedBefore": "2030-01-01T00:00:00.000Z",
    }
    assert_storefront_error(storefront_get(sb, path, params), 400, "INVALID_REQUEST_ERROR")


def test_storefront_filtered_lists_are_newest_first_within_inclusive_bounds(sb):
    records = sb.records("storefront", "orders")
    modified = sorted(r["modifiedOn"] for r in records)
    low, high = modified[len(modified) // 5], modified[-len(modified) // 5]
    pages = follow_storefront(sb, "commerce/orders", {"modifiedAfter": low, "modifiedBefore": high})
    served = [r for page in pages for r in page["result"]]
    assert len(pages) > 1 and all(len(page["result"]) <= 50 for page in pages)
    assert [r["modifiedOn"] for r in served] == sorted(
        (r["modifiedOn"] for r in served), reverse=True
    )
    expected = {r["id"] for r in records if low <= r["modifiedOn"] <= high}
    assert [r["id"] for r in served if r["id"] in expected] == [r["id"] for r in served]
    assert {r["id"] for r in served} == expected
    assert (
        served[0]["modifiedOn"] == high and served[-1]["modifiedOn"] == low
    )  # both bounds inclusive


# payments (§2.2) -----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"api_key": "wrong"}])
def test_payments_bad_key_is_401(sb, params):
    response = requests.get(sb.config("payments")["base_url"] + "v1/order_payments", params=params)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"status_code", "message", "details"} and body["status_code"] == 401


def test_payments_limit_over_100_is_400(sb):
    response = payments_get(sb, "v1/order_payments", {"limit": 101})
    assert response.status_code == 400
    assert response.json()["status_code"] == 400
    assert payments_get(sb, "v1/order_payments", {"limit": 100}).status_code == 200


def test_payments_offset_pages_carry_total_and_end_short(sb):
    expected = [r["id"] for r in sb.records("payments", "order_payments")]
    first = parse(payments_get(sb, "v1/order_payments"))
    assert (
        set(first) == {"data", "total"}
        and first["total"] == len(expected)
        and len(first["data"]) == 100
    )
    served, offset = [], 0
    while True:
        page = parse(payments_get(sb, "v1/order_payments", {"offset": offset, "limit": 100}))[
            "data"
        ]
        served += [r["id"] for r in page]
        offset += 100
        if len(page) < 100:
            break
    assert served == expected
    assert parse(payments_get(sb, "v1/order_payments", {"offset": len(expected)}))["data"] == []


def test_payments_total_can_be_absent(make):
    sandbox = make(payments_total=False)
    body = parse(payments_get(sandbox, "v1/products"))
    assert set(body) == {"data"} and body["data"]


# shop (§2.3) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth", [None, ("sandbox-shop-key", "wrong"), ("wrong", "sandbox-shop-secret")]
)
def test_shop_bad_credentials_are_401_code_2(sb, auth):
    url = sb.config("shop")["base_url"] + "v1/products"
    response = requests.get(url, auth=auth)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == 2


def test_shop_object_envelope_with_default_limit_20(sb):
    body = parse(shop_get(sb, "v1/products"))
    assert set(body) == {"data"}
    assert [r["id"] for r in body["data"]] == [r["id"] for r in sb.records("shop", "products")[:20]]


def test_shop_bare_array_envelope(make):
    sandbox = make(shop_envelope="bare")
    body = parse(shop_get(sandbox, "v1/customers", {"offset": 5, "limit": 3}))
    assert isinstance(body, list)
    assert body == sandbox.records("shop", "customers")[5:8]
    product = sandbox.records("shop", "products")[0]["id"]
    assert isinstance(parse(shop_get(sandbox, f"v1/products/{product}/images")), list)


def test_shop_limit_over_100_is_400(sb):
    response = shop_get(sb, "v1/orders", {"limit": 101})
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}


def test_shop_lists_end_with_a_short_then_empty_page(sb):
    count = sb.count("shop", "orders")
    last = parse(shop_get(sb, "v1/orders", {"offset": count - 3, "limit": 20}))["data"]
    assert len(last) == 3
    assert parse(shop_get(sb, "v1/orders", {"offset": count, "limit": 20}))["data"] == []


def test_shop_countries_is_one_page(sb):
    body = parse(shop_get(sb, "v1/countries"))
    assert len(body["data"]) == sb.count("shop", "countries") > 20


def test_shop_children_of_an_unknown_product_are_404(sb):
    known = {p["id"] for p in sb.records("shop", "products")}
    unknown = max(known) + 1
    for kind in ("images", "reviews", "options", "variations"):
        response = shop_get(sb, f"v1/products/{unknown}/{kind}")
        assert response.status_code == 404
        assert set(response.json()) == {"code", "message"}


def test_shop_children_serve_each_products_rows(sb):
    by_product = sb.child_records("shop", "products_reviews")
    product_id, rows = max(by_product.items(), key=lambda item: len(item[1]))
    assert parse(shop_get(sb, f"v1/products/{product_id}/reviews"))["data"] == rows
    assert (
        parse(shop_get(sb, f"v1/products/{product_id}/reviews", {"offset": 1, "limit": 1}))["data"]
        == rows[1:2]
    )


# digital (§2.4) ------------------------------------------------------------------------------


def test_digital_bad_credentials_are_401(sb):
    response = digital_get(sb, "products", auth=("sandbox-user", "wrong"))
    assert response.status_code == 401
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    "accept", ["text/html", "*/*", "application/xml", None, "application/json;q=0"]
)
def test_digital_accept_other_than_json_is_406(sb, accept):
    assert digital_get(sb, "products", accept=accept).status_code == 406


def test_digital_accept_json_with_parameters_is_fine(sb):
    assert digital_get(sb, "products", accept="application/json; charset=utf-8").status_code == 200


def test_digital_array_of_wrappers_and_per_page_clamped_to_50(sb):
    body = parse(digital_get(sb, "orders", {"per_page": 60}))
    assert isinstance(body, list) and len(body) == 50
    assert all(set(item) == {"order"} for item in body)
    assert [item["order"] for item in body] == sb.records("digital", "orders")[:50]


def test_digital_object_envelope(make):
    sandbox = make(digital_envelope="object")
    body = parse(digital_get(sandbox, "packages", {"page": 1, "per_page": 5}))
    assert body == {"package": sandbox.records("digital", "packages")[:5]}
    assert parse(digital_get(sandbox, "packages", {"page": 1000})) == {"package": []}


def test_digital_page_past_the_end_is_empty(sb):
    pages = -(-sb.count("digital", "subscriptions") // 50)
    assert len(parse(digital_get(sb, "subscriptions", {"page": pages}))) > 0
    assert parse(digital_get(sb, "subscriptions", {"page": pages + 1})) == []


def test_digital_orders_from_to_are_inclusive_on_created_dates(sb):
    records = sb.records("digital", "orders")
    day = records[len(records) // 2]["created_at"][:10]
    next_day = (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat()
    expected = [r for r in records if day <= r["created_at"][:10] <= next_day]
    served, page = [], 1
    while True:
        batch = parse(
            digital_get(sb, "orders", {"from": day, "to": next_day, "page": page, "per_page": 50})
        )
        served += [item["order"] for item in batch]
        if len(batch) < 50:
            break
        page += 1
    assert served == expected and expected
    single = parse(digital_get(sb, "orders", {"from": day, "to": day}))
    assert [i["order"]["id"] for i in single] == [
        r["id"] for r in records if r["created_at"][:10] == day
    ]


def test_digital_bad_dates_are_400(sb):
    assert digital_get(sb, "orders", {"from": "2024-01-01T00:00:00Z"}).status_code == 400


# orders (§2.5) -------------------------------------------------------------------------------


def test_orders_token_flow(sb):
    config = sb.config("orders")
    response = requests.post(
        config["token_url"],
        data={"grant_type": "client_credentials", "scope": "orders.read"},
        auth=(config["client_id"], config["client_secret"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert body["scope"] == "orders.read"
    assert orders_get(sb, token=body["access_token"]).status_code == 200


@pytest.mark.parametrize("how", ["wrong-secret", "no-auth", "credentials-in-body"])
def test_orders_token_bad_client_is_401_invalid_client(sb, how):
    config = sb.config("orders")
    form = {"grant_type": "client_credentials"}
    auth = (config["client_id"], "wrong") if how == "wrong-secret" else None
    if how == "credentials-in-body":
        form.update(client_id=config["client_id"], client_secret=config["client_secret"])
    response = requests.post(config["token_url"], data=form, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client" and response.json()["error_description"]


def test_orders_token_needs_a_form_with_the_client_credentials_grant(sb):
    config = sb.config("orders")
    auth = (config["client_id"], config["client_secret"])
    as_json = requests.post(
        config["token_url"], json={"grant_type": "client_credentials"}, auth=auth
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    password = requests.post(config["token_url"], data={"grant_type": "password"}, auth=auth)
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    scope = requests.post(
        config["token_url"], data={"grant_type": "client_credentials", "scope": "admin"}, auth=auth
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def orders_error_id(response) -> int:
    body = response.json()
    assert set(body) == {"errors"} and set(body["errors"][0]) == {
        "errorId",
        "message",
        "longMessage",
    }
    return body["errors"][0]["errorId"]


def test_orders_missing_token_is_1002_and_invalid_is_1001(sb):
    url = sb.config("orders")["base_url"] + "v1/orders"
    missing = requests.get(url)
    assert missing.status_code == 401 and orders_error_id(missing) == 1002
    invalid = requests.get(url, headers={"Authorization": "Bearer forged"})
    assert invalid.status_code == 401 and orders_error_id(invalid) == 1001


def test_orders_expired_token_is_401_1001(make):
    sandbox = make(token_ttl=0.5)  # long enough for the first call on a loaded machine
    token = orders_token(sandbox)
    assert orders_get(sandbox, token=token).status_code == 200
    time.sleep(0.6)
    expired = orders_get(sandbox, token=token)
    assert expired.status_code == 401 and orders_error_id(expired) == 1001
    fresh = orders_token(sandbox)
    sandbox.expire_tokens()
    assert orders_error_id(orders_get(sandbox, token=fresh)) == 1001


def test_orders_without_filter_only_the_last_90_days(sb):
    records = sb.records("orders", "orders")
    cutoff = datetime.now(timezone.utc) - timedelta(days=90)
    recent = {
        r["order_id"] for r in records if utc(r["creation_date"]) >= cutoff + timedelta(seconds=5)
    }
    token = orders_token(sb)
    body = parse(orders_get(sb, {"limit": 50}, token=token))
    served = list(body["orders"])
    while "next" in body:
        body = parse(requests.get(body["next"], headers={"Authorization": f"Bearer {token}"}))
        served += body["orders"]
    assert recent and recent <= {o["order_id"] for o in served}
    assert all(utc(o["creation_date"]) >= cutoff - timedelta(seconds=5) for o in served)
    assert len(served) < len(records)


def test_orders_filter_selects_by_last_modified_ascending(sb):
    records = sb.records("orders", "orders")
    modified = sorted(r["last_modified_date"] for r in records)
    low, high = modified[10], modified[-10]
    body = parse(orders_get(sb, {"filter": f"lastmodifieddate:[{low}..{high}]", "limit": 200}))
    expected = sorted(
        (r for r in records if low <= r["last_modified_date"] <= high),
        key=lambda r: r["last_modified_date"],
    )
    assert body["total"] == len(expected) and body["offset"] == 0 and body["limit"] == 200
    assert [o["last_modified_date"] for o in body["orders"]] == [
        r["last_modified_date"] for r in expected[:200]
    ]
    assert body["orders"][0]["last_modified_date"] == low
    open_ended = parse(orders_get(sb, {"filter": f"lastmodifieddate:[{low}..]", "limit": 1}))
    assert open_ended["total"] == sum(1 for r in records if r["last_modified_date"] >= low)


def test_orders_envelope_links(sb):
    body = parse(
        orders_get(
            sb, {"filter": "lastmodifieddate:[1970-01-01T00:00:00.000Z..]", "limit": 7, "offset": 7}
        )
    )
    assert set(body) == {"href", "orders", "total", "offset", "limit", "next"}
    assert body["href"].startswith(f"{sb.url}/orders/v1/orders?") and "offset=7" in body["href"]
    assert "offset=14" in body["next"] and "limit=7" in body["next"]
    last = parse(
        orders_get(
            sb,
            {
                "filter": "lastmodifieddate:[1970-01-01T00:00:00.000Z..]",
                "offset": body["total"] - 1,
            },
        )
    )
    assert len(last["orders"]) == 1 and "next" not in last


@pytest.mark.parametrize(
    "bad",
    [
        "lastmodifieddate:[2024-01-01..]",
        "lastmodifieddate:[2024-01-01T00:00:00.000+00:00..]",
        "lastmodifieddate:2024-01-01T00:00:00.000Z",
        "creationdate:[2024-01-01T00:00:00.000Z..]",
        "lastmodifieddate:[..2024-01-01T00:00:00.000Z]",
        "lastmodifieddate:[2024-02-01T00:00:00.000Z..2024-01-01T00:00:00.000Z]",
    ],
)
def test_orders_malformed_filter_is_400(sb, bad):
    response = orders_get(sb, {"filter": bad})
    assert response.status_code == 400 and orders_error_id(response)


def test_orders_limit_over_200_is_400(sb):
    assert orders_get(sb, {"limit": 201}).status_code == 400
    assert orders_get(sb, {"limit": 200}).status_code == 200


# Rate limits (§2, scaled with time_scale) ------------------------------------------------------


def test_storefront_limit_then_60s_lockout_without_retry_after(make):
    sandbox = make(
        rate_limits={"storefront": {"limit": 3}}, time_scale=0.005
    )  # 0.3 s window/lock-out
    assert [storefront_get(sandbox, "profiles").status_code for _ in range(3)] == [200] * 3
    locked = [storefront_get(sandbox, "profiles") for _ in range(2)]
    for response in locked:
        assert_storefront_error(response, 429, "RATE_LIMIT_ERROR")
        assert "Retry-After" not in response.headers
    time.sleep(0.35)
    assert storefront_get(sandbox, "profiles").status_code == 200
    assert sandbox.count_429 == 2


def test_storefront_default_limit_is_300_per_minute(make):
    sandbox = make(rate_limits=True, time_scale=0.1)
    with requests.Session() as session:
        headers = {"Authorization": "Bearer sandbox-storefront-token", "User-Agent": "t"}
        url = sandbox.config("storefront")["base_url"] + "commerce/store_pages"
        statuses = [session.get(url, headers=headers).status_code for _ in range(301)]
    assert statuses[:300] == [200] * 300 and statuses[300] == 429


def test_shop_bucket_overflow_is_429_with_scaled_retry_after(make):
    sandbox = make(rate_limits={"shop": {"capacity": 3, "leak_per_second": 0.1}}, time_scale=0.1)
    statuses = [shop_get(sandbox, "v1/pages") for _ in range(4)]
    assert [r.status_code for r in statuses[:3]] == [200] * 3
    assert statuses[3].status_code == 429 and statuses[3].headers["Retry-After"] == "0.1"
    assert set(statuses[3].json()) == {"code", "message"}


def test_digital_burst_of_5_then_429_retry_after_1(make):
    sandbox = make(rate_limits={"digital": {}})
    statuses = [digital_get(sandbox, "products") for _ in range(6)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    assert statuses[5].status_code == 429 and statuses[5].headers["Retry-After"] == "1"
    assert sandbox.stats()["429"]["rate_limited"] == 1


def test_payments_retry_after_is_seconds_or_http_date(make):
    sandbox = make(rate_limits={"payments": {"limit": 2, "window": 60}})
    statuses = [payments_get(sandbox, "v1/products") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    assert statuses[2].headers["Retry-After"].isdigit()
    assert email.utils.parsedate_to_datetime(statuses[3].headers["Retry-After"]).tzinfo is not None
    assert statuses[2].json()["status_code"] == 429


def test_orders_limit_covers_the_token_endpoint(make):
    sandbox = make(rate_limits={"orders": {"limit": 1, "window": 30}})
    token = orders_token(sandbox)
    response = orders_get(sandbox, token=token)
    assert response.status_code == 429 and response.headers["Retry-After"].isdigit()


def test_limiters_follow_their_published_rules_with_a_fake_clock():
    now = [0.0]

    def clock() -> float:
        return now[0]

    lockout = LockoutWindow(limit=300, window=60, cooldown=60, clock=clock)
    assert all(lockout.check() is None for _ in range(300))
    assert lockout.check() == []  # 429, no Retry-After
    now[0] = 59.9
    assert lockout.check() == []
    now[0] = 60.1
    assert lockout.check() is None

    now[0] = 0.0
    bucket = LeakyBucket(capacity=40, leak_per_second=2, clock=clock)
    assert all(bucket.check() is None for _ in range(40))
    assert bucket.check() == [("Retry-After", "1")]
    now[0] = 1.0  # two drained
    assert bucket.check() is None and bucket.check() is None and bucket.check() is not None

    now[0] = 0.0
    tokens = TokenBucket(burst=5, per_second=1, clock=clock, time_scale=0.01)
    assert all(tokens.check() is None for _ in range(5))
    assert tokens.check() == [("Retry-After", "0.01")]
    now[0] = 0.01  # one token back after 1 s x 0.01
    assert tokens.check() is None and tokens.check() is not None

    now[0] = 0.0
    window = SlidingWindow(limit=1, window=10, style="seconds", clock=clock)
    assert window.check() is None
    now[0] = 2.5
    assert window.check() == [("Retry-After", "8")]  # whole seconds, rounded up


# Faults, latency ---------------------------------------------------------------------------------


def test_fault_429_with_and_without_retry_after(make):
    sandbox = make(time_scale=0.5)
    sandbox.fail_next(1, "429")
    first = payments_get(sandbox, "v1/products")
    assert first.status_code == 429 and first.headers["Retry-After"] == "0.5"
    assert first.json()["status_code"] == 429
    sandbox.fail_next(1, "429-no-retry-after")
    second = payments_get(sandbox, "v1/products")
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert payments_get(sandbox, "v1/products").status_code == 200
    assert sandbox.count_429 == 2


def test_fault_500_uses_the_apis_error_form(make):
    sandbox = make()
    sandbox.fail_next(1, "500")
    response = shop_get(sandbox, "v1/pages")
    assert response.status_code == 500 and set(response.json()) == {"code", "message"}


@pytest.mark.parametrize("status", ["502", "503", "504"])
def test_fault_gateway_errors_are_html_pages(make, status):
    sandbox = make()
    sandbox.fail_next(1, status)
    response = digital_get(sandbox, "products")
    assert response.status_code == int(status)
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("kind", ["truncated", "invalid-json"])
def test_fault_200_with_a_body_that_is_not_json(make, kind):
    sandbox = make()
    sandbox.fail_next(1, kind)
    response = payments_get(sandbox, "v1/order_payments")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert payments_get(sandbox, "v1/order_payments").json()["data"]


def test_fault_drop_closes_the_connection_without_a_response(make):
    sandbox = make()
    sandbox.fail_next(1, "drop")
    with pytest.raises(requests.ConnectionError):
        payments_get(sandbox, "v1/products")
    assert payments_get(sandbox, "v1/products").status_code == 200
    assert sandbox.requests[0].status is None and sandbox.requests[0].fault == "drop"


def test_fault_slow_response_outlasts_the_client_timeout(make):
    sandbox = make()
    sandbox.fail_next(1, "slow", slow_seconds=0.4)
    with pytest.raises(requests.ReadTimeout):
        payments_get(sandbox, "v1/products", timeout=0.1)
    assert payments_get(sandbox, "v1/products", timeout=5).status_code == 200


def test_token_endpoint_can_fail_too(make):
    sandbox = make()
    sandbox.set_faults(rate=1.0, kinds=["503"], path="oauth/token")
    config = sandbox.config("orders")
    failed = requests.post(
        config["token_url"],
        data={"grant_type": "client_credentials"},
        auth=(config["client_id"], config["client_secret"]),
    )
    assert failed.status_code == 503 and failed.headers["Content-Type"].startswith("text/html")
    sandbox.clear_faults()
    token = orders_token(sandbox)
    sandbox.set_faults(rate=1.0, kinds=["503"], path="oauth/token")
    assert orders_get(sandbox, token=token).status_code == 200  # the list is not targeted


def test_faults_target_apis_and_never_the_admin_endpoints(make):
    sandbox = make()
    sandbox.fail_next(1, "500", apis="shop")
    assert requests.get(f"{sandbox.url}/_admin/stats").status_code == 200
    assert payments_get(sandbox, "v1/products").status_code == 200
    assert shop_get(sandbox, "v1/pages").status_code == 500


def test_fault_rate_is_deterministic_per_seed(make):
    def statuses(seed):
        sandbox = make()
        sandbox.set_faults(rate=0.3, kinds=["429", "500", "503"], seed=seed)
        return [payments_get(sandbox, "v1/products").status_code for _ in range(30)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) - {200} and 200 in first
    assert first != statuses(8)


def test_fault_schedule_hits_the_nth_matching_request(make):
    sandbox = make()
    sandbox.set_faults(schedule={2: "500", 4: "504"}, path="/v1/pages")
    statuses = [shop_get(sandbox, "v1/pages").status_code for _ in range(5)]
    assert statuses == [200, 500, 200, 504, 200]
    sandbox.clear_faults()
    assert shop_get(sandbox, "v1/pages").status_code == 200


def test_mixed_fault_plan_is_reproducible(make):
    def outcomes(seed):
        sandbox = make()
        sandbox.set_faults(rate=0.5, kinds=["429", "500", "truncated", "drop"], seed=seed)
        seen = []
        for _ in range(20):
            try:
                response = payments_get(sandbox, "v1/products", {"limit": 2})
            except requests.ConnectionError:
                seen.append("drop")
                continue
            try:
                response.json()
                seen.append(response.status_code)
            except ValueError:
                seen.append("not json")
        return seen

    first = outcomes(7)
    assert first == outcomes(7)
    assert {"drop", "not json", 429, 500, 200} <= set(first)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="shop_envelope"):
        Sandbox(shop_envelope="list")
    with pytest.raises(ValueError, match="digital_envelope"):
        Sandbox(digital_envelope="bare")
    with pytest.raises(ValueError, match="rate_limits"):
        Sandbox(rate_limits={"nope": {}})
    with pytest.raises(ValueError, match="unknown fault kind"):
        Sandbox().set_faults(rate=0.1, kinds=["418"])


def test_latency_is_added_to_every_request(make):
    sandbox = make(latency=0.05)
    started = time.perf_counter()
    payments_get(sandbox, "v1/products", {"limit": 1})
    assert time.perf_counter() - started >= 0.05


# Mutations ---------------------------------------------------------------------------------------


def test_mutate_adds_and_updates_with_now_timestamps(make):
    sandbox = make()
    before = {r["id"]: r for r in sandbox.records("payments", "order_payments")}
    summary = sandbox.mutate(api="payments", added=3, updated=2)
    change = summary["streams"]["payments.order_payments"]
    after = {r["id"]: r for r in sandbox.records("payments", "order_payments")}
    assert len(after) == len(before) + 3 and set(change["added"]) == set(after) - set(before)
    now = datetime.now(timezone.utc)
    for record_id in change["updated"]:
        assert after[record_id]["created_at"] == before[record_id]["created_at"]
        assert abs(now - datetime.fromisoformat(after[record_id]["updated_at"])) < timedelta(
            seconds=5
        )
    for record_id in change["added"]:
        assert after[record_id]["created_at"] == after[record_id]["updated_at"]
        assert abs(now - datetime.fromisoformat(after[record_id]["created_at"])) < timedelta(
            seconds=5
        )
    last = parse(payments_get(sandbox, "v1/order_payments", {"offset": len(after) - 3}))["data"]
    assert [r["id"] for r in last] == change["added"]  # new records come last (creation order)


def test_mutate_updates_shop_products_updated_at_utc(make):
    sandbox = make()
    change = sandbox.mutate(api="shop", streams=["products"], added=0, updated=2)["streams"]
    assert list(change) == ["shop.products"]
    today = datetime.now(timezone.utc).strftime("%Y-%m-%dT")
    updated = [
        r
        for r in sandbox.records("shop", "products")
        if r["id"] in change["shop.products"]["updated"]
    ]
    assert len(updated) == 2 and all(r["updated_at_utc"].startswith(today) for r in updated)


def test_mutated_storefront_records_lead_a_filtered_read(make):
    sandbox = make()
    since = ms_z(datetime.now(timezone.utc) - timedelta(seconds=1))
    change = sandbox.mutate(api="storefront", streams=["orders"], added=2, updated=2)["streams"][
        "storefront.orders"
    ]
    until = ms_z(datetime.now(timezone.utc) + timedelta(seconds=1))
    body = storefront_get(
        sandbox, "commerce/orders", {"modifiedAfter": since, "modifiedBefore": until}
    ).json()
    assert {r["id"] for r in body["result"]} == set(change["added"] + change["updated"])


def test_mutations_are_deterministic_given_their_count():
    def run():
        sandbox = Sandbox(seed=5, scale=0.1, anchor=ANCHOR, clock=lambda: 1_750_000_000.0)
        sandbox.mutate(added=2, updated=2)
        sandbox.mutate(api="shop", added=1, updated=1, deleted=1)
        return sandbox.records("shop", "products_reviews"), sandbox.records("orders", "orders")

    assert run() == run()


def test_deleted_product_children_are_404(make):
    sandbox = make()
    deleted = sandbox.mutate(api="shop", streams=["products"], added=0, updated=0, deleted=1)
    product_id = deleted["streams"]["shop.products"]["deleted"][0]
    assert shop_get(sandbox, f"v1/products/{product_id}/images").status_code == 404
    assert product_id not in {p["id"] for p in sandbox.records("shop", "products")}


def test_mutate_can_add_reviews_to_unchanged_products(make):
    sandbox = make()
    change = sandbox.mutate(api="shop", streams=["products_reviews"], added=3, updated=0)
    new_ids = set(change["streams"]["shop.products_reviews"]["added"])
    reviews = sandbox.records("shop", "products_reviews")
    assert new_ids <= {r["id"] for r in reviews}
    product_id = next(r["prd_id"] for r in reviews if r["id"] in new_ids)
    served = parse(shop_get(sandbox, f"v1/products/{product_id}/reviews", {"limit": 100}))["data"]
    assert new_ids & {r["id"] for r in served}


# Contract-drift drills ---------------------------------------------------------------------------

STOREFRONT_HEADERS = {
    "Authorization": f"Bearer {DEFAULT_CREDENTIALS['storefront']['api_key']}",
    "User-Agent": "tap-commerce/test",
}
DRIFT_FIELDS = {
    "x_extra_field": {"nested": {"deep": [1, {"k": None}]}, "flag": True},
    "x_extra_text": "drift",
    "x_extra_number": Decimal("12.50"),
}


def _key(api: str) -> str:
    return "order_id" if api == "orders" else "id"


def on_origin(url: str, origin: str) -> str:
    """``url`` with its scheme, host and port replaced by ``origin``."""
    parts = urlsplit(url)
    return f"{origin}{parts.path}?{parts.query}"


def test_foreign_next_url_points_off_origin_and_its_cursor_works_at_home(make):
    sandbox = make()
    sandbox.set_foreign_next_url()  # default: http://127.0.0.2:{port}, where nothing listens
    first = parse(storefront_get(sandbox, "commerce/orders"))
    pagination = first["pagination"]
    assert pagination["hasNextPage"] is True
    assert pagination["nextPageUrl"] == (
        f"http://127.0.0.2:{sandbox.port}/storefront/1.0/commerce/orders"
        f"?cursor={pagination['nextPageCursor']}"
    )
    logged = len(sandbox.requests)
    with pytest.raises(requests.ConnectionError):  # a client that follows it gets nowhere
        requests.get(pagination["nextPageUrl"], headers=STOREFRONT_HEADERS, timeout=5)
    assert len(sandbox.requests) == logged and sandbox.foreign_requests() == []
    # The same path and cursor on the configured origin return the next page.
    second = parse(
        requests.get(on_origin(pagination["nextPageUrl"], sandbox.url), headers=STOREFRONT_HEADERS)
    )
    expected = [r["id"] for r in sandbox.records("storefront", "orders")]
    assert [r["id"] for r in first["result"] + second["result"]] == expected[:100]
    assert urlsplit(second["pagination"]["nextPageUrl"]).netloc == f"127.0.0.2:{sandbox.port}"
    # Limited to a path; then off again.
    sandbox.set_foreign_next_url("http://evil.invalid/", path="/commerce/orders$")
    assert parse(storefront_get(sandbox, "commerce/orders"))["pagination"][
        "nextPageUrl"
    ].startswith("http://evil.invalid/storefront/1.0/commerce/orders?cursor=")
    profiles = parse(storefront_get(sandbox, "profiles"))["pagination"]["nextPageUrl"]
    assert profiles.startswith(f"{sandbox.url}/storefront/1.0/profiles?cursor=")
    sandbox.set_foreign_next_url(None)
    assert sandbox.foreign_next_url is None
    pages = follow_storefront(sandbox, "commerce/orders")
    assert [r["id"] for page in pages for r in page["result"]] == expected
    assert pages[-1]["pagination"]["nextPageUrl"] is None


def test_foreign_next_url_followed_under_another_name_is_logged(make):
    sandbox = make(foreign_next_url="http://localhost:{port}")
    next_url = parse(storefront_get(sandbox, "commerce/transactions"))["pagination"]["nextPageUrl"]
    assert next_url.startswith(f"http://localhost:{sandbox.port}/storefront/1.0/")
    assert sandbox.foreign_requests() == []
    assert requests.get(next_url, headers=STOREFRONT_HEADERS).status_code == 200
    (followed,) = sandbox.foreign_requests()
    assert followed.path == "/storefront/1.0/commerce/transactions"
    assert followed.headers["Host"] == f"localhost:{sandbox.port}"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("ftp://elsewhere.invalid", None),
        ("elsewhere.invalid:8080", None),
        ("http://elsewhere.invalid/?q=1", None),
        ("http://elsewhere.invalid:port", None),
        ("http://elsewhere.invalid", "(unclosed"),
    ],
)
def test_foreign_next_url_rejects_what_is_not_an_origin(url, path):
    with pytest.raises(ValueError):
        Sandbox().set_foreign_next_url(url, path=path)


def test_admin_foreign_next_url_endpoints(make):
    sandbox = make()
    admin = f"{sandbox.url}/_admin"
    assert requests.get(f"{admin}/drift").json() == {
        "extra_fields": None,
        "foreign_next_url": None,
    }
    answer = requests.post(f"{admin}/foreign-next-url", json={})
    assert answer.status_code == 200
    assert answer.json()["foreign_next_url"] == {"url": "http://127.0.0.2:{port}", "path": None}
    answer = requests.post(
        f"{admin}/foreign-next-url", json={"url": "http://evil.invalid:81", "path": "profiles"}
    )
    assert answer.json()["foreign_next_url"] == {
        "url": "http://evil.invalid:81",
        "path": "profiles",
    }
    next_url = parse(storefront_get(sandbox, "profiles"))["pagination"]["nextPageUrl"]
    assert next_url.startswith("http://evil.invalid:81/storefront/1.0/profiles?cursor=")
    second = requests.get(on_origin(next_url, sandbox.url), headers=STOREFRONT_HEADERS)
    assert second.status_code == 200 and len(second.json()["profiles"]) == 30
    orders_url = parse(storefront_get(sandbox, "commerce/orders"))["pagination"]["nextPageUrl"]
    assert orders_url.startswith(sandbox.url)
    assert requests.get(f"{admin}/foreign-requests").json() == {"count": 0, "requests": []}
    assert requests.post(f"{admin}/foreign-next-url", json={"url": "ftp://x"}).status_code == 400
    assert requests.post(f"{admin}/foreign-next-url", json={"host": "x"}).status_code == 400
    assert requests.post(f"{admin}/foreign-next-url", json={"path": "(x"}).status_code == 400
    assert requests.delete(f"{admin}/foreign-next-url").json()["foreign_next_url"] is None
    next_url = parse(storefront_get(sandbox, "profiles"))["pagination"]["nextPageUrl"]
    assert next_url.startswith(f"{sandbox.url}/storefront/1.0/profiles?cursor=")


@pytest.mark.parametrize("warm", [False, True])
def test_extra_fields_go_on_the_wire_but_not_into_records_or_the_cache(make, warm):
    sandbox = make()
    expected = sandbox.records("payments", "products")
    if warm:
        sandbox.warm("payments")
        assert parse(payments_get(sandbox, "v1/products"))["data"] == expected
    sandbox.set_extra_fields(DRIFT_FIELDS, apis="payments", streams="products")
    response = payments_get(sandbox, "v1/products")
    served = parse(response)["data"]
    assert served == [{**record, **DRIFT_FIELDS} for record in expected]
    assert all(list(r)[-3:] == list(DRIFT_FIELDS) for r in served)  # appended, top level
    assert b'"x_extra_number":12.50}' in response.content  # the value's literal, verbatim
    assert sandbox.records("payments", "products") == expected
    assert not set(DRIFT_FIELDS) & set(parse(payments_get(sandbox, "v1/order_payments"))["data"][0])
    assert not set(DRIFT_FIELDS) & set(parse(shop_get(sandbox, "v1/products"))["data"][0])
    sandbox.set_extra_fields(None)
    assert sandbox.extra_fields is None
    assert parse(payments_get(sandbox, "v1/products"))["data"] == expected


def test_extra_fields_reach_every_api_and_shop_children(make):
    sandbox = make(extra_fields=True)
    extra = DEFAULT_EXTRA_FIELDS
    assert {"x_extra_field", "x_extra_text", "x_extra_number"} == set(extra)
    assert isinstance(extra["x_extra_field"], dict)
    token = orders_token(sandbox)
    served = {
        ("storefront", "products"): parse(storefront_get(sandbox, "commerce/products")),
        ("payments", "order_payments"): parse(payments_get(sandbox, "v1/order_payments")),
        ("shop", "countries"): parse(shop_get(sandbox, "v1/countries")),
        ("digital", "packages"): parse(digital_get(sandbox, "packages")),
        ("orders", "orders"): parse(orders_get(sandbox, token=token)),
    }
    served = {
        ("storefront", "products"): served["storefront", "products"]["products"][0],
        ("payments", "order_payments"): served["payments", "order_payments"]["data"][0],
        ("shop", "countries"): served["shop", "countries"]["data"][0],
        ("digital", "packages"): served["digital", "packages"][0]["package"],
        ("orders", "orders"): served["orders", "orders"]["orders"][0],
    }
    for (api, stream), record in served.items():
        assert {k: record[k] for k in extra} == extra, api
        first = next(r for r in sandbox.records(api, stream) if r[_key(api)] == record[_key(api)])
        assert record == {**first, **extra}, api
    product = next(
        pid for pid, rows in sandbox.child_records("shop", "products_images").items() if rows
    )
    for kind, stream in [
        ("images", "products_images"),
        ("reviews", "products_reviews"),
        ("options", "product_options"),
        ("variations", "products_variations"),
    ]:
        rows = sandbox.child_records("shop", stream)[product]
        body = parse(shop_get(sandbox, f"v1/products/{product}/{kind}"))["data"]
        assert body == [{**row, **extra} for row in rows], kind
    # Narrowed to one child stream: its siblings and its parent go back to the contract.
    sandbox.set_extra_fields(streams=["shop.products_images"])
    images = parse(shop_get(sandbox, f"v1/products/{product}/images"))["data"]
    assert images and all(row["x_extra_text"] == extra["x_extra_text"] for row in images)
    reviews = parse(shop_get(sandbox, f"v1/products/{product}/reviews"))["data"]
    assert reviews == sandbox.child_records("shop", "products_reviews")[product]
    assert parse(shop_get(sandbox, "v1/products"))["data"] == sandbox.records(
        "shop", "products", 0, 20
    )


def test_extra_fields_reject_unknown_targets_clashes_and_empty_fields():
    sandbox = Sandbox(scale=0.05)
    with pytest.raises(ValueError, match="unknown api"):
        sandbox.set_extra_fields(apis=["nope"])
    with pytest.raises(ValueError, match="stream"):
        sandbox.set_extra_fields(apis="payments", streams=["products_images"])
    with pytest.raises(ValueError, match="already have id"):
        sandbox.set_extra_fields({"id": 1, "x_new": 2}, streams=["shop.products_reviews"])
    with pytest.raises(TypeError):
        sandbox.set_extra_fields({})
    assert sandbox.extra_fields is None  # nothing half-set


def test_admin_extra_fields_endpoints(make):
    sandbox = make()
    admin = f"{sandbox.url}/_admin"
    answer = requests.post(
        f"{admin}/extra-fields",
        json={"fields": {"x_admin": {"a": [1, 2]}, "x_note": "hi", "x_n": 7}, "apis": ["digital"]},
    )
    assert answer.status_code == 200
    assert answer.json()["extra_fields"] == {
        "fields": {"x_admin": {"a": [1, 2]}, "x_note": "hi", "x_n": 7},
        "apis": ["digital"],
        "streams": None,
    }
    package = parse(digital_get(sandbox, "packages"))[0]["package"]
    assert package["x_admin"] == {"a": [1, 2]} and package["x_n"] == 7
    data = requests.get(f"{admin}/data/digital/packages", params={"limit": 1}).json()
    assert "x_admin" not in data["records"][0]
    assert "x_admin" not in parse(payments_get(sandbox, "v1/products"))["data"][0]
    defaults = requests.post(f"{admin}/extra-fields", json={"streams": ["orders.orders"]}).json()
    assert defaults["extra_fields"]["fields"] == json.loads(json.dumps(DEFAULT_EXTRA_FIELDS))
    assert "x_extra_text" in parse(orders_get(sandbox))["orders"][0]
    assert "x_admin" not in parse(digital_get(sandbox, "packages"))[0]["package"]
    for bad in ({"apis": ["nope"]}, {"fields": {}}, {"fields": [1]}, {"colour": "red"}):
        assert requests.post(f"{admin}/extra-fields", json=bad).status_code == 400, bad
    assert requests.delete(f"{admin}/extra-fields").json()["extra_fields"] is None
    assert requests.get(f"{admin}/drift").json()["extra_fields"] is None
    assert "x_extra_text" not in parse(orders_get(sandbox))["orders"][0]


# Mid-list drift: fields from a position on, and a type change further on.

MID_FIELDS = {"x_extra_number": 42, "x_extra_text": "mid-list", "x_extra_price": Decimal("1.10")}
MID_CHANGED = {"x_extra_number": "forty-two", "x_extra_price": None}


def drift_of(record: dict) -> dict:
    """The drift fields a served record carries ({} for none)."""
    return {k: record[k] for k in MID_FIELDS if k in record}


def payments_pages(sandbox, stream: str, limit: int) -> list[list[dict]]:
    pages, offset = [], 0
    while True:
        page = parse(payments_get(sandbox, f"v1/{stream}", {"offset": offset, "limit": limit}))
        if not page["data"]:
            return pages
        pages.append(page["data"])
        offset += limit


def test_extra_fields_from_a_start_position_appear_mid_list_across_pages(make):
    sandbox = make()
    expected = sandbox.records("payments", "products")
    sandbox.set_extra_fields(MID_FIELDS, apis="payments", streams="products", start=25)
    pages = payments_pages(sandbox, "products", 10)  # the field first shows on the third page
    served = [r for page in pages for r in page]
    assert len(served) == len(expected) == 40
    assert all(drift_of(r) == {} for r in pages[0] + pages[1])
    assert [drift_of(r) == MID_FIELDS for r in pages[2]] == [False] * 5 + [True] * 5
    for position, (record, contract) in enumerate(zip(served, expected, strict=True)):
        if position < 25:
            assert record == contract  # absent, not null
        else:
            assert record == {**contract, **MID_FIELDS}
            assert list(record)[-3:] == list(MID_FIELDS)
    assert isinstance(served[30]["x_extra_price"], Decimal)
    assert sandbox.records_with_extra_fields("payments", "products") == served
    assert sandbox.records("payments", "products", extra_fields=True) == served
    assert sandbox.records_with_extra_fields("payments", "products", 20, 10) == pages[2]
    assert sandbox.records("payments", "products") == expected  # records() stays contract-only
    # Other streams are untouched; the default (start 0) is the whole list again.
    assert sandbox.records_with_extra_fields("payments", "order_payments") == sandbox.records(
        "payments", "order_payments"
    )
    sandbox.set_extra_fields(MID_FIELDS, apis="payments", streams="products")
    assert all(drift_of(r) == MID_FIELDS for r in payments_pages(sandbox, "products", 10)[0])
    assert sandbox.extra_fields.to_json() == {
        "fields": MID_FIELDS,
        "apis": ["payments"],
        "streams": ["products"],
    }


def test_extra_fields_change_type_from_a_later_position_across_pages(make):
    sandbox = make()
    expected = sandbox.records("payments", "order_payments")
    sandbox.set_extra_fields(
        MID_FIELDS,
        apis="payments",
        streams="order_payments",
        start=30,
        changed=MID_CHANGED,
        change_at=110,
    )
    served = [r for page in payments_pages(sandbox, "order_payments", 20) for r in page]
    assert len(served) == len(expected) == 300
    for position, (record, contract) in enumerate(zip(served, expected, strict=True)):
        if position < 30:
            assert drift_of(record) == {}, position
        elif position < 110:
            assert drift_of(record) == MID_FIELDS, position
        else:  # same names, other types; x_extra_text keeps its first value
            assert drift_of(record) == {**MID_FIELDS, **MID_CHANGED}, position
            assert list(record)[-3:] == list(MID_FIELDS)  # same member order
        assert {k: v for k, v in record.items() if k not in MID_FIELDS} == contract
    assert type(served[109]["x_extra_number"]) is int and served[109]["x_extra_number"] == 42
    assert served[110]["x_extra_number"] == "forty-two" and served[110]["x_extra_price"] is None
    assert served[110]["x_extra_text"] == "mid-list"
    assert sandbox.records_with_extra_fields("payments", "order_payments") == served
    page = payments_get(sandbox, "v1/order_payments", {"offset": 100, "limit": 20}).content
    assert page.count(b'"x_extra_number":42,') == 10
    assert page.count(b'"x_extra_number":"forty-two",') == 10
    assert b'"x_extra_price":1.10}' in page and b'"x_extra_price":null}' in page
    assert sandbox.extra_fields.to_json() == {
        "fields": MID_FIELDS,
        "apis": ["payments"],
        "streams": ["order_payments"],
        "start": 30,
        "changed": MID_CHANGED,
        "change_at": 110,
    }


def test_extra_fields_mid_list_in_child_streams_count_within_each_product(make):
    sandbox = make()
    sandbox.set_extra_fields(
        MID_FIELDS, streams="shop.products_reviews", start=2, changed=MID_CHANGED, change_at=4
    )
    plain = sandbox.child_records("shop", "products_reviews")
    with_drift = sandbox.child_records("shop", "products_reviews", extra_fields=True)
    busy = [pid for pid, rows in plain.items() if len(rows) >= 5]
    assert busy and list(with_drift) == list(plain)
    for pid in busy:
        served = []  # one row a page: the change lands on later pages
        while page := parse(
            shop_get(sandbox, f"v1/products/{pid}/reviews", {"offset": len(served), "limit": 1})
        )["data"]:
            served.extend(page)
        assert served == with_drift[pid]
        for position, (row, contract) in enumerate(zip(served, plain[pid], strict=True)):
            if position < 2:
                assert row == contract
            elif position < 4:
                assert row == {**contract, **MID_FIELDS}
            else:
                assert row == {**contract, **MID_FIELDS, **MID_CHANGED}
    # The flat helper: every product's rows in product order, prd_id added as records() does.
    flat = sandbox.records_with_extra_fields("shop", "products_reviews")
    assert flat == [{**row, "prd_id": pid} for pid, rows in with_drift.items() for row in rows]
    assert [{k: v for k, v in r.items() if k not in MID_FIELDS} for r in flat] == sandbox.records(
        "shop", "products_reviews"
    )
    # Siblings are not selected.
    assert sandbox.child_records("shop", "products_images", extra_fields=True) == (
        sandbox.child_records("shop", "products_images")
    )


def test_extra_fields_position_is_the_unfiltered_creation_order_position_whatever_the_query(
    make,
):
    sandbox = make()
    sandbox.set_extra_fields(
        MID_FIELDS,
        apis=["storefront", "orders", "digital"],
        streams=["orders"],
        start=40,
        changed=MID_CHANGED,
        change_at=100,
    )
    expected = {
        api: {r[_key(api)]: r for r in sandbox.records_with_extra_fields(api, "orders")}
        for api in ("storefront", "orders", "digital")
    }

    def stage(api: str, record: dict) -> str:
        position = list(expected[api]).index(record[_key(api)])
        return "none" if position < 40 else "first" if position < 100 else "changed"

    # storefront: unfiltered (oldest first) and filtered by modification (newest first).
    unfiltered = [r for p in follow_storefront(sandbox, "commerce/orders") for r in p["result"]]
    assert unfiltered == list(expected["storefront"].values())
    modified = sorted(r["modifiedOn"] for r in expected["storefront"].values())
    window = {"modifiedAfter": modified[10], "modifiedBefore": modified[-10]}
    pages = follow_storefront(sandbox, "commerce/orders", window)
    filtered = [r for page in pages for r in page["result"]]
    assert len(pages) > 1 and len(filtered) > 100
    order = list(expected["storefront"])
    assert filtered != sorted(filtered, key=lambda r: order.index(r["id"]))  # newest first
    stages = set()
    for record in filtered:
        assert record == expected["storefront"][record["id"]]  # same fields whatever the query
        stages.add(stage("storefront", record))
        if stage("storefront", record) == "none":
            assert drift_of(record) == {}
    assert stages == {"none", "first", "changed"}
    # orders: ascending by last modification, filtered or within the 90-day default.
    token = orders_token(sandbox)
    served = parse(
        orders_get(sandbox, {"filter": "lastmodifieddate:[2000-01-01T00:00:00.000Z..]"}, token)
    )["orders"]
    served += parse(orders_get(sandbox, token=token))["orders"]
    assert {stage("orders", r) for r in served} == {"none", "first", "changed"}
    assert all(r == expected["orders"][r["order_id"]] for r in served)
    # digital: a from/to window starts mid-list, positions still count from the list's start.
    created = [r["created_at"][:10] for r in expected["digital"].values()]
    window_page = parse(digital_get(sandbox, "orders", {"from": created[80], "per_page": 50}))
    served = [w["order"] for w in window_page]
    assert served and all(r == expected["digital"][r["id"]] for r in served)
    assert stage("digital", served[0]) != "none"  # position >= 40 though first of its page


def test_extra_fields_positions_follow_the_live_list_after_mutations(make):
    sandbox = make()
    sandbox.set_extra_fields(MID_FIELDS, apis="payments", streams="products", start=20)
    change = sandbox.mutate(api="payments", streams=["products"], added=3, updated=2, deleted=4)
    served = [r for page in payments_pages(sandbox, "products", 7) for r in page]
    helper = sandbox.records_with_extra_fields("payments", "products")
    assert served == helper and len(served) == 39
    assert [bool(drift_of(r)) for r in served] == [False] * 20 + [True] * 19
    assert [r["id"] for r in served[-3:]] == change["streams"]["payments.products"]["added"]


def test_extra_fields_mid_list_options_are_checked():
    sandbox = Sandbox(scale=0.05)
    for bad, error in [
        ({"start": -1}, ValueError),
        ({"start": True}, TypeError),
        ({"start": "3"}, TypeError),
        ({"changed": {"x_extra_number": "x"}}, ValueError),  # no change_at
        ({"change_at": 5}, ValueError),  # no changed
        ({"start": 5, "changed": {"x_extra_number": "x"}, "change_at": 4}, ValueError),
        ({"changed": {"x_other": 1}, "change_at": 4}, ValueError),
        ({"changed": {}, "change_at": 4}, TypeError),
        ({"changed": {"x_extra_number": "x"}, "change_at": -2}, ValueError),
    ]:
        with pytest.raises(error):
            sandbox.set_extra_fields(MID_FIELDS, **bad)
    assert sandbox.extra_fields is None  # nothing half-set
    sandbox.set_extra_fields(MID_FIELDS, start=3, changed={"x_extra_text": 1}, change_at=3)
    assert sandbox.extra_fields.start == 3 and sandbox.extra_fields.change_at == 3


def test_admin_extra_fields_from_a_position(make):
    sandbox = make()
    admin = f"{sandbox.url}/_admin"
    setting = {
        "fields": {"x_n": 42, "x_note": "hi"},
        "apis": ["digital"],
        "streams": ["packages"],
        "start": 4,
        "changed": {"x_n": "forty-two"},
        "change_at": 8,
    }
    answer = requests.post(f"{admin}/extra-fields", json=setting)
    assert answer.status_code == 200 and answer.json()["extra_fields"] == setting
    served = [w["package"] for w in parse(digital_get(sandbox, "packages", {"per_page": 50}))]
    assert [r.get("x_n") for r in served] == [None] * 4 + [42] * 4 + ["forty-two"] * 4
    assert all("x_n" not in r and "x_note" not in r for r in served[:4])
    data = requests.get(f"{admin}/data/digital/packages", params={"extra_fields": "true"}).json()
    assert data["records"] == json.loads(json.dumps(served))
    plain = requests.get(f"{admin}/data/digital/packages").json()["records"]
    assert all("x_n" not in r for r in plain)
    for bad in ({"start": -1}, {"start": "2"}, {"changed": {"x_extra_text": 1}}, {"change_at": 3}):
        assert requests.post(f"{admin}/extra-fields", json=bad).status_code == 400, bad
    assert requests.get(f"{admin}/drift").json()["extra_fields"] == setting  # unchanged


@contextlib.contextmanager
def serving(*args: str):
    """``tap-commerce-sandbox serve --port 0 --scale 0.05 ARGS`` as a process: yields
    (process, url); on leaving, SIGTERM must end it with exit 0."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_commerce_sandbox",
            "serve",
            "--port",
            "0",
            "--scale",
            "0.05",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, process.stdout.readline().strip()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_cli_serve_drift_flags(tmp_path):
    with serving(
        "--extra-fields",
        '{"x_cli": {"a": 1}, "x_cli_text": "t", "x_cli_n": 1.50}',
        "--extra-fields-api",
        "shop",
        "--foreign-next-url",
        "--foreign-next-url-path",
        "commerce/orders",
    ) as (_, url):
        drift = requests.get(f"{url}/_admin/drift").json()
        assert drift == {
            "extra_fields": {
                "fields": {"x_cli": {"a": 1}, "x_cli_text": "t", "x_cli_n": 1.5},
                "apis": ["shop"],
                "streams": None,
            },
            "foreign_next_url": {"url": "http://127.0.0.2:{port}", "path": "commerce/orders"},
        }
        page = requests.get(
            f"{url}/shop/v1/themes", auth=tuple(DEFAULT_CREDENTIALS["shop"].values())
        )
        assert b'"x_cli_n":1.50}' in page.content


def test_cli_drift_selection_flags_need_the_drill(capsys):
    assert cli.main(["serve", "--port", "0", "--extra-fields-api", "shop"]) == 2
    assert "need --extra-fields" in capsys.readouterr().err


def test_cli_serve_extra_fields_start_and_change_flags():
    with serving(
        "--extra-fields",
        '{"x_cli_n": 42, "x_cli_text": "t"}',
        "--extra-fields-api",
        "payments",
        "--extra-fields-stream",
        "products",
        "--extra-fields-start",
        "3",
        "--extra-fields-change",
        '{"x_cli_n": "forty-two"}',
        "--extra-fields-change-at",
        "5",
    ) as (_, url):
        assert requests.get(f"{url}/_admin/drift").json()["extra_fields"] == {
            "fields": {"x_cli_n": 42, "x_cli_text": "t"},
            "apis": ["payments"],
            "streams": ["products"],
            "start": 3,
            "changed": {"x_cli_n": "forty-two"},
            "change_at": 5,
        }
        page = requests.get(
            f"{url}/payments/v1/products",
            params={"api_key": DEFAULT_CREDENTIALS["payments"]["api_key"], "limit": 7},
        ).json()["data"]
        assert [r.get("x_cli_n") for r in page] == [None] * 3 + [42] * 2 + ["forty-two"] * 2
        assert [r.get("x_cli_text") for r in page] == [None] * 3 + ["t"] * 4


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--extra-fields-start", "3"], "need --extra-fields"),
        (["--extra-fields-change-at", "3"], "need --extra-fields"),
        (["--extra-fields", "--extra-fields-change", '{"x_extra_text": 1}'], "go together"),
        (["--extra-fields", "--extra-fields-change-at", "2"], "go together"),
        (
            [
                "--extra-fields",
                "--extra-fields-start",
                "4",
                "--extra-fields-change-at",
                "2",
                "--extra-fields-change",
                '{"x_extra_text": 1}',
            ],
            "must not be before start",
        ),
    ],
)
def test_cli_extra_fields_position_flags_are_checked(flags, message, capsys):
    assert cli.main(["serve", "--port", "0", "--scale", "0.05", *flags]) == 2
    assert message in capsys.readouterr().err


# Admin endpoints and CLI -------------------------------------------------------------------------


def test_admin_endpoints_drive_a_running_sandbox(make):
    sandbox = make()
    admin = f"{sandbox.url}/_admin"
    data = requests.get(f"{admin}/data/digital/packages").json()
    assert data["count"] == sandbox.count("digital", "packages")
    assert data["records"] == json.loads(json.dumps(sandbox.records("digital", "packages")))
    mutated = requests.post(
        f"{admin}/mutate", json={"api": "digital", "streams": ["packages"], "added": 2}
    ).json()
    assert len(mutated["streams"]["digital.packages"]["added"]) == 2
    assert requests.get(f"{admin}/streams").json()["digital"]["packages"] == data["count"] + 2
    assert requests.post(f"{admin}/faults/next", json={"n": 1, "kind": "502"}).status_code == 200
    assert digital_get(sandbox, "packages").status_code == 502
    assert requests.post(f"{admin}/faults", json={"rate": 1.0, "kinds": ["500"]}).status_code == 200
    assert digital_get(sandbox, "packages").status_code == 500
    assert requests.delete(f"{admin}/faults").status_code == 200
    assert digital_get(sandbox, "packages").status_code == 200
    stats = requests.get(f"{admin}/stats").json()
    assert stats["requests"]["by_api"] == {"digital": 3}
    assert stats["faults"] == {"502": 1, "500": 1}
    log = requests.get(f"{admin}/requests", params={"limit": 1}).json()["requests"]
    assert log[0]["path"] == "/digital/v1/packages" and log[0]["status"] == 200
    assert requests.post(f"{admin}/faults", json={"kinds": ["boom"]}).status_code == 400
    assert requests.get(f"{admin}/configs").json()["shop"] == sandbox.config("shop")


def test_cli_write_configs_for_a_running_sandbox(sb, tmp_path, capsys):
    assert cli.main(["write-configs", "--url", sb.url, str(tmp_path)]) == 0
    assert json.loads((tmp_path / "digital.json").read_text()) == sb.config("digital")


def test_meltano_env_names_each_inherited_plugins_settings(sb):
    env = sb.meltano_env()
    assert env["TAP_COMMERCE_SHOP_BASE_URL"] == f"{sb.url}/shop/"
    assert env["TAP_COMMERCE_SHOP_API_SECRET"] == "sandbox-shop-secret"
    assert env["TAP_COMMERCE_ORDERS_TOKEN_URL"] == f"{sb.url}/orders/oauth/token"
    assert env["TAP_COMMERCE_DIGITAL_REQUESTS_PER_SECOND"] == "0"
    assert not any(name.endswith("_API") for name in env)  # meltano.yml sets `api`
    assert all(isinstance(value, str) for value in env.values())


def test_cli_write_configs_merges_a_dotenv_file_keeping_other_lines(sb, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        'TARGET_POSTGRES_PASSWORD="kept"\nTAP_COMMERCE_SHOP_API_KEY="old"\n# a comment\n'
    )
    assert cli.main(["write-configs", "--url", sb.url, "--env", str(dotenv)]) == 0
    lines = dotenv.read_text().splitlines()
    assert lines[:2] == ['TARGET_POSTGRES_PASSWORD="kept"', "# a comment"]
    assert 'TAP_COMMERCE_SHOP_API_KEY="sandbox-shop-key"' in lines
    assert sum(line.startswith("TAP_COMMERCE_SHOP_API_KEY=") for line in lines) == 1
    assert f'TAP_COMMERCE_PAYMENTS_BASE_URL="{sb.url}/payments/"' in lines


def test_cli_write_configs_needs_a_directory_or_an_env_file(sb, capsys):
    assert cli.main(["write-configs", "--url", sb.url]) == 2
    assert "--env FILE" in capsys.readouterr().err


def test_cli_write_configs_falls_back_to_defaults_when_unreachable(tmp_path, capsys):
    assert cli.main(["write-configs", "--url", "http://127.0.0.1:9/", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "storefront.json").read_text())
    assert config == {
        "api": "storefront",
        "base_url": "http://127.0.0.1:9/storefront/1.0/",
        "api_key": "sandbox-storefront-token",
        "requests_per_second": 0,
    }
    assert "writing default configs" in capsys.readouterr().err


def test_cli_serve_prints_url_writes_configs_and_stops_on_sigterm(tmp_path):
    with serving("--write-configs", str(tmp_path), "--write-env", str(tmp_path / ".env")) as (
        _,
        url,
    ):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        config = json.loads((tmp_path / "payments.json").read_text())
        assert config["base_url"] == f"{url}/payments/"
        assert (
            f'TAP_COMMERCE_PAYMENTS_BASE_URL="{url}/payments/"' in (tmp_path / ".env").read_text()
        )
        assert (
            requests.get(
                config["base_url"] + "v1/products", params={"api_key": config["api_key"]}
            ).status_code
            == 200
        )
