"""End to end: `meltano run tap-commerce-<api> target-postgres` (and target-jsonl) for all
five APIs against the sandbox, into a real PostgreSQL (the session's embedded server, a
database of this module's own); and the tap piped straight into target-postgres without
Meltano.

Needs what `make test` installs: Meltano in .venv-meltano and the plugins of meltano.yml
in .meltano. The Meltano project is a copy of the repository's meltano.yml in a temporary
directory (`tests.meltano_project`), keeping its system database in the same PostgreSQL,
so state and output never touch the working tree.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tap_commerce_sandbox import Sandbox

from pipeline.meltano import PLUGINS
from tap_commerce.settings import API_IDS
from tests import warehouse
from tests.meltano_project import Project
from tests.test_discovery import TABLES

TARGET_POSTGRES = PLUGINS / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
SCALE = 0.2


@pytest.fixture(scope="module")
def postgres(fresh_database):
    return fresh_database("e2e")


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=11, scale=SCALE, anchor="2026-06-01").start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory, postgres, sandbox) -> Project:
    """A Meltano project (the repository's meltano.yml) pointed at the sandbox."""
    return Project(tmp_path_factory.mktemp("meltano-project"), postgres, env=sandbox.meltano_env())


def meltano(project: Project, *args: str) -> str:
    return project.run(*args)


Records = dict[tuple[str, str], list[dict]]


def served(sandbox: Sandbox) -> Records:
    """Every record the sandbox serves now, by (api, stream)."""
    return {
        (api, stream): sandbox.records(api, stream)
        for api in API_IDS
        for stream in sandbox.streams(api)[api]
    }


def assert_warehouse_matches(url: str, expected: Records, schema_of: dict[str, str]) -> None:
    """Each API's schema holds one table per stream, keyed by the stream's primary key,
    with exactly the expected records."""
    problems: list[str] = []
    with warehouse.connect(url) as conn:
        for api in API_IDS:
            schema = schema_of[api]
            streams = {stream for a, stream in expected if a == api}
            assert warehouse.tables(conn, schema) == streams, schema
            for stream in sorted(streams):
                key = warehouse.primary_key(api, stream)
                assert warehouse.primary_key_columns(conn, schema, stream) == [key], stream
                rows = warehouse.table_rows(conn, schema, stream)
                problems += warehouse.compare_records(api, stream, expected[api, stream], rows)
    assert not problems, "\n".join(problems[:20])


def after_incremental_run(before: Records, now: Records) -> tuple[Records, int]:
    """What an incremental run on top of ``before`` must leave: every record served now,
    except that an edit which left the replication key alone (shop's customers are keyed
    on ``created_at_utc``) is invisible to an incremental stream unless that key is at the
    bookmark (the largest value loaded before), so its row keeps the version loaded before.
    Full-table streams take every edit. Also returns how many edits must have merged."""
    expected: Records = {}
    merged = 0
    for (api, stream), records in now.items():
        _, replication_key = TABLES[api][stream]
        key = warehouse.primary_key(api, stream)
        old = {record[key]: record for record in before.get((api, stream), [])}
        bookmark = None
        if replication_key and old:
            bookmark = max(warehouse.instant(r[replication_key]) for r in old.values())
        rows = []
        for record in records:
            prev = old.get(record[key])
            if (
                prev is not None
                and bookmark is not None
                and prev[replication_key] == record[replication_key]
                and warehouse.instant(record[replication_key]) < bookmark
            ):
                rows.append(prev)
            else:
                merged += prev is not None and prev != record
                rows.append(record)
        expected[api, stream] = rows
    return expected, merged


@pytest.fixture(scope="module")
def first_load(project, sandbox) -> dict[str, str]:
    for api in API_IDS:
        meltano(project, "run", f"tap-commerce-{api}", "target-postgres")
    return {api: api for api in API_IDS}


def test_meltano_loads_every_api_into_its_own_postgres_schema(first_load, postgres, sandbox):
    assert_warehouse_matches(postgres.uri(), served(sandbox), first_load)


def test_second_meltano_run_is_incremental_and_merges_updates(
    first_load, project, postgres, sandbox
):
    before = served(sandbox)
    changes = sandbox.mutate(added=4, updated=6)
    sandbox.reset_stats()
    for api in API_IDS:
        meltano(project, "run", f"tap-commerce-{api}", "target-postgres")
    now = served(sandbox)
    grown = [s for s, change in changes["streams"].items() if change["added"]]
    assert grown, changes
    for name in grown:
        api, stream = name.split(".")
        assert len(now[api, stream]) > len(before[api, stream]), name
    # New records were added, edits merged into their rows, no key repeats.
    expected, merged = after_incremental_run(before, now)
    assert merged >= 6, changes
    assert_warehouse_matches(postgres.uri(), expected, first_load)
    # The runs resumed from Meltano's state: incremental filters carried the bookmarks.
    for api in API_IDS:
        state = json.loads(
            meltano(project, "state", "get", f"dev:tap-commerce-{api}-to-target-postgres")
        )
        bookmarks = state["singer_state"]["bookmarks"]
        assert any("replication_key_value" in b for b in bookmarks.values()), (api, state)
    sent = sandbox.requests.snapshot()
    storefront_orders = [r for r in sent if r.path.endswith("/commerce/orders")]
    assert storefront_orders and "modifiedAfter" in storefront_orders[0].query
    orders = [r for r in sent if r.api == "orders" and r.path.endswith("/orders")]
    assert orders and "1970" not in orders[0].query["filter"]


def test_meltano_runs_every_api_into_jsonl(project, sandbox):
    root = project.root
    for api in API_IDS:
        meltano(project, "run", f"tap-commerce-{api}", "target-jsonl")
        # meltano.yml writes each API into output/<load schema>/<stream>.jsonl
        folder = root / "output" / api
        streams = sandbox.streams(api)[api]
        assert {p.stem for p in folder.glob("*.jsonl")} == set(streams)
        problems = []
        for stream in streams:
            rows = warehouse.jsonl_rows(folder / f"{stream}.jsonl")
            problems += warehouse.compare_records(api, stream, sandbox.records(api, stream), rows)
        assert not problems, "\n".join(problems[:20])


def test_tap_pipes_into_target_postgres_without_meltano(tmp_path, postgres, sandbox):
    assert TARGET_POSTGRES.exists(), "run `make test`, which installs the plugins of meltano.yml"
    for api in API_IDS:
        tap_config = tmp_path / f"{api}.json"
        tap_config.write_text(json.dumps(sandbox.config(api)))
        target_config = tmp_path / f"target-{api}.json"
        target_config.write_text(
            json.dumps(
                {
                    "sqlalchemy_url": postgres.sqlalchemy_url(),
                    "default_target_schema": f"piped_{api}",
                    "load_method": "upsert",
                }
            )
        )
        tap_log = tmp_path / f"{api}.log"
        with tap_log.open("wb") as log:
            tap = subprocess.Popen(
                [sys.executable, "-m", "tap_commerce", "--config", str(tap_config)],
                stdout=subprocess.PIPE,
                stderr=log,
            )
            target = subprocess.run(
                [str(TARGET_POSTGRES), "--config", str(target_config)],
                stdin=tap.stdout,
                capture_output=True,
                timeout=600,
                check=False,
            )
            tap.stdout.close()
            tap_exit = tap.wait(timeout=60)
        assert tap_exit == 0, tap_log.read_text()[-2000:]
        assert target.returncode == 0, target.stderr.decode()[-2000:]
        # The target echoes the tap's last STATE on stdout.
        state = json.loads(target.stdout.decode().strip().splitlines()[-1])
        assert state["bookmarks"], state
    assert_warehouse_matches(
        postgres.uri(), served(sandbox), {api: f"piped_{api}" for api in API_IDS}
    )
