"""`make demo` (python -m pipeline.demo): the real pipeline, `meltano run
tap-commerce-<api> target-postgres` for all five APIs, into the embedded PostgreSQL; a full
load, then an incremental one; or into a server the environment names."""

from __future__ import annotations

import json
import subprocess
import sys

from tap_commerce_sandbox import Sandbox

from pipeline.postgres import EmbeddedServer, Server, running_embedded, stop_embedded
from tap_commerce.settings import API_IDS
from tests import warehouse
from tests.harness import REPO
from tests.meltano_project import clean_environment

SCALE = 0.05


def run_demo(workdir, env: dict | None = None) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.demo",
            "--dir",
            str(workdir),
            "--scale",
            str(SCALE),
            "--stop",
        ],
        cwd=REPO,
        env={**clean_environment(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def table(output: str) -> dict[str, tuple[int, ...]]:
    """The printed table: "schema.table" -> (rows, live, inserted, updated, deleted)."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 6 and "." in parts[0] and parts[1].isdigit():
            rows[parts[0]] = tuple(int(p) for p in parts[1:])
    return rows


def counts_in(server: Server) -> dict[str, int]:
    with warehouse.connect(server.uri()) as conn, conn.cursor() as cur:
        found = {}
        for api in API_IDS:
            for stream in warehouse.tables(conn, api):
                cur.execute(f'SELECT count(*) AS n FROM "{api}"."{stream}"')  # noqa: S608
                found[f"{api}.{stream}"] = cur.fetchone()["n"]
        return found


def test_demo_loads_everything_through_meltano_then_only_what_changed(tmp_path):
    first = run_demo(tmp_path)
    assert "run 1 (full load)" in first
    for api in API_IDS:
        assert f"meltano run tap-commerce-{api} target-postgres" in first
    anchor = json.loads((tmp_path / "runs.json").read_text())["anchor"]
    expected = Sandbox(seed=1, scale=SCALE, anchor=anchor).streams()
    loaded = table(first)
    assert loaded == {
        f"{api}.{stream}": (count, count, count, 0, 0)
        for api, streams in expected.items()
        for stream, count in streams.items()
    }
    assert "Revenue per day" in first and "captured USD" in first
    assert "postgresql://postgres@/warehouse?host=" in first
    # Meltano's run files are the demo's own: two demos at once never share a catalog
    for api in API_IDS:
        catalog = tmp_path / ".meltano" / "run" / f"tap-commerce-{api}" / "tap.properties.json"
        assert json.loads(catalog.read_text())["streams"]

    second = run_demo(tmp_path)
    assert "run 2 (incremental, from Meltano's state)" in second
    again = table(second)
    # The store moved on by 5 new, 5 edited and 2 deleted records per stream. storefront's
    # orders are keyed on their modification time, so new and edited ones reach the
    # warehouse; an incremental read retires nothing. A full-table stream is a complete
    # read: its deleted rows are marked.
    orders = loaded["storefront.orders"][0]
    assert again["storefront.orders"] == (orders + 5, orders + 5, 5, 5, 0)
    inventory = loaded["storefront.inventory"][0]
    assert again["storefront.inventory"] == (inventory + 5, inventory + 3, 5, 5, 2)
    assert again["shop.countries"] == (loaded["shop.countries"][0],) * 2 + (0, 0, 0)
    assert "marked deleted (_sdc_deleted_at)" in second
    # The demo's numbers are PostgreSQL's.
    assert running_embedded(tmp_path / "postgres") is None  # --stop stopped it
    embedded = EmbeddedServer(tmp_path / "postgres", keep_running=True)
    try:
        assert counts_in(embedded.server.with_database("warehouse")) == {
            name: rows for name, (rows, *_) in again.items()
        }
        # what `make psql` and `make demo-stop` find
        assert running_embedded(tmp_path / "postgres") == embedded.server
    finally:
        assert stop_embedded(tmp_path / "postgres")
    assert running_embedded(tmp_path / "postgres") is None


def test_demo_loads_into_the_server_the_environment_names(tmp_path, fresh_database):
    database = fresh_database("demo")
    output = run_demo(tmp_path, {"WAREHOUSE_URI": database.uri()})
    assert "(embedded)" not in output
    assert not (tmp_path / "postgres").exists()
    loaded = table(output)
    assert loaded and counts_in(database) == {name: rows for name, (rows, *_) in loaded.items()}
    assert (tmp_path / "runs.json").exists()
