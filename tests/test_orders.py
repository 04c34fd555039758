"""orders (contract §2.5): OAuth2 client credentials, an always-sent filter, offset/limit."""

from __future__ import annotations

import base64
import itertools
from urllib.parse import parse_qs

import pytest
from werkzeug import Request, Response

from tap_commerce.errors import AuthError
from tests.fakeapi import json_response, orders_handler, sent
from tests.harness import run


def amount(value: str) -> dict:
    return {"currency": "USD", "value": value}


def order(i: int, modified: str) -> dict:
    return {
        "order_id": f"12-{i:05d}-89012", "creation_date": "2024-01-01T00:00:00.000Z",
        "last_modified_date": modified, "order_fulfillment_status": "FULFILLED",
        "order_payment_status": "PAID", "seller_id": "s1", "buyer": {"username": "ann"},
        "pricing_summary": {"price_subtotal": amount("10.00"), "delivery_cost": amount("0.00"), "total": amount("10.00")},
        "line_items": [{"line_item_id": "1", "sku": None, "title": "T", "quantity": 1, "line_item_cost": amount("10.00")}],
        "cancel_status": {"cancel_state": "NONE_REQUESTED"}, "sales_record_reference": None,
    }  # fmt: skip


class TokenEndpoint:
    """Issues numbered tokens; the orders fake accepts only the newest."""

    def __init__(self, server, expires_in: int = 3600) -> None:
        self.counter = itertools.count(1)
        self.current = "none"
        self.expires_in = expires_in
        self.requests: list[Request] = []
        server.expect_request("/oauth/token", method="POST").respond_with_handler(self)

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        expected = "Basic " + base64.b64encode(b"fake-client:fake-client-secret").decode()
        if request.headers.get("Authorization") != expected:
            return json_response(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                401,
            )
        self.current = f"fake-access-token-{next(self.counter)}"
        return json_response(
            {"access_token": self.current, "token_type": "Bearer", "expires_in": self.expires_in}
        )


@pytest.fixture
def config(server) -> dict:
    return {
        "api": "orders",
        "base_url": server.url_for("/").rstrip("/"),
        "client_id": "fake-client",
        "client_secret": "fake-client-secret",
        "token_url": server.url_for("/oauth/token"),
        "oauth_scopes": "read:orders read:fulfilment",
        "page_size": 3,
    }


def serve(server, rows: list[dict], token: TokenEndpoint) -> None:
    def handler(request: Request) -> Response:
        return orders_handler(server, rows, token=token.current)(request)

    server.expect_request("/v1/orders").respond_with_handler(handler)


def lower(request: Request) -> str:
    """The lower bound of a request's ``lastmodifieddate:[from..to]`` filter."""
    return request.args["filter"].split("[", 1)[1].split("..", 1)[0]


def test_token_request_is_client_credentials_with_basic_client_auth(server, config) -> None:
    token = TokenEndpoint(server)
    serve(server, [order(1, "2024-02-01T00:00:00.000Z")], token)
    out = run(config)
    assert len(out.records["orders"]) == 1
    (request,) = token.requests
    form = parse_qs(request.get_data(as_text=True))
    assert form == {"grant_type": ["client_credentials"], "scope": ["read:orders read:fulfilment"]}
    assert request.headers["User-Agent"].startswith("tap-commerce/")
    assert "fake-client-secret" not in request.get_data(as_text=True)


def test_first_run_sends_a_filter_from_the_beginning_and_pages_by_total(server, config) -> None:
    token = TokenEndpoint(server)
    rows = [order(i, f"2020-0{i}-01T00:00:00.000Z") for i in range(1, 7)]
    serve(server, rows, token)
    out = run(config)
    assert len(out.records["orders"]) == 6  # not only "the last 90 days"
    requests = sent(server, "/v1/orders")
    # page 2 asks again from page 1's last modification date, skipping that one record;
    # total ends the list: no empty page
    assert [(lower(r), r.args["offset"]) for r in requests] == [
        ("1970-01-01T00:00:00.000Z", "0"),
        ("2020-03-01T00:00:00.000Z", "1"),
    ]
    assert out.records["orders"][0]["last_modified_date"] == "2020-01-01T00:00:00+00:00"


def test_second_run_filters_from_the_bookmark(server, config) -> None:
    token = TokenEndpoint(server)
    rows = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 6)]
    serve(server, rows, token)
    first = run(config)
    rows[0]["last_modified_date"] = "2024-03-01T00:00:00.000Z"
    server.clear_log()
    second = run({**config, "lookback_window": 3600}, state=first.final_state)
    request = sent(server, "/v1/orders")[0]
    assert request.args["filter"].startswith("lastmodifieddate:[2024-02-04T23:00:00.000Z..")
    assert [r["order_id"] for r in second.records["orders"]] == ["12-00005-89012", "12-00001-89012"]


