"""The other inputs of a run (contract §1.1): a bad ``--state`` or ``--catalog`` file stops
the tap in one line before any request, and ``--test`` answers in one line.

Every case runs the real command (`run_cli`); secrets are obviously fake.
"""

from __future__ import annotations

import json
import socket

import pytest
from tap_commerce_sandbox import Sandbox

from tap_commerce.loader import builtin
from tap_commerce.tap import TapCommerce
from tests.harness import FAST, parse_lines, run_cli

FAKE_SHOP = {"api": "shop", "api_key": "fake-shop-key-0001", "api_secret": "fake-shop-secret-0001"}
FAKE_PAYMENTS_KEY = "fake-payments-key-0001"
SHOP_STREAMS = builtin("shop").stream_names


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=31, scale=0.02, anchor="2026-06-01").start()
    yield sb
    sb.stop()


@pytest.fixture
def clean_sandbox(sandbox):
    sandbox.clear_faults()
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()


def lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def the_one_line(out) -> str:
    """The run wrote exactly one line on stderr, no traceback; that line."""
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    found = lines(out.stderr)
    assert len(found) == 1, out.stderr[-3000:]
    return found[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shop_config(server) -> dict:
    return {**FAKE_SHOP, "base_url": server.url_for("/shop/")}


# -- --state ---------------------------------------------------------------------------

BAD_STATES = {
    "not-json": ("{bookmarks: ", "is not JSON"),
    "empty": ("", "is empty"),
    "a-list": ("[1, 2]", "holds an array"),
    "a-number": ("5", "holds a number"),
    "a-string": ('"state"', "holds a string"),
    "bookmarks-a-list": ('{"bookmarks": []}', "'bookmarks' is an array"),
    "a-bookmark-a-number": (
        '{"bookmarks": {"countries": 3}}',
        "bookmark of stream 'countries' is a number",
    ),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_a_bad_state_file_is_one_line_naming_it(case, server, tmp_path) -> None:
    text, problem = BAD_STATES[case]
    state = tmp_path / f"state-{case}.json"
    state.write_text(text)
    out = run_cli(["--state", str(state)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"state file '{state}'" in line and problem in line, line
    assert "ERROR" in line
    assert out.stdout == ""
    assert server.log == []


def test_a_missing_state_file_is_one_line_naming_it(server, tmp_path) -> None:
    missing = tmp_path / "no-such-state.json"
    out = run_cli(["--state", str(missing)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"state file '{missing}' does not exist" in line
    assert "Usage:" not in out.stderr
    assert out.stdout == ""
    assert server.log == []


def test_a_state_without_bookmarks_is_accepted(clean_sandbox, tmp_path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    out = run_cli(
        ["--state", str(state)], config=clean_sandbox.config("payments"), tmp_path=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(out.records) == {"order_payments", "products"}


# -- --catalog -------------------------------------------------------------------------


def shop_catalog(server) -> dict:
    return TapCommerce(config={**FAST, **shop_config(server)}).catalog_dict


def test_a_catalog_stream_the_api_does_not_have_is_one_line(server, tmp_path) -> None:
    catalog = shop_catalog(server)
    widgets = {**catalog["streams"][0], "tap_stream_id": "widgets", "stream": "widgets"}
    catalog["streams"].append(widgets)
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(catalog))
    out = run_cli(["--catalog", str(path)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert (
        f"catalog file '{path}' names stream 'widgets', which the shop API does not have; "
        f"its streams: {', '.join(SHOP_STREAMS)}"
    ) in line
    assert out.stdout == ""
    assert server.log == []


def test_a_catalog_of_another_api_names_its_streams(server, tmp_path) -> None:
    payments = TapCommerce(config={"api": "payments", "api_key": FAKE_PAYMENTS_KEY}).catalog_dict
    path = tmp_path / "payments-catalog.json"
    path.write_text(json.dumps(payments))
    out = run_cli(["--catalog", str(path)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert "names stream 'order_payments', which the shop API does not have" in line
    assert server.log == []


BAD_CATALOGS = {
    "not-json": ('{"streams": [', "is not JSON"),
    "empty": ("   \n", "is empty"),
    "a-list": ("[]", "holds an array"),
    "no-streams": ('{"stream": []}', "has no 'streams'"),
    "streams-an-object": ('{"streams": {}}', "has an object as 'streams'"),
    "entry-without-id": (
        '{"streams": [{"stream": "countries"}]}',
        "stream entry 1 has no 'tap_stream_id'",
    ),
}


@pytest.mark.parametrize("case", BAD_CATALOGS)
def test_a_bad_catalog_file_is_one_line_naming_it(case, server, tmp_path) -> None:
    text, problem = BAD_CATALOGS[case]
    path = tmp_path / f"catalog-{case}.json"
    path.write_text(text)
    out = run_cli(["--catalog", str(path)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"catalog file '{path}'" in line and problem in line, line
    assert out.stdout == ""
    assert server.log == []


def test_a_missing_catalog_file_is_one_line_naming_it(server, tmp_path) -> None:
    missing = tmp_path / "no-such-catalog.json"
    out = run_cli(["--catalog", str(missing)], config=shop_config(server), tmp_path=tmp_path)
    assert out.returncode != 0
    assert f"catalog file '{missing}' does not exist" in the_one_line(out)
    assert server.log == []


def test_a_good_catalog_still_syncs(clean_sandbox, tmp_path) -> None:
    config = clean_sandbox.config("payments")
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(TapCommerce(config={**FAST, **config}).catalog_dict))
    out = run_cli(["--catalog", str(path)], config=config, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(out.records) == {"order_payments", "products"}


# -- --test ----------------------------------------------------------------------------


def assert_only_singer_messages(stdout: str) -> None:
    for message in parse_lines(stdout):
        assert message["type"] in {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"}


def test_the_connection_test_passes_in_one_line(clean_sandbox, tmp_path) -> None:
    out = run_cli(["--test"], config=clean_sandbox.config("shop"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    line = the_one_line(out)
    assert f"connection test passed: the shop API answered at {clean_sandbox.url}/shop/v1/" in line
    assert "INFO" in line
    assert_only_singer_messages(out.stdout)
    assert max(len(r) for r in out.records.values()) == 1  # still singer-sdk's dry run


def test_the_connection_test_of_payments_masks_the_key(clean_sandbox, tmp_path) -> None:
    out = run_cli(["--test"], config=clean_sandbox.config("payments"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "connection test passed: the payments API answered at" in the_one_line(out)
    assert clean_sandbox.credentials["payments"]["api_key"] not in out.stderr


def test_the_connection_test_names_a_closed_port(tmp_path) -> None:
    port = closed_port()
    config = {**FAKE_SHOP, "base_url": f"http://127.0.0.1:{port}/shop/", "max_retries": 1}
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"connection test failed: the shop API at http://127.0.0.1:{port}/shop/v1/" in line
    assert "did not answer" in line and "Connection refused" in line
    assert_only_singer_messages(out.stdout)


def test_the_connection_test_of_payments_at_a_closed_port_masks_the_key(tmp_path) -> None:
    port = closed_port()
    config = {
        "api": "payments",
        "api_key": FAKE_PAYMENTS_KEY,
        "base_url": f"http://127.0.0.1:{port}/payments/",
        "max_retries": 1,
    }
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"the payments API at http://127.0.0.1:{port}/payments/v1/order_payments?" in line
    assert "api_key=***" in line
    assert FAKE_PAYMENTS_KEY not in out.stderr + out.stdout


def test_the_connection_test_names_the_setting_to_check_on_401(clean_sandbox, tmp_path) -> None:
    config = {**clean_sandbox.config("shop"), "api_secret": "fake-wrong-secret-0001"}
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"connection test failed: the shop API at {clean_sandbox.url}/shop/v1/" in line
    assert "401" in line and "check setting 'api_key' and 'api_secret'" in line
    assert "fake-wrong-secret-0001" not in out.stderr + out.stdout


def test_the_connection_test_of_payments_on_401_masks_the_key(clean_sandbox, tmp_path) -> None:
    config = {**clean_sandbox.config("payments"), "api_key": FAKE_PAYMENTS_KEY}
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"the payments API at {clean_sandbox.url}/payments/v1/order_payments?" in line
    assert "api_key=***" in line and "401" in line and "check setting 'api_key'" in line
    assert FAKE_PAYMENTS_KEY not in out.stderr + out.stdout


def test_the_connection_test_reports_a_500_after_retries(clean_sandbox, tmp_path) -> None:
    clean_sandbox.fail_next(10, "500", apis="payments")
    config = {**clean_sandbox.config("payments"), "max_retries": 2}
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    line = the_one_line(out)
    assert f"the payments API at {clean_sandbox.url}/payments/v1/order_payments?" in line
    assert "answered 500" in line and "(gave up after 3 attempts)" in line
    assert "api_key=***" in line


def test_the_connection_test_reports_a_config_error_in_one_line(server, tmp_path) -> None:
    config = {key: value for key, value in shop_config(server).items() if key != "api_secret"}
    out = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    assert "setting 'api_secret'" in the_one_line(out)
    assert server.log == []
