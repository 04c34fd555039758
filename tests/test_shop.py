"""shop (contract §2.3): basic auth, both envelopes, product sub-resources with prd_id."""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal

import pytest
from werkzeug import Request, Response

from tests.fakeapi import basic_user, json_response, offset_handler, sent
from tests.harness import run, run_cli

CHILDREN = ("images", "reviews", "options", "variations")
CHILD_STREAMS = {
    "images": "products_images",
    "reviews": "products_reviews",
    "options": "product_options",
    "variations": "products_variations",
}
TOP = (
    "pages",
    "choice-sets",
    "customers",
    "orders",
    "shipping-zones",
    "events",
    "categories",
    "themes",
)


def product(i: int, updated: str = "2024-01-01T00:00:00") -> dict:
    return {
        "id": i, "title": f"P{i}", "description": None, "sku": f"S{i}", "active": True, "stock": i,
        "price": Decimal("19.99"), "sale_price": None, "cost_price": Decimal("0.10"), "weight": Decimal("1.5"),
        "slug": f"p{i}", "url": f"/p{i}", "created_at_utc": "2023-01-01T00:00:00", "updated_at_utc": updated,
    }  # fmt: skip


def child_rows(
    kind: str, prd_id: int, count: int, created: str = "2023-06-01T00:00:00"
) -> list[dict]:
    rows = []
    for n in range(count):
        row_id = prd_id * 100 + n
        rows.append({
            "images": {"id": row_id, "url": f"/i/{row_id}.png", "description": None, "sort_order": n},
            "reviews": {"id": row_id, "name": "Ann", "content": "ok", "rating": 5, "active": True, "created_at_utc": f"{created[:8]}{row_id % 28 + 1:02d}T00:00:00"},
            "options": {"id": row_id, "name": "Size", "values": ["S", "M"]},
            "variations": {"id": row_id, "sku": f"V{row_id}", "stock": 1, "price": Decimal("9.99"), "sale_price": None, "weight": None, "values": [{"id": 1, "name": "S", "option_name": "Size"}]},
        }[kind])  # fmt: skip
    return rows