def test_a_401_mid_sync_renews_the_token_once(server, config) -> None:
    token = TokenEndpoint(server)
    rows = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 8)]

    def handler(request: Request) -> Response:
        response = orders_handler(server, rows, token=token.current)(request)
        if request.args.get("offset") == "0" and response.status_code == 200:
            token.current = "revoked"  # the token dies after the first page
        return response

    server.expect_request("/v1/orders").respond_with_handler(handler)
    out = run(config)
    assert len(out.records["orders"]) == 7
    assert len(token.requests) == 2  # the first token, and one renewal after the 401
    assert [(lower(r), r.args["offset"]) for r in sent(server, "/v1/orders")] == [
        ("1970-01-01T00:00:00.000Z", "0"),
        ("2024-02-03T00:00:00.000Z", "1"),  # 401
        ("2024-02-03T00:00:00.000Z", "1"),
        ("2024-02-06T00:00:00.000Z", "1"),
    ]


def test_an_expiring_token_is_renewed_before_it_expires(server, config) -> None:
    token = TokenEndpoint(server, expires_in=0)  # no lifetime: renewed for every request
    serve(server, [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 7)], token)
    out = run(config)
    assert len(out.records["orders"]) == 6
    assert len(token.requests) >= 2


def test_bad_client_credentials_fail_at_once_naming_the_settings(server, config) -> None:
    token = TokenEndpoint(server)
    serve(server, [], token)
    with pytest.raises(
        AuthError, match=r"token endpoint refused.*401.*invalid_client.*'client_id'"
    ):
        run({**config, "client_secret": "fake-wrong-secret"})
    assert len(token.requests) == 1
    assert not sent(server, "/v1/orders")


def test_the_token_request_is_retried_like_any_other(server, config) -> None:
    token = TokenEndpoint(server)
    failures = iter([json_response({"error": "temporarily_unavailable"}, 503)])

    def flaky_token(request: Request) -> Response:
        failure = next(failures, None)
        return failure if failure is not None else token(request)

    server.clear()
    server.expect_request("/oauth/token", method="POST").respond_with_handler(flaky_token)
    serve(server, [order(1, "2024-02-01T00:00:00.000Z")], token)
    out = run(config)
    assert len(out.records["orders"]) == 1
    assert len([r for r, _ in server.log if r.path == "/oauth/token"]) == 2


def test_without_total_a_page_with_no_next_link_is_the_last(server, config) -> None:
    token = TokenEndpoint(server)
    rows = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 4)]  # one full page

    def handler(request: Request) -> Response:
        body = orders_handler(server, rows, token=token.current)(request).get_json()
        body.pop("total")
        return json_response(body)

    server.expect_request("/v1/orders").respond_with_handler(handler)
    out = run(config)
    assert len(out.records["orders"]) == 3
    assert len(sent(server, "/v1/orders")) == 1  # no probe for another page


def test_an_order_modified_during_the_sync_does_not_make_a_page_skip_one(server, config) -> None:
    """Order 2 is modified after page 1 was read: it leaves the run's window and every
    order after it moves up one place. Offsets would now skip order 4; filtering each page
    from the last date seen does not."""
    token = TokenEndpoint(server)
    rows = [order(i, f"2024-02-0{i}T00:00:00.000Z") for i in range(1, 8)]

    def handler(request: Request) -> Response:
        response = orders_handler(server, rows, token=token.current)(request)
        if request.args.get("offset") == "0":
            rows[1]["last_modified_date"] = "2099-01-01T00:00:00.000Z"  # after the window
        return response

    server.expect_request("/v1/orders").respond_with_handler(handler)
    out = run(config)
    got = [r["order_id"] for r in out.records["orders"]]
    assert got == [order(i, "")["order_id"] for i in range(1, 8)]


def test_orders_sharing_a_modification_date_across_pages_are_all_read_once(server, config) -> None:
    token = TokenEndpoint(server)
    same = "2024-02-02T00:00:00.000Z"
    rows = [order(1, "2024-02-01T00:00:00.000Z")] + [order(i, same) for i in range(2, 10)]
    rows.append(order(10, "2024-02-03T00:00:00.000Z"))
    serve(server, rows, token)
    out = run(config)
    got = sorted(r["order_id"] for r in out.records["orders"])
    assert got == sorted(r["order_id"] for r in rows)
    pages = [(lower(r), r.args["offset"]) for r in sent(server, "/v1/orders")]
    assert pages == [
        ("1970-01-01T00:00:00.000Z", "0"),  # 1, 2, 3
        (same, "2"),  # 4, 5, 6
        (same, "5"),  # 7, 8, 9: the whole page shared the date
        (same, "8"),  # 10
    ]
