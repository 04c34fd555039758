"""``make demo``: the pipeline users run, against the bundled sandbox.

It starts the sandbox (a local emulator of the five APIs) and a PostgreSQL server (the
embedded one, data directory ``demo/postgres``, or a server the environment names: see
`pipeline.postgres`), then runs ``meltano run tap-commerce-<api> target-postgres`` for all
five APIs with the project's own ``meltano.yml``. Meltano keeps its state in the same
PostgreSQL (schema ``meltano``), and its run files (catalogs, logs) in ``demo/.meltano``.
Then it reads back by SQL what PostgreSQL holds, what changed, and revenue per day, and
leaves the server running for a look with ``psql``.

Run it again: the sandbox's store has changed since (new, edited and deleted records; its history
is kept in ``demo/runs.json``, so the store is the same one, moved on), and every run is
incremental from Meltano's state. Nothing here writes a row: target-postgres does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from psycopg import sql
from tap_commerce_sandbox import Sandbox

from pipeline.meltano import (
    API_IDS,
    MeltanoError,
    installed,
    meltano,
    run_environment,
    system_dir,
)
from pipeline.postgres import EmbeddedServer, Server, named_server, psql_path

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

WAREHOUSE_DATABASE = "warehouse"
SEED = 1

REVENUE_PER_DAY = """\
WITH shop AS (
  SELECT created_at_utc::date AS day, count(*) AS orders, sum(total) AS revenue
  FROM shop.orders WHERE _sdc_deleted_at IS NULL GROUP BY 1),
payments AS (
  SELECT paid_at::date AS day, count(*) AS payments, sum(amount) AS captured
  FROM payments.order_payments
  WHERE is_captured AND currency = 'USD' AND _sdc_deleted_at IS NULL GROUP BY 1)
