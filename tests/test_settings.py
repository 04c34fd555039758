"""Settings (contract §1.1): validation before any request, one line, non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_commerce.tap import TapCommerce
from tests.harness import run_cli

SHOP = {"api": "shop", "api_key": "fake-shop-key", "api_secret": "fake-shop-secret"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "setting 'api' is required: one of storefront, payments, shop, digital, orders"),
        ({"api": "crm"}, "setting 'api' is 'crm': must be one of"),
        ({"api": "storefront"}, "setting 'api_key' is required for api 'storefront'"),
        ({"api": "shop", "api_key": "k"}, "setting 'api_secret' is required for api 'shop'"),
        ({"api": "digital", "username": "u"}, "setting 'password' is required for api 'digital'"),
        (
            {"api": "orders", "client_id": "c", "client_secret": "s"},
            "setting 'token_url' is required for api 'orders'",
        ),
        ({**SHOP, "page_size": 101}, "setting 'page_size' is 101: the shop API allows at most 100"),
        (
            {
                "api": "orders",
                "client_id": "c",
                "client_secret": "s",
                "token_url": "x",
                "page_size": 201,
            },
            "setting 'token_url' is 'x'",
        ),
        (
            {**SHOP, "start_date": "last tuesday"},
            "setting 'start_date' is 'last tuesday': expected an RFC 3339",
        ),
        ({**SHOP, "end_date": "2024-13-45"}, "setting 'end_date'"),
        ({**SHOP, "max_retries": -1}, "setting 'max_retries' must be a whole number ≥ 0"),
        ({**SHOP, "backoff_factor": "fast"}, "setting 'backoff_factor' must be a number ≥ 0"),
        ({**SHOP, "max_concurrency": 0}, "setting 'max_concurrency' must be a whole number ≥ 1"),
        (
            {**SHOP, "child_sync": "some"},
            "setting 'child_sync' is 'some': must be 'all' or 'changed'",
        ),
        (
            {**SHOP, "base_url": "ftp://x"},
            "setting 'base_url' is 'ftp://x': expected an http(s) URL",
        ),
        (
            {**SHOP, "batch_config": {"encoding": {"format": "jsonl", "compression": "gzip"}}},
            "setting 'batch_config': BATCH messages are not supported",
        ),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_setting(config: dict, message: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapCommerce(config=config)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_wrongly_typed_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapCommerce(config={"api": "payments", "api_key": 123456789012})
    assert "123456789012" not in str(caught.value)


def test_settings_of_other_apis_are_ignored() -> None:
    tap = TapCommerce(config={**SHOP, "page_size": 100, "client_id": 5, "oauth_scopes": ["x"]})
    assert tap.settings.page_size == 100


def test_defaults_come_from_the_contract() -> None:
    shop = TapCommerce(config=SHOP).settings
    assert (shop.page_size, shop.requests_per_second, shop.base_url) == (
        20,
        2,
        "https://api.ecommerceapi.uk",
    )
    assert (shop.max_retries, shop.backoff_factor, shop.max_retry_wait, shop.request_timeout) == (
        3,
        2,
        300,
        60,
    )
    assert shop.child_sync == "all" and shop.user_agent.startswith("tap-commerce/")
    front = TapCommerce(config={"api": "storefront", "api_key": "k"}).settings
    assert (front.requests_per_second, front.base_url) == (4.5, "https://api.example.com/1.0/")
    digital = TapCommerce(config={"api": "digital", "username": "u", "password": "p"}).settings
    assert (digital.page_size, digital.requests_per_second) == (50, 1)


def test_every_setting_is_read_from_the_environment(tmp_path, monkeypatch) -> None:
    env = {
        "TAP_COMMERCE_API": "payments",
        "TAP_COMMERCE_API_KEY": "fake-env-key",
        "TAP_COMMERCE_BACKOFF_FACTOR": "0.05",
        "TAP_COMMERCE_REQUESTS_PER_SECOND": "2.5",
        "TAP_COMMERCE_PAGE_SIZE": "50",
        "TAP_COMMERCE_LOOKBACK_WINDOW": "3600",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tap = TapCommerce(config={}, parse_env_config=True)
    assert type(tap).__name__ == "Payments"
    settings = tap.settings
    assert (
        settings.backoff_factor,
        settings.requests_per_second,
        settings.page_size,
        settings.lookback_window,
    ) == (0.05, 2.5, 50, 3600)


def test_the_command_exits_non_zero_with_one_error_line(tmp_path) -> None:
    out = run_cli([], config={**SHOP, "page_size": 500}, tmp_path=tmp_path)
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "setting 'page_size' is 500" in errors[0]
    assert "Traceback" not in out.stderr
    assert out.messages == []


def test_about_documents_every_setting(tmp_path) -> None:
    from tap_commerce.settings import OWN_SETTINGS  # noqa: PLC0415

    out = run_cli(["--about", "--format", "markdown"], tmp_path=tmp_path)
    assert out.returncode == 0
    text = out.stdout
    for name in OWN_SETTINGS:
        assert f"| {name} |" in text, name


def test_batch_is_not_advertised(tmp_path) -> None:
    """singer-sdk's BATCH path writes bare records: loaded with target-postgres, every row
    lacks a record version and the complete read's ACTIVATE_VERSION marks it deleted (the
    docs/performance.md). The tap neither offers it nor accepts its setting."""
    out = subprocess.run(
        [sys.executable, "-m", "tap_commerce", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    about = json.loads(out.stdout)
    assert "batch" not in about["capabilities"]
    assert "activate-version" in about["capabilities"]
    assert "batch_config" not in about["settings"]["properties"]
