"""Deletes reach the target (contract §1.2 "Deletes"): with
``emit_activate_version_messages`` every complete read carries the run's version on each
RECORD and ends with one ACTIVATE_VERSION after its last RECORD; partial reads, failed
streams and the default send none. Singer level; the warehouse side is in
tests/test_warehouse_deletes.py."""

from __future__ import annotations

import pytest
from tap_commerce_sandbox import Sandbox

from tests.harness import Output, run, run_cli, run_until_failure

ON = {"emit_activate_version_messages": True}
SHOP_CHILDREN_WITHOUT_KEY = ("products_images", "product_options", "products_variations")


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=5, scale=0.05, anchor="2026-06-01").start()
    yield sb
    sb.stop()


def stream_messages(output: Output, stream: str) -> list[dict]:
    return [m for m in output.messages if m.get("stream") == stream]


def activations(output: Output) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for message in output.messages:
        if message["type"] == "ACTIVATE_VERSION":
            found.setdefault(message["stream"], []).append(message["version"])
    return found


def assert_activated_after_records(output: Output, stream: str) -> int:
    """One ACTIVATE_VERSION for the stream, after its last RECORD, with the version every
    RECORD of the stream carries; returns the version."""
    messages = stream_messages(output, stream)
    kinds = [m["type"] for m in messages]
    assert kinds.count("ACTIVATE_VERSION") == 1, (stream, kinds.count("ACTIVATE_VERSION"))
    position = kinds.index("ACTIVATE_VERSION")
    records = [m for m in messages if m["type"] == "RECORD"]
    assert records, stream
    assert "RECORD" not in kinds[position:], f"{stream}: a RECORD after ACTIVATE_VERSION"
    version = messages[position]["version"]
    assert isinstance(version, int) and version > 1_700_000_000_000, version
    assert {r.get("version") for r in records} == {version}, stream
    return version


def test_full_table_streams_end_with_one_activate_version_after_their_records(sandbox):
    output = run({**sandbox.config("storefront"), **ON})
    for stream in ("inventory", "store_pages", "profiles"):
        assert_activated_after_records(output, stream)
    # A first run is a full refresh: the incremental streams are complete too.
    for stream in ("orders", "products", "transactions"):
        assert_activated_after_records(output, stream)
    versions = {v for vs in activations(output).values() for v in vs}
    assert len(versions) == 1, versions


def test_the_version_grows_from_run_to_run(sandbox):
    first = run({**sandbox.config("digital"), **ON})
    second = run({**sandbox.config("digital"), **ON})
    assert activations(second)["products"][0] > activations(first)["products"][0]


def test_off_by_default_no_activate_version_and_no_version_on_records(sandbox):
    output = run(sandbox.config("shop"))
    assert not activations(output)
    assert all("version" not in m for m in output.messages if m["type"] == "RECORD")


def test_shop_children_are_activated_once_for_the_whole_stream_after_the_last_product(sandbox):
    output = run({**sandbox.config("shop"), **ON})
    last_product = max(
        i
        for i, m in enumerate(output.messages)
        if m["type"] == "RECORD" and m["stream"] == "products"
    )
    for stream in (*SHOP_CHILDREN_WITHOUT_KEY, "products_reviews", "products"):
        assert_activated_after_records(output, stream)
        at = next(
            i for i, m in enumerate(output.messages)
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        )  # fmt: skip
        assert at > last_product, stream
    assert set(activations(output)) == set(sandbox.streams("shop")["shop"])


def test_child_sync_changed_is_a_partial_read_of_the_children(sandbox):
    output = run({**sandbox.config("shop"), **ON, "child_sync": "changed"})
    activated = activations(output)
    for stream in (*SHOP_CHILDREN_WITHOUT_KEY, "products_reviews"):
        assert stream not in activated, stream
        assert all(
            "version" not in r for r in stream_messages(output, stream) if r["type"] == "RECORD"
        )
    assert "countries" in activated and "products" in activated


def test_a_bookmarked_read_is_partial_a_full_table_one_is_not(sandbox):
    first = run({**sandbox.config("shop"), **ON})
    again = run({**sandbox.config("shop"), **ON}, state=first.final_state)
    activated = activations(again)
    for stream in ("pages", "products", "customers", "orders", "events", "products_reviews"):
        assert stream not in activated, stream
        records = [m for m in stream_messages(again, stream) if m["type"] == "RECORD"]
        assert all("version" not in r for r in records), stream
    for stream in ("countries", "choice_sets", "shipping_zones", *SHOP_CHILDREN_WITHOUT_KEY):
        assert_activated_after_records(again, stream)


@pytest.mark.parametrize("bound", ["start_date", "end_date"])
def test_a_start_or_end_date_makes_an_incremental_read_partial(sandbox, bound):
    output = run({**sandbox.config("storefront"), **ON, bound: "2020-01-01T00:00:00Z"})
    activated = activations(output)
    assert not {"orders", "products", "transactions"} & set(activated)
    assert {"inventory", "store_pages", "profiles"} <= set(activated)


def test_a_stream_that_fails_midway_sends_no_activate_version(sandbox):
    # the second page of shipping zones fails on every try
    sandbox.set_faults(
        schedule=dict.fromkeys(range(2, 8), "500"), apis="shop", path="shipping-zones"
    )
    try:
        output, error = run_until_failure({**sandbox.config("shop"), **ON, "page_size": 2})
    finally:
        sandbox.clear_faults()
    assert error is not None and "shipping" in str(error)
    assert [m for m in stream_messages(output, "shipping_zones") if m["type"] == "RECORD"]
    assert "shipping_zones" not in activations(output)
    # streams that completed before it keep theirs
    assert "countries" in activations(output)


def test_a_dry_run_cut_short_at_one_record_sends_no_activate_version(sandbox, tmp_path):
    """`--test` stops every stream at its first record (singer-sdk's record limit; for a
    child stream, singer-sdk goes on with the next product): no read is complete."""
    output = run_cli(["--test"], config={**sandbox.config("shop"), **ON}, tmp_path=tmp_path)
    assert output.returncode == 0, output.stderr[-2000:]
    assert output.records  # the dry run did write records
    assert not activations(output)


@pytest.mark.parametrize("api", ["storefront", "payments", "shop", "digital", "orders"])
def test_a_run_ends_with_a_state_after_its_last_activate_version(sandbox, api):
    """Contract §1.2: a run ends with a final STATE, also when its last stream is a
    complete read (its ACTIVATE_VERSION comes after that stream's records)."""
    output = run({**sandbox.config(api), **ON})
    assert output.messages[-1]["type"] == "STATE"
    assert output.messages[-1]["value"] == output.final_state
    kinds = [m["type"] for m in output.messages]
    last_activation = max(i for i, kind in enumerate(kinds) if kind == "ACTIVATE_VERSION")
    assert "STATE" in kinds[last_activation:]


def test_a_run_whose_last_stream_sends_no_record_ends_with_a_state(sandbox):
    """The last stream's window holds nothing (a bookmark past end_date): its SCHEMA is
    followed by the run's final STATE all the same."""
    config = sandbox.config("orders")
    first = run(config)
    later = run({**config, "end_date": "2020-01-01T00:00:00Z"}, state=first.final_state)
    assert not later.records
    assert later.messages[-1]["type"] == "STATE"
    assert later.messages[-1]["value"] == first.final_state
