"""A run cut short and restarted from the last STATE it emitted loses no record."""

from __future__ import annotations

from tests.fakeapi import json_response, offset_handler
from tests.harness import run, run_until_failure


def rows(n: int, day: int) -> list[dict]:
    return [{"id": i, "updated_at": f"2024-03-{day:02d}T00:00:{i:02d}Z"} for i in range(1, n + 1)]


def test_restart_from_the_last_state_of_a_failed_run_loses_nothing(server, base_url) -> None:
    config = {
        "api": "payments",
        "base_url": base_url,
        "api_key": "fake-key",
        "page_size": 2,
        "max_retries": 0,
    }
    payments, products = rows(5, 1), rows(7, 2)
    healthy = offset_handler(products)
    broken = {"on": False}

    def products_handler(request):
        if broken["on"] and request.args.get("offset") == "4":
            return json_response({"message": "boom"}, 400)
        return healthy(request)

    server.expect_request("/v1/order_payments").respond_with_handler(offset_handler(payments))
    server.expect_request("/v1/products").respond_with_handler(products_handler)
    first = run(config)

    for row in payments + products:  # everything changes, then the API fails mid-list
        row["updated_at"] = row["updated_at"].replace("2024-03-0", "2024-04-0")
    broken["on"] = True
    cut, error = run_until_failure(config, state=first.final_state)
    assert error is not None
    emitted = {(m["stream"], m["record"]["id"]) for m in cut.messages if m["type"] == "RECORD"}
    assert ("products", 7) not in emitted

    broken["on"] = False
    resumed = run(config, state=cut.final_state)
    got = emitted | {
        (stream, r["id"]) for stream, records in resumed.records.items() for r in records
    }
    expected = {("order_payments", r["id"]) for r in payments} | {
        ("products", r["id"]) for r in products
    }
    assert expected <= got
    # the interrupted stream's bookmark never ran ahead of what was emitted
    assert (
        resumed.final_state["bookmarks"]["products"]["replication_key_value"]
        == "2024-04-02T00:00:07+00:00"
    )
