"""`make demo` (python -m tap_commerce.demo): a full sync, then an incremental one."""

from __future__ import annotations

import json
import sqlite3

from tap_commerce import demo
from tap_commerce.sandbox import Sandbox
from tap_commerce.settings import API_IDS

SCALE = 0.05


def table(output: str) -> dict[tuple[str, str], tuple[int, int]]:
    """The printed table: (api, stream) -> (rows this run, rows in database)."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in API_IDS and parts[2].isdigit():
            rows[parts[0], parts[1]] = (int(parts[2]), int(parts[3]))
    return rows


def test_demo_syncs_everything_then_only_what_changed(tmp_path, capsys):
    demo.main(["--dir", str(tmp_path), "--scale", str(SCALE)])
    first = capsys.readouterr().out
    assert "run 1: full sync" in first
    anchor = json.loads((tmp_path / "runs.json").read_text())["anchor"]
    expected = Sandbox(seed=1, scale=SCALE, anchor=anchor).streams()
    counts = table(first)
    assert set(counts) == {(api, s) for api in API_IDS for s in expected[api]}
    for (api, stream), (this_run, stored) in counts.items():
        assert this_run == stored == expected[api][stream], (api, stream)

    demo.main(["--dir", str(tmp_path), "--scale", str(SCALE)])
    second = capsys.readouterr().out
    assert "run 2: incremental" in second
    again = table(second)
    # storefront orders are filtered server-side by modifiedOn: 5 new + 5 edited + the
    # boundary record; full-table streams are read whole again.
    assert again["storefront", "orders"][0] < counts["storefront", "orders"][0]
    assert again["storefront", "orders"][1] == counts["storefront", "orders"][1] + 5
    assert again["storefront", "inventory"][0] == again["storefront", "inventory"][1]
    db = sqlite3.connect(tmp_path / "commerce.db")
    (stored,) = db.execute('SELECT COUNT(*) FROM "orders__orders"').fetchone()
    db.close()
    assert stored == again["orders", "orders"][1]
