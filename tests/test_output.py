"""The record path: RECORD messages written straight from the record, in blocks, and
singer-sdk's own path whenever a stream map, a deselected property or flattening applies."""

from __future__ import annotations

import copy
import io
import sys

import pytest
from tap_commerce_sandbox import Sandbox

from tap_commerce.client import CommerceStream
from tap_commerce.output import BLOCK, BlockWriter
from tap_commerce.tap import TapCommerce
from tests.harness import run


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=21, scale=0.05, anchor="2026-06-01").start()
    yield sb
    sb.stop()


def without_time(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in messages]


def without_clock(messages: list[dict]) -> list[dict]:
    """Messages without what depends on when the run happened (``time_extracted``, and
    the signpost: the moment the sync started)."""
    out = without_time(messages)
    for message in out:
        if message["type"] == "STATE":
            message["value"] = copy.deepcopy(message["value"])
            for bookmark in message["value"].get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
    return out


def test_the_direct_path_writes_what_singer_sdks_path_writes(sandbox, monkeypatch):
    config = sandbox.config("storefront")
    direct = run(config)
    monkeypatch.setattr(CommerceStream, "_passes_through", lambda self: False)
    sdk = run(config)
    assert len(direct.messages) == len(sdk.messages)
    assert without_time(direct.messages) == without_time(sdk.messages)
    times = [m["time_extracted"] for m in direct.messages if m["type"] == "RECORD"]
    assert all(t.endswith("+00:00") for t in times)


def catalog_for(config: dict) -> dict:
    return TapCommerce(config=config).catalog_dict


def test_a_deselected_property_is_left_out(sandbox):
    config = sandbox.config("payments")
    catalog = copy.deepcopy(catalog_for(config))
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == ["properties", "currency"]:
                item["metadata"]["selected"] = False
    out = run(config, catalog=catalog)
    records = out.records["order_payments"]
    assert records and all("currency" not in r for r in records)
    assert all("amount" in r for r in records)


def test_stream_maps_and_flattening_still_apply(sandbox):
    config = {
        **sandbox.config("storefront"),
        "stream_maps": {"orders": {"order_ref": "orderNumber", "customerEmail": None}},
        "flattening_enabled": True,
        "flattening_max_depth": 1,
    }
    out = run(config)
    orders = out.records["orders"]
    assert orders and all("customerEmail" not in r and "order_ref" in r for r in orders)
    assert all("billingAddress__city" in r for r in orders)
    assert "billingAddress" not in orders[0]


def test_records_are_written_in_blocks_and_everything_else_at_once(monkeypatch):
    out = io.BytesIO()

    writes: list[int] = []

    class Sink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            writes.append(len(data))
            out.write(data)
            return len(data)

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(Sink(), buffer_size=1)))
    writer = BlockWriter()
    record = {"type": "RECORD", "stream": "s", "record": {"id": 1, "text": "x" * 100}}
    for _ in range(1000):
        writer.write_record(record)
    # 1000 lines of ~130 bytes: two blocks of 64 KiB so far, not a write per line
    assert len(writes) == 2 and all(size >= BLOCK for size in writes)
    from singer_sdk.singerlib.encoding.simple import StateMessage  # noqa: PLC0415

    writer.write_message(StateMessage(value={"bookmarks": {}}))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1001 and lines[-1].startswith(b'{"type":"STATE"')


def test_a_page_at_a_time_writes_what_the_record_loop_writes(sandbox, monkeypatch):
    """`_sync_pages` against singer-sdk's record loop, on an incremental run whose window
    keeps records out, with unknown fields to drop, and with a STATE due every 7 records
    (so inside pages): the same messages in the same order, STATE included."""
    config = sandbox.config("payments")
    first = run(config)
    sandbox.mutate("payments", added=9, updated=13)
    sandbox.set_extra_fields({"surprise": 1}, apis=["payments"])
    monkeypatch.setattr(CommerceStream, "STATE_MSG_FREQUENCY", 7)
    calls: list[str] = []
    original = CommerceStream._sync_pages

    def spy(self):
        calls.append(self.name)
        return original(self)

    monkeypatch.setattr(CommerceStream, "_sync_pages", spy)
    try:
        pages = run(config, state=first.final_state)
        monkeypatch.setattr(CommerceStream, "_whole_pages", lambda self: False)
        loop = run(config, state=first.final_state)
    finally:
        sandbox.set_extra_fields(None)
    assert sorted(calls) == ["order_payments", "products"]  # the page path did run
    assert without_clock(pages.messages) == without_clock(loop.messages)
    states = [m for m in pages.messages if m["type"] == "STATE"]
    assert len(states) > 4  # the 7-record rhythm, not only the last one
    records = pages.records["order_payments"]
    assert 0 < len(records) < len(first.records["order_payments"])  # the window kept some out
    assert all("surprise" not in r for r in records)


def test_the_bookmark_of_a_page_is_that_of_its_records_one_by_one(sandbox):
    """Only the largest value can move the bookmark; a null value goes through on its
    own, as in the record loop (singer-sdk warns and keeps the bookmark)."""
    tap = TapCommerce(config=sandbox.config("payments"))
    stream = tap.streams["order_payments"]
    offered: list[object] = []
    stream._increment_stream_state = lambda record, **_: offered.append(record["updated_at"])
    records = [
        {"updated_at": v}
        for v in [
            "2024-01-02T00:00:00+00:00",
            None,
            "2024-03-01T00:00:00+00:00",
            "2024-02-01T00:00:00+00:00",
        ]
    ]
    stream._bookmark_chunk(records, "updated_at")
    assert offered == [None, "2024-03-01T00:00:00+00:00"]


def test_streams_with_children_or_maps_keep_singer_sdks_record_loop(sandbox):
    shop = TapCommerce(config=sandbox.config("shop"))
    assert not shop.streams["products"]._whole_pages()  # its child streams sync per product
    assert shop.streams["customers"]._whole_pages()
    mapped = TapCommerce(
        config={**sandbox.config("shop"), "stream_maps": {"customers": {"email": None}}}
    )
    assert not mapped.streams["customers"]._whole_pages()


def test_a_dry_run_still_stops_at_one_record_per_stream(sandbox, tmp_path):
    """``--test`` sets singer-sdk's record limit, which its own loop enforces: the page
    path stands aside."""
    from tests.harness import run_cli  # noqa: PLC0415

    out = run_cli(["--test"], config=sandbox.config("payments"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert {s: len(r) for s, r in out.records.items()} == {"order_payments": 1, "products": 1}
