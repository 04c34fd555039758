"""``make demo``: a real sync of all five APIs, against the bundled sandbox, into SQLite.

Each run starts the sandbox (deterministic data: same seed and anchor day as the first
run), runs the real ``tap-commerce`` command once per API with the state the previous run
left, and upserts the records into ``demo/commerce.db`` (one table per API and stream,
keyed by the primary key). The first run is a full sync; later runs first change the
sandbox's store (new and updated records) and then sync incrementally from the saved
state, so only what changed travels.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import simplejson

from tap_commerce.sandbox import Sandbox
from tap_commerce.settings import API_IDS


def load_api(api: str, config: dict, workdir: Path, db: sqlite3.Connection) -> dict[str, int]:
    """Run the tap for one API, upsert its records, save its final state; rows per stream."""
    config_path = workdir / f"{api}.config.json"
    state_path = workdir / f"{api}.state.json"
    config_path.write_text(json.dumps(config))
    argv = [sys.executable, "-m", "tap_commerce", "--config", str(config_path)]
    if state_path.exists():
        argv += ["--state", str(state_path)]
    counts: dict[str, int] = {}
    keys: dict[str, list[str]] = {}
    state = None
    log = (workdir / f"{api}.log").open("w")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True) as proc:  # noqa: S603
        assert proc.stdout is not None  # noqa: S101
        for line in proc.stdout:
            message = simplejson.loads(line, use_decimal=True)
            kind = message["type"]
            if kind == "SCHEMA":
                table = f"{api}__{message['stream']}"
                keys[message["stream"]] = message["key_properties"]
                db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (key TEXT PRIMARY KEY, record TEXT)')
                counts.setdefault(message["stream"], 0)
            elif kind == "RECORD":
                stream, record = message["stream"], message["record"]
                key = json.dumps([record[k] for k in keys[stream]])
                db.execute(
                    f'INSERT INTO "{api}__{stream}" (key, record) VALUES (?, ?) '
                    "ON CONFLICT(key) DO UPDATE SET record = excluded.record",
                    (key, simplejson.dumps(record, use_decimal=True)),
                )
                counts[stream] += 1
            elif kind == "STATE":
                state = message["value"]
    log.close()
    if proc.returncode != 0:
        tail = (workdir / f"{api}.log").read_text().strip().splitlines()[-1:]
        msg = f"tap-commerce failed for api '{api}': {' '.join(tail)} (log: {workdir / f'{api}.log'})"
        raise SystemExit(msg)
    db.commit()
    if state is not None:
        state_path.write_text(json.dumps(state))
    return counts


def main(argv: list[str] | None = None) -> None:
    """Run the demo; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="demo", help="where the database and states live")
    parser.add_argument("--scale", type=float, default=1.0, help="sandbox data volume")
    args = parser.parse_args(argv)
    workdir = Path(args.dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    runs_path = workdir / "runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else {
        "runs": 0,
        "anchor": datetime.now(timezone.utc).date().isoformat(),
    }

    sandbox = Sandbox(seed=1, scale=args.scale, anchor=runs["anchor"]).start()
    try:
        if runs["runs"]:
            sandbox.mutate(added=5, updated=5)
            mode = f"run {runs['runs'] + 1}: incremental from the states in {workdir}"
        else:
            mode = "run 1: full sync"
        print(f"tap-commerce demo, {mode} (sandbox at {sandbox.url})\n")  # noqa: T201
        print(f"{'api':<11} {'stream':<20} {'rows this run':>13} {'rows in database':>17}")  # noqa: T201
        db = sqlite3.connect(workdir / "commerce.db")
        started = time.monotonic()
        total = 0
        for api in API_IDS:
            # the sandbox runs without rate limits, so the demo need not pace itself
            config = {**sandbox.config(api), "requests_per_second": 0}
            for stream, count in sorted(load_api(api, config, workdir, db).items()):
                (stored,) = db.execute(f'SELECT COUNT(*) FROM "{api}__{stream}"').fetchone()
                print(f"{api:<11} {stream:<20} {count:>13} {stored:>17}")  # noqa: T201
                total += count
        db.close()
    finally:
        sandbox.stop()
    runs["runs"] += 1
    runs_path.write_text(json.dumps(runs))
    elapsed = time.monotonic() - started
    print(f"\n{total} records in {elapsed:.1f} s into {workdir / 'commerce.db'} (SQLite: one table per api__stream).")  # noqa: T201
    print("Run `make demo` again for an incremental sync of what changed.")  # noqa: T201


if __name__ == "__main__":
    main()