class ShopFake:
    """The shop API over a product list and per-product child rows."""

    def __init__(
        self, server, products: list[dict], *, bare: bool = False, child_count: int = 2
    ) -> None:
        self.products = products
        self.bare = bare
        self.children = {
            kind: {
                p["id"]: child_rows(kind, p["id"], (p["id"] + i) % 3 + child_count - 2)
                for p in products
            }
            for i, kind in enumerate(CHILDREN)
        }
        self.threads: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server.expect_request("/v1/countries").respond_with_handler(
            self._auth(
                lambda r: json_response(
                    {"data": [{"id": 1, "iso": "GB", "name": "United Kingdom"}]}
                )
            )
        )
        server.expect_request("/v1/products").respond_with_handler(
            self._auth(offset_handler(products, selector=None if bare else "data"))
        )
        server.expect_request(re.compile(r"^/v1/products/\d+/\w+$")).respond_with_handler(
            self._auth(self._child)
        )
        for path in TOP:
            server.expect_request(f"/v1/{path}").respond_with_handler(
                self._auth(offset_handler([], selector=None if bare else "data"))
            )

    def _auth(self, handler):
        def checked(request: Request) -> Response:
            if basic_user(request) != ("fake-shop-key", "fake-shop-secret"):
                return json_response({"code": 2, "message": "Invalid credentials"}, 401)
            return handler(request)

        return checked

    def _child(self, request: Request) -> Response:
        _, _, _, prd_id, kind = request.path.split("/")
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            threading.Event().wait(0.01)  # a little latency so overlap is observable
            rows = self.children[kind].get(int(prd_id))
            if rows is None:
                return json_response({"code": 404, "message": "Product not found"}, 404)
            return offset_handler(rows, selector=None if self.bare else "data")(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def expected(self, kind: str, product_ids=None) -> list[tuple[int, int]]:
        ids = product_ids if product_ids is not None else [p["id"] for p in self.products]
        return sorted((pid, row["id"]) for pid in ids for row in self.children[kind].get(pid, []))


@pytest.fixture
def config(base_url: str) -> dict:
    return {
        "api": "shop",
        "base_url": base_url,
        "api_key": "fake-shop-key",
        "api_secret": "fake-shop-secret",
        "page_size": 3,
        "max_concurrency": 1,
    }


def pairs(records: list[dict]) -> list[tuple[int, int]]:
    return sorted((r["prd_id"], r["id"]) for r in records)


@pytest.mark.parametrize("bare", [False, True], ids=["data-envelope", "bare-array"])
def test_every_product_and_sub_resource_arrives_with_prd_id(server, config, bare) -> None:
    fake = ShopFake(server, [product(i) for i in range(1, 8)], bare=bare)
    out = run(config)
    assert [r["id"] for r in out.records["products"]] == list(range(1, 8))
    for kind, stream in CHILD_STREAMS.items():
        assert pairs(out.records.get(stream, [])) == fake.expected(kind), stream
        assert all(isinstance(r["prd_id"], int) for r in out.records.get(stream, []))
    assert out.records["countries"] == [{"id": 1, "iso": "GB", "name": "United Kingdom"}]
    assert len(sent(server, "/v1/countries")) == 1 and not sent(server, "/v1/countries")[0].args
    assert out.records["products"][0]["price"] == Decimal("19.99")
    assert out.records["products"][0]["updated_at_utc"] == "2024-01-01T00:00:00+00:00"


def test_child_pages_follow_offset_limit(server, config) -> None:
    fake = ShopFake(server, [product(1)], child_count=6)
    out = run({**config, "page_size": 2})
    assert pairs(out.records["products_images"]) == fake.expected("images")
    offsets = [r.args["offset"] for r in sent(server, "/v1/products/1/images")]
    assert (
        offsets
        == [str(n) for n in range(0, len(fake.children["images"][1]) + 1, 2)][: len(offsets)]
    )
    assert len(offsets) == len(fake.children["images"][1]) // 2 + 1


def test_child_state_does_not_grow_with_the_number_of_products(server, config) -> None:
    ShopFake(server, [product(i) for i in range(1, 41)])
    out = run({**config, "page_size": 100})
    state = out.final_state
    assert "partitions" not in json.dumps(state)
    assert len(json.dumps(state)) < 2000
    # one SCHEMA per child stream, not one per product
    assert len(out.schemas("products_images")) == 1


def test_child_sync_all_reads_children_of_unchanged_products(server, config) -> None:
    products = [product(i, f"2024-01-0{i}T00:00:00") for i in range(1, 5)]
    fake = ShopFake(server, products)
    first = run(config)
    products[2]["updated_at_utc"] = "2024-02-01T00:00:00"  # product 3 changes
    fake.children["reviews"][1].append(
        {
            "id": 999,
            "name": "New",
            "content": "late",
            "rating": 4,
            "active": True,
            "created_at_utc": "2024-02-02T00:00:00",
        }
    )
    second = run(config, state=first.final_state)
    # product 3 changed; product 4 holds the bookmark value itself (bounds are inclusive)
    assert [r["id"] for r in second.records["products"]] == [3, 4]
    # a new review of unchanged product 1 still arrives; older reviews do not come again
    last_review = max(r["created_at_utc"] for r in first.records["products_reviews"])
    again = sorted(
        (r["prd_id"], r["id"])
        for r in first.records["products_reviews"]
        if r["created_at_utc"] == last_review
    )
    assert pairs(second.records["products_reviews"]) == sorted([(1, 999), *again])
    assert pairs(second.records["products_images"]) == fake.expected("images")


def test_child_sync_changed_reads_children_of_emitted_products_only(server, config) -> None:
    products = [product(i, f"2024-01-0{i}T00:00:00") for i in range(1, 5)]
    fake = ShopFake(server, products)
    first = run({**config, "child_sync": "changed"})
    products[2]["updated_at_utc"] = "2024-02-01T00:00:00"
    server.clear_log()
    second = run({**config, "child_sync": "changed"}, state=first.final_state)
    assert [r["id"] for r in second.records["products"]] == [3, 4]
    assert pairs(second.records["products_images"]) == fake.expected("images", [3, 4])
    child_requests = [r for r, _ in server.log if r.path.startswith("/v1/products/")]
    assert {r.path.split("/")[3] for r in child_requests} == {"3", "4"}


def test_a_child_404_is_skipped_with_a_warning(server, config, caplog) -> None:
    fake = ShopFake(server, [product(i) for i in range(1, 4)])
    del fake.children["variations"][2]  # product 2 deleted between listing and fetch
    out = run(config)
    assert pairs(out.records["products_variations"]) == fake.expected("variations", [1, 3])
    assert any(
        "products_variations" in r.getMessage()
        and "product 2" in r.getMessage()
        and "404" in r.getMessage()
        for r in caplog.records
    )


def test_children_sync_when_the_parent_stream_is_deselected(server, config) -> None:
    fake = ShopFake(server, [product(i) for i in range(1, 5)])
    from tap_commerce.tap import TapCommerce  # noqa: PLC0415

    catalog = TapCommerce(config={**config}).catalog_dict
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] == "products_reviews"
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
    out = run(config, catalog=catalog)
    assert set(out.records) == {"products_reviews"}
    assert pairs(out.records["products_reviews"]) == fake.expected("reviews")
    assert not sent(server, "/v1/products/1/images")


def test_concurrent_fan_out_gives_the_same_records_as_a_sequential_run(server, config) -> None:
    fake = ShopFake(server, [product(i) for i in range(1, 31)])
    sequential = run({**config, "max_concurrency": 1})
    assert fake.max_in_flight == 1
    concurrent = run({**config, "max_concurrency": 6})
    assert fake.max_in_flight > 1
    for stream in CHILD_STREAMS.values():
        assert pairs(concurrent.records[stream]) == pairs(sequential.records[stream])
    # Singer order holds: each stream's SCHEMA precedes its records
    seen_schema: set[str] = set()
    for message in concurrent.messages:
        if message["type"] == "SCHEMA":
            seen_schema.add(message["stream"])
        elif message["type"] == "RECORD":
            assert message["stream"] in seen_schema


