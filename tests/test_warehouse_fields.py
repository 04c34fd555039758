"""New fields reach the warehouse: with ``unknown_fields: keep``, a field the API adds
becomes a column of its target-postgres table, holding the API's exact values, through
`meltano run` of the project's meltano.yml."""

from __future__ import annotations

from decimal import Decimal

from tap_commerce_sandbox import Sandbox

from tests import warehouse
from tests.meltano_project import Project

EXTRA = {
    "x_note": "a field the contract does not list",
    "x_score": Decimal("12345678.123456789012345678"),
    "x_flag": True,
    "x_meta": {"source": "drift", "tags": ["a", "b"], "n": Decimal("0.1")},
}


def test_a_new_field_arrives_as_a_column_with_the_exact_values(tmp_path, fresh_database):
    database = fresh_database("fields")
    sandbox = Sandbox(seed=51, scale=0.05, anchor="2026-06-01").start()
    try:
        sandbox.set_extra_fields(EXTRA, apis="payments")
        project = Project(tmp_path / "project", database, env=sandbox.meltano_env())
        project.run(
            "run", "tap-commerce-payments", "target-postgres",
            env={"TAP_COMMERCE_PAYMENTS_UNKNOWN_FIELDS": "keep"},
        )  # fmt: skip
        with warehouse.connect(database.uri()) as conn:
            for stream in ("order_payments", "products"):
                rows = warehouse.table_rows(conn, "payments", stream)
                assert len(rows) == sandbox.count("payments", stream)
                for row in rows:
                    assert row["x_note"] == EXTRA["x_note"]
                    assert row["x_score"] == EXTRA["x_score"]  # all 18 decimal places
                    assert row["x_flag"] is True
                    assert row["x_meta"] == EXTRA["x_meta"]
                known = {k: v for k, v in rows[0].items() if not k.startswith("x_")}
                problems = warehouse.compare_records(
                    "payments",
                    stream,
                    sandbox.records("payments", stream),
                    [{k: v for k, v in row.items() if not k.startswith("x_")} for row in rows],
                )
                assert known and not problems, problems[:5]
    finally:
        sandbox.stop()
