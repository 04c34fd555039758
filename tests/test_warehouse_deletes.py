"""Deletes reach the warehouse: `meltano run tap-commerce-shop target-postgres` with the
project's meltano.yml (ACTIVATE_VERSION after complete reads; target-postgres's soft
delete, or ``hard_delete``), into the session's PostgreSQL.

Each test has a store (a sandbox), a Meltano project and a database of its own.
"""

from __future__ import annotations

import signal
import time

import psutil
import pytest
from tap_commerce_sandbox import Sandbox

from tests import warehouse
from tests.meltano_project import Project

#: full-table streams whose records the store deletes (countries is a fixed list)
FULL_TABLE = ("choice_sets", "shipping_zones")
CHILDREN = ("products_images", "product_options", "products_variations")
RUN = ("run", "tap-commerce-shop", "target-postgres")


@pytest.fixture
def store():
    sandbox = Sandbox(seed=41, scale=0.08, anchor="2026-06-01").start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def load(tmp_path, fresh_database, store, request):
    """``load(*args, **env)``: a `meltano` command of a project loading ``store``."""
    database = fresh_database(request.node.name[5:25])
    project = Project(tmp_path / "project", database, env=store.meltano_env())
    project.database = database
    return project


def table(project: Project, stream: str) -> dict:
    """``{key: row}`` of the shop table; fails if a key repeats."""
    with warehouse.connect(project.database.uri()) as conn:
        found = warehouse.table_rows(conn, "shop", stream)
    key = warehouse.primary_key("shop", stream)
    keys = [row[key] for row in found]
    assert len(keys) == len(set(keys)), f"shop.{stream}: a key repeats"
    return {row[key]: row for row in found}


def data(rows: dict) -> dict:
    """The rows without the target's timing metadata (what a run may touch without
    changing anything): data columns and ``_sdc_deleted_at``."""
    return {
        k: {c: v for c, v in row.items() if not c.startswith("_sdc_") or c == "_sdc_deleted_at"}
        for k, row in rows.items()
    }


def delete_upstream(store: Sandbox) -> dict[str, set]:
    """Delete two records of each full-table and child stream, and two whole products
    (with their children); the deleted keys per stream."""
    children = {stream: store.child_records("shop", stream) for stream in CHILDREN}
    changes = store.mutate(
        api="shop", streams=[*FULL_TABLE, *CHILDREN], added=1, updated=1, deleted=2
    )
    gone = {name.split(".")[1]: set(c["deleted"]) for name, c in changes["streams"].items()}
    products = store.mutate(api="shop", streams=["products"], added=0, updated=0, deleted=2)
    gone["products"] = set(products["streams"]["shop.products"]["deleted"])
    for stream in CHILDREN:
        gone[stream] |= {
            row["id"]
            for prd, rows in children[stream].items()
            if prd in gone["products"]
            for row in rows
        }
    assert all(gone[s] for s in (*FULL_TABLE, *CHILDREN)), gone
    return gone


def assert_marked(project: Project, store: Sandbox, stream: str, gone: set) -> None:
    rows = table(project, stream)
    marked = {k for k, row in rows.items() if row["_sdc_deleted_at"] is not None}
    assert marked == gone, (stream, sorted(marked ^ gone)[:5])
    live = {k: row for k, row in rows.items() if k not in gone}
    problems = warehouse.compare_records(
        "shop", stream, store.records("shop", stream), list(live.values())
    )
    assert not problems, problems[:5]


def test_deleted_records_are_marked_deleted_and_no_other(load, store):
    load.run(*RUN)
    gone = delete_upstream(store)
    load.run(*RUN)
    for stream in (*FULL_TABLE, *CHILDREN):
        assert_marked(load, store, stream, gone[stream])
    assert_marked(load, store, "countries", set())
    # products is incremental: an hourly run is a partial read, which retires nothing…
    assert not [r for r in table(load, "products").values() if r["_sdc_deleted_at"]]
    # …and a full refresh retires its deleted rows too.
    load.run("run", "--full-refresh", *RUN[1:])
    assert_marked(load, store, "products", gone["products"])
    for stream in (*FULL_TABLE, *CHILDREN):
        assert_marked(load, store, stream, gone[stream])


def test_hard_delete_removes_exactly_the_deleted_rows(load, store):
    load.run(*RUN)
    before = {stream: set(table(load, stream)) for stream in (*FULL_TABLE, *CHILDREN)}
    gone = delete_upstream(store)
    load.run(*RUN, env={"TARGET_POSTGRES_HARD_DELETE": "true"})
    for stream in (*FULL_TABLE, *CHILDREN):
        now = table(load, stream)
        assert before[stream] - set(now) == gone[stream], stream
        assert not [r for r in now.values() if r["_sdc_deleted_at"]], stream
        wanted = store.records("shop", stream)
        assert not warehouse.compare_records("shop", stream, wanted, list(now.values()))


def _shipping_zones_go_upstream(load: Project, store: Sandbox) -> dict:
    """A first load (pages of 2), then two shipping zones deleted upstream; the table as
    loaded."""
    load.run(*RUN, env=SMALL_PAGES)
    before = data(table(load, "shipping_zones"))
    store.mutate(api="shop", streams=["shipping_zones"], added=0, updated=0, deleted=2)
    return before


SMALL_PAGES = {"TAP_COMMERCE_SHOP_PAGE_SIZE": "2"}


def test_a_run_that_exhausts_its_retries_midway_leaves_the_table_as_it_was(load, store):
    before = _shipping_zones_go_upstream(load, store)
    # the second page of shipping zones fails on every try
    store.set_faults(
        schedule=dict.fromkeys(range(2, 10), "500"), apis="shop", path="shipping-zones$"
    )
    output = load.run_failing(*RUN, env={**SMALL_PAGES, "TAP_COMMERCE_SHOP_MAX_RETRIES": "2"})
    assert "shipping_zones" in output
    assert data(table(load, "shipping_zones")) == before


def test_a_run_killed_midway_leaves_the_table_as_it_was(load, store):
    before = _shipping_zones_go_upstream(load, store)
    # the second page of shipping zones hangs; the tap is killed while it waits
    store.set_faults(schedule={2: "slow"}, apis="shop", path="shipping-zones$", slow_seconds=30)

    def zone_requests() -> int:
        return sum(r.path.endswith("shipping-zones") for r in store.requests.snapshot())

    earlier = zone_requests()
    run = load.start(*RUN, env=SMALL_PAGES)
    try:
        deadline = time.monotonic() + 120
        # a request is logged once answered: the first page's, then page 2 hangs
        while zone_requests() < earlier + 1:
            assert run.poll() is None and time.monotonic() < deadline, "never reached page 1"
            time.sleep(0.05)
        time.sleep(1)
        taps = [
            p for p in psutil.Process(run.pid).children(recursive=True)
            if any("tap-commerce" in part for part in p.cmdline()[:2])
        ]  # fmt: skip
        assert taps, "no tap process"
        for tap in taps:
            tap.send_signal(signal.SIGKILL)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        store.clear_faults()
    assert run.returncode != 0
    assert data(table(load, "shipping_zones")) == before
