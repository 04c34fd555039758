"""The shared request path (contract §1.2): retries, Retry-After, messages, secrets, pacing."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime as http_date

import pytest
from werkzeug import Request, Response

from tap_commerce.errors import ApiError
from tap_commerce.pacing import Pacer
from tap_commerce.transport import retry_after_seconds
from tests.fakeapi import json_response, offset_handler, sent
from tests.harness import run, run_cli

SECRET = "fake-payments-secret-key-0123456789"


def rows(n: int) -> list[dict]:
    return [{"id": i, "updated_at": "2024-01-01T00:00:00Z"} for i in range(1, n + 1)]


def flaky(failures: list[Response | None], then):
    """Answer with each failure in turn (None = the real answer), then always for real."""
    queue = iter(failures)

    def handler(request: Request) -> Response:
        failure = next(queue, None)
        return failure if failure is not None else then(request)

    return handler


@pytest.fixture
def config(base_url: str) -> dict:
    return {"api": "payments", "base_url": base_url, "api_key": SECRET, "page_size": 2}


def html(status: int, text: str) -> Response:
    return Response(
        f"<html><head><title>{status} {text}</title></head><body>nginx</body></html>",
        status=status,
        content_type="text/html",
    )


def test_transient_failures_are_retried_and_nothing_is_lost(server, config) -> None:
    failures = [
        json_response({"message": "slow down"}, 429, {"Retry-After": "0"}),
        html(502, "Bad Gateway"),
        Response('{"data": [{"id": 1', content_type="application/json"),  # cut-off 200
        json_response({"message": "oops"}, 500),
        html(503, "Service Unavailable"),
        html(504, "Gateway Timeout"),
    ]
    server.expect_request("/v1/order_payments").respond_with_handler(
        flaky(failures, offset_handler(rows(5)))
    )
    server.expect_request("/v1/products").respond_with_json({"data": []})
    out = run({**config, "max_retries": 6})
    assert [r["id"] for r in out.records["order_payments"]] == [1, 2, 3, 4, 5]


def test_after_the_last_try_the_message_names_stream_status_and_the_apis_text(
    server, config
) -> None:
    server.expect_request("/v1/order_payments").respond_with_json(
        {"status_code": 503, "message": "maintenance window"}, status=503
    )
    with pytest.raises(ApiError) as caught:
        run({**config, "max_retries": 2})
    message = str(caught.value)
    assert (
        "stream 'order_payments'" in message
        and "503" in message
        and "maintenance window" in message
    )
    assert "gave up after 3 attempts" in message
    assert SECRET not in message and "api_key=***" in message
    assert len(sent(server, "/v1/order_payments")) == 3


def test_a_gateway_html_page_is_quoted_by_its_status_line(server, config) -> None:
    server.expect_request("/v1/order_payments").respond_with_response(html(502, "Bad Gateway"))
    with pytest.raises(ApiError, match="502 BAD GATEWAY: 502 Bad Gateway"):
        run({**config, "max_retries": 0})


def test_other_client_errors_are_not_retried(server, config) -> None:
    server.expect_request("/v1/order_payments").respond_with_json(
        {"message": "bad limit"}, status=400
    )
    with pytest.raises(ApiError, match=r"400.*bad limit"):
        run(config)
    assert len(sent(server, "/v1/order_payments")) == 1


def test_retry_after_is_read_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("7") == 7
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 < retry_after_seconds(http_date(soon, usegmt=True)) <= 30
    assert retry_after_seconds("garbage") is None and retry_after_seconds(None) is None


def test_retry_after_sets_the_wait_capped_by_max_retry_wait(config) -> None:
    import requests  # noqa: PLC0415
    from singer_sdk.exceptions import RetriableAPIError  # noqa: PLC0415

    from tap_commerce.tap import TapCommerce  # noqa: PLC0415

    transport = TapCommerce(config={**config, "max_retry_wait": 5}).transport
    response = requests.Response()
    response.status_code, response.headers["Retry-After"] = 429, "120"
    assert transport.wait_before_retry(RetriableAPIError("x", response), 1) == 5
    response.headers["Retry-After"] = "2"
    assert transport.wait_before_retry(RetriableAPIError("x", response), 1) == 2
    storefront = TapCommerce(
        config={"api": "storefront", "api_key": "k", "max_retry_wait": 90}
    ).transport
    del response.headers["Retry-After"]
    assert storefront.wait_before_retry(RetriableAPIError("x", response), 1) == 60


def test_waits_grow_exponentially_from_the_backoff_factor(config) -> None:
    from tap_commerce.tap import TapCommerce  # noqa: PLC0415

    transport = TapCommerce(config={**config, "backoff_factor": 2, "max_retry_wait": 300}).transport
    waits = [transport.wait_before_retry(ConnectionError(), n) for n in (1, 2, 3)]
    for wait, expected in zip(waits, (2, 4, 8), strict=True):
        assert expected * 0.75 <= wait <= expected * 1.25


def test_no_secret_reaches_the_output_even_at_debug_on_connection_failures(tmp_path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = run_cli(
        [],
        config={
            "api": "payments",
            "base_url": f"http://127.0.0.1:{port}",
            "api_key": SECRET,
            "max_retries": 1,
        },
        tmp_path=tmp_path,
        env={"TAP_COMMERCE_LOGLEVEL": "DEBUG"},
    )
    assert out.returncode != 0
    assert SECRET not in out.stderr and SECRET not in out.stdout
    last = out.stderr.strip().splitlines()[-1]
    assert "order_payments" in last and "api_key=***" in last and "Connection" in last


def test_pacing_spaces_requests_evenly_and_a_429_holds_everyone_back() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        pacer.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]  # no burst, even spacing
    pacer.hold(10)  # clock is at 1.0: nothing goes out before 11.0
    pacer.acquire()
    assert slept[-1] == pytest.approx(10.0)
    assert Pacer(0).interval == 0  # 0 = unpaced


def test_user_agent_is_always_sent_and_configurable(server, config) -> None:
    server.expect_request("/v1/order_payments").respond_with_handler(offset_handler(rows(1)))
    server.expect_request("/v1/products").respond_with_json({"data": []})
    run({**config, "user_agent": "acme-etl/1.0"})
    assert {r.headers["User-Agent"] for r, _ in server.log} == {"acme-etl/1.0"}


def test_proxies_come_from_the_environment_once_per_origin(config, monkeypatch) -> None:
    import requests  # noqa: PLC0415

    from tap_commerce import transport as module  # noqa: PLC0415
    from tap_commerce.tap import TapCommerce  # noqa: PLC0415

    calls: list[str] = []
    real = module.resolve_proxies

    def counting(request, proxies, trust_env):
        calls.append(request.url)
        return real(request, proxies, trust_env)

    monkeypatch.setattr(module, "resolve_proxies", counting)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    transport = TapCommerce(config=config).transport
    session = requests.Session()
    for url in [
        "https://api.example.com/a",
        "https://api.example.com/b",
        "https://other.example/c",
    ]:
        prepared = requests.Request("GET", url).prepare()
        proxies = transport._proxies_for(prepared, session)
        assert proxies.get("https") == (
            None if "api.example.com" in url else "http://proxy.invalid:3128"
        )
    assert calls == ["https://api.example.com/a", "https://other.example/c"]
