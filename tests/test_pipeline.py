"""The pipeline as it runs in production: many workers sharing Meltano's state in
PostgreSQL, one plugin per store, and the jobs and schedules an orchestrator runs.

Real `meltano run` of the repository's meltano.yml, against the sandbox, into the
session's PostgreSQL (a database of this module's own).
"""

from __future__ import annotations

import json

import pytest
from tap_commerce_sandbox import Sandbox

from pipeline.meltano import SYSTEM_SCHEMA
from tests import warehouse
from tests.meltano_project import Project


@pytest.fixture(scope="module")
def database(fresh_database):
    return fresh_database("pipeline")


def _state(project: Project, state_id: str) -> dict:
    return json.loads(project.run("state", "get", state_id))


def _rows(database, schema: str, table: str) -> list[dict]:
    with warehouse.connect(database.uri()) as conn:
        return warehouse.table_rows(conn, schema, table)


def test_two_workers_share_state_through_the_postgres_system_database(tmp_path, database):
    """Two Meltano projects in two directories (two workers, no file in common) with one
    system database: the second worker's run of the same job resumes from the state of
    the first worker's run."""
    sandbox = Sandbox(seed=21, scale=0.1, anchor="2026-06-01").start()
    try:
        first = Project(tmp_path / "worker-1", database, env=sandbox.meltano_env())
        second = Project(tmp_path / "worker-2", database, env=sandbox.meltano_env())
        first.run("run", "orders-to-postgres")
        state_id = "dev:tap-commerce-orders-to-target-postgres"
        bookmark = _state(second, state_id)["singer_state"]["bookmarks"]["orders"]
        assert bookmark["replication_key_value"], bookmark

        changes = sandbox.mutate(api="orders", added=3, updated=2)
        sandbox.reset_stats()
        second.run("run", "tap-commerce-orders", "target-postgres")
        # Worker 2 asked only for what changed since worker 1's bookmark…
        sent = [r for r in sandbox.requests.snapshot() if r.path.endswith("/v1/orders")]
        assert sent, "no orders request"
        assert "1970" not in sent[0].query["filter"]
        assert sent[0].query["filter"].startswith("lastmodifieddate:[")
        # …and the warehouse holds every order once, edits merged.
        problems = warehouse.compare_records(
            "orders",
            "orders",
            sandbox.records("orders", "orders"),
            _rows(database, "orders", "orders"),
        )
        assert not problems, "\n".join(problems[:10])
        assert len(changes["streams"]["orders.orders"]["added"]) == 3
        # The state moved on in the one system database, and neither worker keeps one on disk.
        newer = _state(first, state_id)["singer_state"]["bookmarks"]["orders"]
        assert newer["replication_key_value"] > bookmark["replication_key_value"]
        for worker in (first, second):
            assert not list(worker.root.rglob("*.db")), list(worker.root.rglob("*.db"))
        with warehouse.connect(database.uri()) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT state_id FROM {SYSTEM_SCHEMA}.state")  # noqa: S608 - a constant
            assert state_id in {row["state_id"] for row in cur.fetchall()}
    finally:
        sandbox.stop()


