"""``make dagster``: many stores on Dagster, locally, against the sandbox.

It starts a sandbox server per store of the stores file (default
``orchestrate/stores.example.yml``; each store its own data, credentials and rate limits),
the PostgreSQL of ``make demo`` (the embedded server in ``demo/postgres``, or the one the
environment names), and then ``dagster dev`` on the definitions of `orchestrate` with:

- the stores' variables (base URL and credentials) set from the sandboxes;
- the warehouse database ``warehouse`` for target-postgres, Meltano's state in its schema
  ``meltano``, and Dagster's runs, events and schedules in the database ``dagster``;
- ``DAGSTER_HOME`` in ``demo/dagster``, with ``orchestrate/dagster.yaml``;
- Meltano's system database upgraded once first (``meltano upgrade database``).

The web UI is at http://127.0.0.1:3000; each API's job syncs its stores every hour, or at
once from the UI (Jobs → sync_shop → Materialize all). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tap_commerce_sandbox import Stores as SandboxStores

from orchestrate.stores import StoresError, load
from pipeline.meltano import MELTANO, REPO, MeltanoError, installed, meltano, run_environment
from pipeline.postgres import EmbeddedServer, named_server

EXAMPLE = REPO / "orchestrate" / "stores.example.yml"
DAGSTER_DATABASE = "dagster"


def main(argv: list[str] | None = None) -> int:
    """Run ``dagster dev`` on the sandbox (see the module docstring); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=str(EXAMPLE), help="the stores file")
    parser.add_argument("--dir", default="demo", help="where PostgreSQL and Dagster keep data")
    parser.add_argument("--port", type=int, default=3000, help="the web UI's port")
    parser.add_argument("--scale", type=float, default=0.2, help="each store's data volume")
    parser.add_argument(
        "--rate-limits", action="store_true", help="each store's sandbox enforces its API's limit"
    )
    args = parser.parse_args(argv)
    try:
        installed()
        stores = load(args.stores)
    except (MeltanoError, StoresError) as exc:
        print(f"dagster: {exc}", file=sys.stderr)
        return 1
    workdir = Path(args.dir).resolve()
    home = workdir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "orchestrate" / "dagster.yaml", home / "dagster.yaml")
    warehouse = named_server()
    if warehouse is None:
        server = EmbeddedServer(workdir / "postgres", keep_running=True).server
        warehouse = server.with_database("warehouse").ensure_database()
    dagster_db = warehouse.with_database(DAGSTER_DATABASE).ensure_database()
    sandboxes = SandboxStores.from_file(
        args.stores, scale=args.scale, rate_limits=args.rate_limits
    ).start()
    try:
        env = run_environment(warehouse, extra=sandboxes.env(args.stores))
        env.update(
            DAGSTER_HOME=str(home),
            # Dagster's storage speaks psycopg2 (SQLAlchemy 2.1 picks psycopg 3 otherwise)
            DAGSTER_POSTGRES_URL=dagster_db.uri().replace("postgresql:", "postgresql+psycopg2:"),
            TAP_COMMERCE_STORES=str(Path(args.stores).resolve()),
            MELTANO_PROJECT_ROOT=str(REPO),
            MELTANO_EXECUTABLE=str(MELTANO),
        )
        # Meltano's tables, made once: syncs that start together on a new system
        # database would race to make them
        meltano("upgrade", "database", env=env)
        for name, url in sandboxes.urls().items():
            print(f"  store {name:<12} sandbox {url}")
        print(
            f"  {len(stores.stores)} syncs of {', '.join(stores.apis)}; PostgreSQL {warehouse.redacted()}"
        )
        print(f"  Dagster UI  http://127.0.0.1:{args.port}  (Ctrl-C stops)")
        dagster = Path(sys.executable).parent / "dagster"
        command = [str(dagster), "dev", "-m", "orchestrate.definitions", "-p", str(args.port)]
        try:
            return subprocess.call(command, env=env, cwd=REPO)  # noqa: S603 - the argv is built here
        except KeyboardInterrupt:
            return 0
    finally:
        sandboxes.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