def test_the_next_product_page_is_read_while_the_children_of_this_one_are(server, config) -> None:
    """With a pool, products' next page is asked for as soon as a page is read, so its
    round trip overlaps the children's; the requests and records are those of a
    sequential run, where the next page waits for every child of the current one."""
    ShopFake(server, [product(i) for i in range(1, 10)])  # three pages of three

    def order() -> list[tuple[str, str | None]]:
        return [(request.path, request.args.get("offset")) for request, _ in server.log]

    def children_of_first_page(seen: list[tuple[str, str | None]]) -> list[int]:
        return [i for i, (path, _) in enumerate(seen) if re.match(r"^/v1/products/[123]/", path)]

    sequential = run({**config, "max_concurrency": 1})
    seen = order()
    assert seen.index(("/v1/products", "3")) > max(children_of_first_page(seen))
    server.clear_log()
    concurrent = run({**config, "max_concurrency": 6})
    overlapped = order()
    assert overlapped.index(("/v1/products", "3")) < max(children_of_first_page(overlapped))
    assert sorted(overlapped, key=str) == sorted(seen, key=str)
    assert concurrent.records == sequential.records


def test_a_paginator_failure_after_a_page_comes_after_that_pages_records(
    server, config, monkeypatch
) -> None:
    """The next page is worked out before the current one is emitted; if that fails, the
    current page (and its children) is still emitted first, as in a sequential run."""
    from tap_commerce.errors import BadResponseError  # noqa: PLC0415
    from tap_commerce.pagination import OffsetPaginator  # noqa: PLC0415
    from tests.harness import run_until_failure  # noqa: PLC0415

    ShopFake(server, [product(i) for i in range(1, 10)])
    original = OffsetPaginator.get_next

    def failing(self, response):
        if self.current_value == 3:
            raise BadResponseError("stream 'products': no next page for you")
        return original(self, response)

    monkeypatch.setattr(OffsetPaginator, "get_next", failing)
    outputs = []
    for workers in (1, 6):
        output, error = run_until_failure({**config, "max_concurrency": workers})
        assert isinstance(error, BadResponseError)
        outputs.append(output)
    sequential, concurrent = outputs
    assert [r["id"] for r in concurrent.records["products"]] == list(range(1, 7))
    assert concurrent.records == sequential.records


def test_bad_credentials_fail_fast_naming_both_settings(server, config) -> None:
    ShopFake(server, [product(1)])
    from tap_commerce.errors import AuthError  # noqa: PLC0415

    with pytest.raises(
        AuthError, match=r"shop API refused.*401.*Invalid credentials.*'api_key' and 'api_secret'"
    ):
        run({**config, "api_secret": "fake-wrong"})
    assert len(server.log) == 1  # not retried


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_per_product_log_lines_are_debug_and_each_child_stream_logs_one_summary(
    server, config, tmp_path, level
) -> None:
    fake = ShopFake(server, [product(i) for i in range(1, 8)])
    out = run_cli([], config=config, tmp_path=tmp_path, env={"TAP_COMMERCE_LOGLEVEL": level})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stderr.splitlines()
    per_product = [line for line in lines if "prd_id" in line]
    if level == "INFO":
        assert per_product == []
    else:
        assert per_product and all("| DEBUG" in line for line in per_product)
    for kind, stream in zip(
        CHILDREN,
        ("products_images", "products_reviews", "product_options", "products_variations"),
        strict=True,
    ):
        summary = [
            line for line in lines if f"stream '{stream}':" in line and "records read for" in line
        ]
        assert len(summary) == 1, stream
        assert summary[0].endswith(f"{len(fake.expected(kind))} records read for 7 products")


def test_per_product_log_records_are_not_even_made_at_info(server, config) -> None:
    """With DEBUG off, singer-sdk's per-product lines (METRIC points and the child streams'
    own lines) are never built: no record is made to be dropped by a filter, which for a
    large store is most of the tap's logging time."""
    import logging  # noqa: PLC0415

    ShopFake(server, [product(i) for i in range(1, 6)])
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record)
        return record

    tap_logger = logging.getLogger("tap-commerce")
    level = tap_logger.level
    tap_logger.setLevel(logging.INFO)
    logging.setLogRecordFactory(counting)
    try:
        output = run(config)
    finally:
        logging.setLogRecordFactory(factory)
        tap_logger.setLevel(level)
    assert len(output.records["products_images"]) > 0
    per_product = [r for r in made if "prd_id" in r.getMessage()]
    assert per_product == []
    children = {"products_images", "products_reviews", "product_options", "products_variations"}
    assert not [r for r in made if r.name.rsplit(".", 1)[-1] in children]
    summaries = [r.getMessage() for r in made if "records read for 5 products" in r.getMessage()]
    assert len(summaries) == len(children)