def test_a_second_store_loads_into_its_own_schema_with_its_own_state(tmp_path, database):
    """``tap-commerce-shop--eu`` (meltano.yml) is another shop store: its own credentials,
    its own load schema (shop_eu) and its own state; without credentials of its own it
    fails rather than read the first store's account."""
    main_store = Sandbox(seed=31, scale=0.05, anchor="2026-06-01").start()
    eu_store = Sandbox(
        seed=32,
        scale=0.08,
        anchor="2026-06-01",
        credentials={"shop": {"api_key": "eu-shop-key", "api_secret": "eu-shop-not-a-secret"}},
    ).start()
    try:
        eu_env = {
            name.replace("TAP_COMMERCE_SHOP_", "TAP_COMMERCE_SHOP__EU_", 1): value
            for name, value in eu_store.meltano_env().items()
            if name.startswith("TAP_COMMERCE_SHOP_")
        }
        project = Project(tmp_path / "stores", database, env=main_store.meltano_env())
        output = project.run_failing("run", "shop-eu-to-postgres")
        assert "api_key" in output
        assert not [r for r in main_store.requests.snapshot() if "products" in r.path]

        project.run("run", "shop-to-postgres")
        project.run("run", "shop-eu-to-postgres", env=eu_env)
        for schema, store in (("shop", main_store), ("shop_eu", eu_store)):
            for stream in ("products", "products_reviews", "customers"):
                problems = warehouse.compare_records(
                    "shop", stream, store.records("shop", stream), _rows(database, schema, stream)
                )
                assert not problems, (schema, problems[:5])
        assert main_store.count("shop", "products") != eu_store.count("shop", "products")

        states = {
            store: _state(project, f"dev:tap-commerce-{store}-to-target-postgres")
            for store in ("shop", "shop--eu")
        }
        bookmarks = {
            store: state["singer_state"]["bookmarks"]["customers"]["replication_key_value"]
            for store, state in states.items()
        }
        assert bookmarks["shop"] != bookmarks["shop--eu"], bookmarks
    finally:
        main_store.stop()
        eu_store.stop()


def test_every_pipeline_has_a_job_and_an_hourly_schedule(tmp_path, database):
    """What an orchestrator reads (`meltano schedule list --format=json`): one hourly
    schedule per API, each running exactly `tap-commerce-<api> target-postgres`."""
    project = Project(tmp_path / "scheduler", database)
    listed = json.loads(project.run("schedule", "list", "--format=json"))["schedules"]["job"]
    tasks = {s["job"]["name"]: s["job"]["tasks"] for s in listed}
    intervals = {s["job"]["name"]: s["cron_interval"] for s in listed}
    for api in ("storefront", "payments", "shop", "digital", "orders"):
        assert tasks[f"{api}-to-postgres"] == [f"tap-commerce-{api} target-postgres"]
        assert intervals[f"{api}-to-postgres"] == "0 * * * *"
    assert tasks["shop-eu-to-postgres"] == ["tap-commerce-shop--eu target-postgres"]


def test_a_definition_inline_in_meltano_yml_loads_its_api(tmp_path, database):
    """A Meltano user describes an API inline in meltano.yml (the `definition` setting as
    an object) in a plugin of its own; `meltano run` loads it like a built-in."""
    import yaml  # noqa: PLC0415

    sandbox = Sandbox(seed=41, scale=0.05, anchor="2026-06-01").start()
    try:
        project = Project(tmp_path / "inline", database)
        config = yaml.safe_load((project.root / "meltano.yml").read_text())
        definition = {
            "x-name": "myshop",
            "client": {
                "base_url": "https://shop.example.com/",
                "auth": {
                    "type": "http_basic",
                    "username": "{settings.api_key}",
                    "password": "{settings.api_secret}",
                },
                # Meltano 4.4 cannot hold a null inside an object setting: "" is dlt's
                # "no total" too
                "paginator": {"type": "offset", "limit": 50, "total_path": ""},
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "data"},
            },
            "resources": [
                {"name": "customers", "endpoint": {"path": "/v1/customers"}},
                {"name": "categories", "x-schema": "infer", "endpoint": "/v1/categories"},
            ],
        }
        config["plugins"]["extractors"].append(
            {
                "name": "tap-commerce-myshop",
                "inherit_from": "tap-commerce",
                "config": {"definition": definition},
                "load_schema": "myshop",
            }
        )
        (project.root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        shop = sandbox.config("shop")
        env = {
            "TAP_COMMERCE_MYSHOP_BASE_URL": shop["base_url"],
            "TAP_COMMERCE_MYSHOP_API_KEY": shop["api_key"],
            "TAP_COMMERCE_MYSHOP_API_SECRET": shop["api_secret"],
        }
        project.run("run", "tap-commerce-myshop", "target-postgres", env=env)
        for stream in ("customers", "categories"):
            rows = _rows(database, "myshop", stream)
            assert sorted(r["id"] for r in rows) == sorted(
                r["id"] for r in sandbox.records("shop", stream)
            ), stream
    finally:
        sandbox.stop()