SELECT day, shop.orders, shop.revenue, payments.payments, payments.captured AS captured_usd
FROM shop FULL JOIN payments USING (day)
ORDER BY day DESC LIMIT 7"""


class Change(TypedDict):
    """How much a run changes the sandbox's store (`Sandbox.mutate`'s arguments)."""

    added: int
    updated: int
    deleted: int


#: each run after the first changes the sandbox's store by this much, in every stream
CHANGE: Change = {"added": 5, "updated": 5, "deleted": 2}

Snapshot = dict[str, dict[str, tuple[str, bool]]]


def snapshot(server: Server, schemas: Iterable[str]) -> Snapshot:
    """``{"schema.table": {key: (digest of the row's data columns, deleted)}}`` for every
    table of ``schemas``; the digest leaves out target metadata (``_sdc_*``), so it changes
    exactly when the record does, and ``deleted`` is whether target-postgres marked the row
    deleted at the source (``_sdc_deleted_at``).
    """
    found: Snapshot = {}
    with server.connect() as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (list(schemas),),
        ).fetchall()
        for schema, table in tables:
            qualified = sql.Identifier(schema, table)
            keys = [
                row[0]
                for row in conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                    "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
                    (qualified.as_string(conn),),
                )
            ]
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s AND column_name NOT LIKE '\\_sdc\\_%%' "
                    "ORDER BY ordinal_position",
                    (schema, table),
                )
            ]
            marked = conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s AND column_name = '_sdc_deleted_at'",
                (schema, table),
            ).fetchone()
            query = sql.SQL(
                "SELECT ROW({keys})::text, md5(ROW({columns})::text), {deleted} FROM {table}"
            ).format(
                keys=sql.SQL(", ").join(map(sql.Identifier, keys or columns)),
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                deleted=sql.SQL("_sdc_deleted_at IS NOT NULL" if marked else "false"),
                table=qualified,
            )
            found[f"{schema}.{table}"] = {
                key: (digest, deleted) for key, digest, deleted in conn.execute(query)
            }
    return found


def changes(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int, int, int, int]]:
    """``{"schema.table": (rows, of them live, inserted, updated, deleted)}`` between two
    snapshots: deleted counts the rows newly marked deleted.
    """
    result = {}
    for table, rows in after.items():
        old = before.get(table, {})
        inserted = sum(1 for key in rows if key not in old)
        updated = sum(
            1 for key, (digest, _) in rows.items() if key in old and old[key][0] != digest
        )
        deleted = sum(
            1 for key, (_, gone) in rows.items() if gone and not (key in old and old[key][1])
        )
        live = sum(1 for _, gone in rows.values() if not gone)
        result[table] = (len(rows), live, inserted, updated, deleted)
    return result


def revenue_per_day(server: Server) -> list[tuple[Any, ...]]:
    """The rows of `REVENUE_PER_DAY`."""
    with server.connect() as conn:
        return conn.execute(REVENUE_PER_DAY).fetchall()


class History:
    """The demo sandbox's history (``runs.json``): the anchor day of its data and the
    moment of every change made to its store, replayed on each run so that run N sees the
    store as run N−1 left it, moved on by one change.
    """

    def __init__(self, path: Path) -> None:
        """The history kept in ``path`` (none yet if it does not exist)."""
        self.path = path
        data = json.loads(path.read_text()) if path.exists() else {}
        self.anchor: str = data.get("anchor") or datetime.now(timezone.utc).date().isoformat()
        self.changes: list[int] = data.get("changes", [])
        self.runs: int = data.get("runs", 0)

    def sandbox(self, scale: float) -> Sandbox:
        """The sandbox with every earlier change replayed and, after the first run, one
        more change made now.
        """
        replaying: list[int] = []

        def clock() -> float:
            return replaying[0] / 1000 if replaying else time.time()

        sandbox = Sandbox(seed=SEED, scale=scale, anchor=self.anchor, clock=clock)
        for moment in self.changes:
            replaying[:] = [moment]
            sandbox.mutate(**CHANGE)
        replaying.clear()
        if self.runs:
            self.changes.append(sandbox.mutate(**CHANGE)["now_ms"])
        return sandbox

    def save(self) -> None:
        """Count this run and write the history back."""
        self.runs += 1
        data = {"anchor": self.anchor, "changes": self.changes, "runs": self.runs}
        self.path.write_text(json.dumps(data) + "\n")


def _print_table(rows: Sequence[tuple[object, ...]], headers: tuple[str, ...]) -> None:
    cells = [headers, *[tuple("" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        left = row[0].ljust(widths[0])
        print(
            "  "
            + "  ".join([left, *(v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=False))])
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    """Run the demo (see the module docstring); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", default="demo", help="where the server's data, history and logs live"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="sandbox data volume")
    parser.add_argument("--stop", action="store_true", help="stop the embedded server at the end")
    args = parser.parse_args(argv)
    workdir = Path(args.dir).resolve()
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        installed()
    except MeltanoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1

    named = named_server()
    embedded = None
    if named is None:
        embedded = EmbeddedServer(workdir / "postgres", keep_running=not args.stop)
        warehouse = embedded.server.with_database(WAREHOUSE_DATABASE).ensure_database()
    else:
        warehouse = named
    history = History(workdir / "runs.json")
    sandbox = history.sandbox(args.scale).start()
    try:
        kind = "incremental, from Meltano's state" if history.runs else "full load"
        print(f"tap-commerce demo, run {history.runs + 1} ({kind})")
        print(f"  sandbox     {sandbox.url}")
        print(f"  PostgreSQL  {warehouse.redacted()}" + ("  (embedded)" if embedded else ""))
        print()
        env = run_environment(warehouse, extra=sandbox.meltano_env())
        # the run files of this demo's own (another demo may run at the same time)
        env["MELTANO_SYS_DIR_ROOT"] = str(system_dir(workdir / ".meltano"))
        before = snapshot(warehouse, API_IDS)
        started = time.monotonic()
        for api in API_IDS:
            command = ("run", f"tap-commerce-{api}", "target-postgres")
            began = time.monotonic()
            try:
                result = meltano(*command, env=env)
            except MeltanoError as exc:
                (logs / f"{api}.log").write_text(exc.output)
                print(f"demo: {exc} (log: {logs / f'{api}.log'})", file=sys.stderr)
                return 1
            (logs / f"{api}.log").write_text(result.stdout + result.stderr)
            print(f"  meltano {' '.join(command):<44} {time.monotonic() - began:5.1f} s")
        elapsed = time.monotonic() - started
    finally:
        sandbox.stop()
    history.save()

    after = snapshot(warehouse, API_IDS)
    counted = changes(before, after)
    print(f"\nWhat PostgreSQL holds now ({len(counted)} tables, read back by SQL):")
    rows = [(table, *numbers) for table, numbers in counted.items()]
    totals = tuple(sum(numbers[i] for numbers in counted.values()) for i in range(5))
    _print_table(
        [*rows, ("total", *totals)],
        ("schema.table", "rows", "live", "inserted", "updated", "deleted"),
    )
    print(
        f"\n{totals[2]} rows inserted, {totals[3]} updated and {totals[4]} marked deleted "
        f"(_sdc_deleted_at) in {elapsed:.1f} s of `meltano run`."
    )

    print("\nRevenue per day, the last 7 days with sales:")
    print("  " + REVENUE_PER_DAY.replace("\n", "\n  "))
    print()
    _print_table(
        revenue_per_day(warehouse),
        ("day", "shop orders", "shop revenue", "payments", "captured USD"),
    )

    print("\nLook further:")
    if embedded:
        print("  make psql")
        print(f"  {psql_path()} '{warehouse.uri()}'")
        if args.stop:
            embedded.stop()
        else:
            print("The server keeps running; `make demo-stop` stops it (the data stays in demo/).")
    else:
        print(f"  psql '{warehouse.redacted()}'")
    print("Run `make demo` again: the sandbox's store moves on and the load is incremental.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
