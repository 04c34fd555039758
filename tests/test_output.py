"""The record path: RECORD messages written straight from the record, in blocks, and
singer-sdk's own path whenever a stream map, a deselected property or flattening applies."""

from __future__ import annotations

import copy
import io
import sys

import pytest

from tap_commerce.client import CommerceStream
from tap_commerce.output import BLOCK, BlockWriter
from tap_commerce.sandbox import Sandbox
from tap_commerce.tap import TapCommerce
from tests.harness import run


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=21, scale=0.05, anchor="2026-06-01").start()
    yield sb
    sb.stop()


def without_time(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in messages]


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

        def write(self, data) -> int:  # noqa: ANN001
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
