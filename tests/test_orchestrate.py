"""Many stores on Dagster, in-process: 10 stores × 2 APIs (payments, orders) from a stores
file, each store its own sandbox (its own data, credentials and rate limits), each sync a
real `meltano run --state-id-suffix=<store>` into the embedded PostgreSQL, on a Dagster
instance made from ``orchestrate/dagster.yaml`` (runs, events and pools in PostgreSQL).

One store's orders credentials are wrong: it fails alone (and is retried), the others
load. One store's payments products fail on the first attempt after its first stream has
loaded: the retry starts from the state that attempt saved. Then the sandboxes change and
a second round is incremental for every store; its payments job runs as deployed, on the
multiprocess executor, three stores at once in one Meltano project.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
from tap_commerce_sandbox import Stores as SandboxStores

from orchestrate.definitions import API_TAG, MeltanoProject, build, from_environment
from orchestrate.stores import load
from pipeline.meltano import MELTANO
from tests import warehouse
from tests.harness import REPO
from tests.meltano_project import FOREIGN, Project
from tests.test_discovery import TABLES
from tests.test_e2e_postgres import after_incremental_run

# one worker runs the whole module: its fixture is the 42 syncs every test reads
pytestmark = pytest.mark.xdist_group("orchestrate")


@pytest.fixture(scope="module", autouse=True)
def _one_worker(request):
    """Under ``--dist loadgroup`` the group is in each test's id; without it the tests are
    spread over the workers, each building the 42 syncs again (as pytest 9.2 does with
    pytest-xdist 3.8, pytest-dev/pytest-xdist#1386). Checked before `world` is built."""
    if getattr(request.config.option, "loadgroup", False):
        ours = [i.nodeid for i in request.session.items if i.module is request.module]
        loose = [nodeid for nodeid in ours if not nodeid.endswith("@orchestrate")]
        assert not loose, f"--dist loadgroup did not group {loose[0]} with its module"


NAMES = [f"store-{n:02d}" for n in range(1, 11)]
APIS = ("payments", "orders")
SECRETS = {"payments": ("api_key",), "orders": ("client_id", "client_secret")}
#: its orders client secret is wrong
REFUSED = "store-07"
#: its payments products fail on the first attempt, after order_payments has loaded
INTERRUPTED = "store-04"
#: the tap's retries of one request, made quick (a store's own settings)
QUICK = {"backoff_factor": 0.001, "max_retry_wait": 0.01, "max_retries": 1}


def variable(name: str, api: str, setting: str) -> str:
    return f"{api}_{name}_{setting}".upper().replace("-", "_")


def stores_file(path: Path) -> Path:
    lines = ["retries: {max: 1, delay_seconds: 0}", "concurrency: {default: 3}", "stores:"]
    for name in NAMES:
        for api in APIS:
            settings = ["base_url", *SECRETS[api]] + (["token_url"] if api == "orders" else [])
            env = ", ".join(f"{s}: {variable(name, api, s)}" for s in settings)
            lines += [
                f"  - name: {name}",
                f"    api: {api}",
                f"    env: {{{env}}}",
                f"    settings: {json.dumps(QUICK)}",
            ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, fresh_database):
    """The stores, the Meltano project, the Dagster instance and the first round."""
    root = tmp_path_factory.mktemp("orchestrate")
    warehouse_db = fresh_database("stores")
    dagster_db = fresh_database("dagster")
    path = stores_file(root / "stores.yml")
    with (
        SandboxStores(NAMES, scale=0.02, anchor="2026-06-01") as sandboxes,
        pytest.MonkeyPatch.context() as env,
    ):
        project = Project(root / "project", warehouse_db)
        for name in [n for n in os.environ if n.startswith(FOREIGN)]:
            env.delenv(name)
        for name, value in {**project.env, **sandboxes.env(path)}.items():
            env.setenv(name, value)
        env.setenv(variable(REFUSED, "orders", "client_secret"), "not-the-secret")
        home = root / "dagster-home"
        home.mkdir()
        shutil.copy(REPO / "orchestrate" / "dagster.yaml", home / "dagster.yaml")
        # Dagster's storage speaks psycopg2 (SQLAlchemy 2.1 would pick psycopg 3 for postgresql:)
        env.setenv(
            "DAGSTER_POSTGRES_URL",
            dagster_db.uri().replace("postgresql:", "postgresql+psycopg2:", 1),
        )
        # what `payments_job` (the multiprocess executor's steps) builds from
        env.setenv("TAP_COMMERCE_STORES", str(path))
        env.setenv("MELTANO_PROJECT_ROOT", str(project.root))
        env.setenv("MELTANO_EXECUTABLE", str(MELTANO))
        stores = load(path)
        defs = build(stores, MeltanoProject(project_dir=str(project.root), executable=str(MELTANO)))
        sandboxes[INTERRUPTED].fail_next(2, "500", apis="payments", path=r"/v1/products$")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            world = World(root, sandboxes, project, warehouse_db, instance, defs)
            world.first = {name: served(sandboxes[name]) for name in NAMES}
            world.round()
            yield world


class World:
    def __init__(self, root, sandboxes, project, warehouse_db, instance, defs) -> None:  # noqa: PLR0917
        self.root, self.sandboxes, self.project = root, sandboxes, project
        self.warehouse, self.instance, self.defs = warehouse_db, instance, defs
        self.results: list[dict[str, dg.ExecuteInProcessResult]] = []
        self.first: dict = {}

    def round(self, *, parallel: bool = False) -> dict:
        """Each API's job in-process; with ``parallel``, payments' on the multiprocess
        executor (its ``concurrency`` of 3 stores at once)."""
        for sandbox in self.sandboxes.values():
            sandbox.reset_stats()
        results = {}
        for api in APIS:
            if parallel and api == "payments":
                with dg.execute_job(
                    dg.reconstructable(payments_job), instance=self.instance
                ) as run:
                    results[api] = Finished(run.success, run.all_events)
            else:
                job = self.defs.resolve_job_def(f"sync_{api}")
                results[api] = job.execute_in_process(instance=self.instance, raise_on_error=False)
        self.results.append(results)
        return results

    def rows(self, api: str, stream: str) -> list[dict]:
        with warehouse.connect(self.warehouse.uri()) as conn:
            return warehouse.table_rows(conn, api, stream)


class Finished:
    """What a job's run left: whether it succeeded, and its events."""

    def __init__(self, success: bool, events: list) -> None:
        self.success, self.all_events = success, events


def payments_job() -> dg.JobDefinition:
    """The payments job as a deployment loads it (`from_environment`), for the
    multiprocess executor, whose steps load it again in processes of their own."""
    return from_environment().resolve_job_def("sync_payments")


def served(sandbox) -> dict[tuple[str, str], list[dict]]:
    return {(api, stream): sandbox.records(api, stream) for api in APIS for stream in TABLES[api]}


def step_events(result: dg.ExecuteInProcessResult, kind: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for event in result.all_events:
        if event.event_type_value == kind:
            found.setdefault(event.step_key, []).append(event)
    return found


def error_messages(error) -> str:
    """The messages of an error and of its causes (a retried step's is "Exceeded
    max_retries", caused by the last attempt's)."""
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def materialized(result: dg.ExecuteInProcessResult, step: str) -> dict:
    """The metadata of the step's asset materialization."""
    (event,) = [
        e
        for e in result.all_events
        if e.step_key == step and e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def by_store(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["store"], []).append({k: v for k, v in row.items() if k != "store"})
    return grouped


def assert_loaded(
    world: World, expected: dict[str, dict], skip: tuple[tuple[str, str], ...]
) -> None:
    """Every table holds exactly each store's records, under its store value."""
    problems = []
    for api in APIS:
        for stream in TABLES[api]:
            grouped = by_store(world.rows(api, stream))
            wanted = {name for name in NAMES if (name, api) not in skip}
            assert set(grouped) == wanted, (api, stream)
            for name in wanted:
                records = expected[name][api, stream]
                problems += warehouse.compare_records(api, stream, records, grouped[name])
    assert not problems, "\n".join(problems[:20])


def test_every_store_lands_with_its_store_value_and_no_rows_mix(world):
    assert_loaded(world, world.first, skip=((REFUSED, "orders"),))
    # the stores' ids overlap: only the store column keeps their rows apart
    ids = [{r["id"] for r in world.first[name]["payments", "order_payments"]} for name in NAMES]
    assert set.intersection(*ids[:2])
    with warehouse.connect(world.warehouse.uri()) as conn:
        for api in APIS:
            for stream in TABLES[api]:
                key = warehouse.primary_key(api, stream)
                assert warehouse.primary_key_columns(conn, api, stream) == ["store", key]


def test_a_store_with_wrong_credentials_fails_alone_after_its_retry(world):
    payments, orders = (world.results[0][api] for api in APIS)
    assert payments.success
    assert not orders.success
    failed = step_events(orders, "STEP_FAILURE")
    assert set(failed) == {"orders__store_07"}
    (failure,) = failed["orders__store_07"]
    message = error_messages(failure.event_specific_data.error)
    assert "store 'store-07' (orders)" in message
    assert "refused the client credentials" in message
    assert "not-the-secret" not in message
    retries = step_events(orders, "STEP_UP_FOR_RETRY")
    assert set(retries) == {"orders__store_07"}
    done = step_events(orders, "STEP_SUCCESS")
    assert set(done) == {f"orders__{n.replace('-', '_')}" for n in NAMES if n != REFUSED}


def test_meltano_keeps_each_stores_state_in_postgres(world):
    with warehouse.connect(world.warehouse.uri()) as conn, conn.cursor() as cur:
        cur.execute("SELECT state_id, partial_state, completed_state FROM meltano.state")
        states = {
            row["state_id"]: {
                k: json.loads(v) if isinstance(v, str) and k != "state_id" else v
                for k, v in row.items()
            }
            for row in cur.fetchall()
        }
    for name in NAMES:
        for api in APIS:
            state_id = f"dev:tap-commerce-{api}-to-target-postgres:{name}"
            if (name, api) == (REFUSED, "orders"):
                assert not (states.get(state_id) or {}).get("completed_state"), state_id
                continue
            bookmarks = states[state_id]["completed_state"]["singer_state"]["bookmarks"]
            assert set(bookmarks) == set(TABLES[api]), state_id


def test_a_failed_sync_is_retried_from_the_state_it_saved(world):
    # The first attempt of store-04's payments loaded order_payments, then its products
    # failed: the retry read order_payments from the bookmark the first attempt saved (the
    # payments API has no server filter, so the tap reads every page and sends only the
    # records at or after the bookmark), and products in full.
    first = world.results[0]["payments"]
    retries = step_events(first, "STEP_UP_FOR_RETRY")
    assert set(retries) == {"payments__store_04"}
    sent = [r for r in world.sandboxes[INTERRUPTED].requests.snapshot() if r.api == "payments"]
    assert [r.status for r in sent if r.path.endswith("/v1/products")][:2] == [500, 500]
    retried = materialized(first, "payments__store_04")["records_by_stream"]
    whole = world.first[INTERRUPTED]
    assert retried["products"] == len(whole["payments", "products"])
    assert 1 <= retried["order_payments"] < len(whole["payments", "order_payments"]) / 2
    # a store that did not fail sent every record of both streams in its one attempt
    metadata = materialized(first, "payments__store_01")
    assert metadata["reruns"] == 0  # one sync at a time here: no loader raced another
    plain = metadata["records_by_stream"]
    assert plain == {
        stream: len(world.first[NAMES[0]]["payments", stream]) for stream in TABLES["payments"]
    }


def test_second_round_is_incremental_for_every_store(world):
    before = world.first
    changes = {name: world.sandboxes[name].mutate(added=2, updated=3) for name in NAMES}
    # the refused store gets its right secret back: its orders load in full now
    right = world.sandboxes[REFUSED].config("orders")["client_secret"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv(variable(REFUSED, "orders", "client_secret"), right)
        results = world.round(parallel=True)
    assert all(result.success for result in results.values())
    # the payments stores ran side by side, each in a process of its own
    starts = step_events(results["payments"], "STEP_START")
    assert len(starts) == len(NAMES)
    assert len({event.pid for events in starts.values() for event in events}) == len(NAMES)
    now = {name: served(world.sandboxes[name]) for name in NAMES}
    expected = {}
    for name in NAMES:
        old = dict(before[name])
        if name == REFUSED:
            old = {k: v for k, v in old.items() if k[0] != "orders"}
        expected[name], merged = after_incremental_run(old, now[name])
        assert merged >= 1, (name, changes[name])
    assert_loaded(world, expected, skip=())
    # each store's requests carried its own bookmark
    for name in NAMES:
        sent = world.sandboxes[name].requests.snapshot()
        orders = [r for r in sent if r.api == "orders" and r.path.endswith("/orders")]
        if name != REFUSED:
            assert orders and "1970" not in orders[0].query["filter"], name


def test_pools_keep_one_sync_per_store_and_api(world):
    pools = set(world.instance.event_log_storage.get_concurrency_keys())
    assert {f"tap-commerce/{api}/{name}" for name in NAMES for api in APIS} <= pools
    storage = world.instance.event_log_storage
    pool = f"tap-commerce/payments/{NAMES[0]}"
    assert storage.get_concurrency_info(pool).slot_count == 1
    claimed = storage.claim_concurrency_slot(pool, "run-a", "payments__store_01")
    waiting = storage.claim_concurrency_slot(pool, "run-b", "payments__store_01")
    try:
        assert claimed.is_claimed
        assert not waiting.is_claimed
    finally:
        storage.free_concurrency_slots_for_run("run-a")
        storage.free_concurrency_slots_for_run("run-b")


def test_definitions_have_an_asset_per_store_and_api_and_an_hourly_job_per_api(world):
    defs = world.defs
    keys = {asset.key for asset in defs.assets}
    assert keys == {dg.AssetKey([api, name.replace("-", "_")]) for name in NAMES for api in APIS}
    for api in APIS:
        job = defs.resolve_job_def(f"sync_{api}")
        assert job.tags[API_TAG] == api
        schedule = defs.resolve_schedule_def(f"sync_{api}_schedule")
        assert schedule.cron_schedule == "0 * * * *"
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    config = world.instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    assert config.run_queue_config.tag_concurrency_limits == [
        {"key": API_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
