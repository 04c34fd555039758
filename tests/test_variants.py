"""Definitions alone read real services as they are (contract §1.3): for every sandbox
variant (`tap_commerce_sandbox.apis.variants`), a user's definition in
``tests/definitions/`` — dlt keys, no Python, no schema file — reads every list
completely and exactly: every record once, each value as served but date-times, which
leave in UTC ISO 8601 whatever form they came in (ISO with any fraction and offset,
RFC 2822, UNIX seconds), and ``""`` in a date-time, which leaves as null.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from tap_commerce_sandbox import Sandbox

from tests.harness import run
from tests.variants import DATETIMES, DEFINITIONS, FILES, by_key, canonical, config, expected

ANCHOR = "2026-06-01"


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox(scale=0.05, anchor=ANCHOR) as sb:
        yield sb


@pytest.mark.parametrize("service", sorted(FILES))
def test_a_definition_reads_every_list_completely_and_exactly(
    sandbox: Sandbox, service: str
) -> None:
    output = run(config(sandbox, service))
    resources = DATETIMES[service.split("-like", maxsplit=1)[0] + "-like"]
    assert set(output.records) == set(resources)
    for resource, dates in resources.items():
        want = expected(sandbox, service, resource)
        assert len(want) >= 10, "too small a list to page through"
        got = output.records[resource]
        assert by_key(got) == by_key(want), resource
        schema = output.schemas(resource)[-1]["schema"]["properties"]
        declared = {name for name, prop in schema.items() if prop.get("format") == "date-time"}
        assert declared == dates, resource


#: the path of each filtered resource, below its service
PATHS = {
    ("orders-like", "orders"): "/sell/fulfillment/v1/order",
    ("storefront-like", "orders"): "/1.0/commerce/orders",
    ("payments-like", "payments"): "/v2/payments",
    ("payments-like", "products"): "/v2/products",
    ("shop-like", "products"): "/v2/products",
    ("shop-like", "orders"): "/v2/orders",
    ("digital-like", "orders"): "/v1/orders",
}


START = "2025-03-04T05:06:07.089Z"
#: (service, resource, replication key, the filter parameter, its value for START)
FILTERS = [
    (
        "orders-like",
        "orders",
        "lastModifiedDate",
        "filter",
        "lastmodifieddate:[2025-03-04T05:06:07.089Z..]",
    ),
    (
        "storefront-like",
        "orders",
        "modifiedOn",
        "modifiedAfter",
        "2025-03-04T05:06:07.089+00:00",
    ),
    ("payments-like", "payments", "updated_at", "updated_since", "2025-03-04"),
    (
        "payments-like",
        "products",
        "updated_at",
        "updated_at",
        "gt:2025-03-04T05:06:07.089+00:00",
    ),
    ("shop-like", "products", "updatedAtUtc", "from", "1741064767"),
    ("shop-like", "orders", "createdAtUtc", "from", "1741064767"),
    ("digital-like", "orders", "updated_at", "from", "2025-03-04"),
]


@pytest.mark.parametrize(("service", "resource", "key", "param", "value"), FILTERS)
def test_the_server_filter_is_written_as_the_definition_says_and_the_window_still_holds(  # noqa: PLR0917 - the parameters of one case
    sandbox: Sandbox, service: str, resource: str, key: str, param: str, value: str
) -> None:
    sandbox.reset_stats()
    output = run(config(sandbox, service, start_date=START))
    sent = [
        entry.query_items
        for entry in sandbox.requests.snapshot()
        if entry.path.endswith(PATHS[service, resource])
    ]
    assert sent, "no request for the resource"
    assert dict(sent[0])[param] == value
    start = canonical(START)
    want = [r for r in expected(sandbox, service, resource) if r[key] >= start]
    # a field null in every record read is left out of the inferred schema, and the records
    never = {k for k in want[0] if all(r.get(k) is None for r in want)} if want else set()
    want = [{k: v for k, v in r.items() if k not in never} for r in want]
    assert 0 < len(want) < len(expected(sandbox, service, resource))
    assert by_key(output.records[resource]) == by_key(want)
    assert output.final_state["bookmarks"][resource]["replication_key_value"] == max(
        r[key] for r in want
    )


def test_an_absolute_next_link_in_the_body_is_followed(sandbox: Sandbox) -> None:
    """payments-like's ``next_page`` (an absolute URL, null on the last page), read with
    dlt's ``json_link`` instead of page numbers: the same records, no page past the end.
    """
    raw = yaml.safe_load((DEFINITIONS / "payments-like.yml").read_text(encoding="utf-8"))
    payments = raw["resources"][0]["endpoint"]
    payments["paginator"] = {"type": "json_link", "next_url_path": "next_page"}
    del payments["response_actions"]
    sandbox.reset_stats()
    output = run({**config(sandbox, "payments-like"), "definition": raw})
    want = expected(sandbox, "payments-like", "payments")
    assert by_key(output.records["payments"]) == by_key(want)
    sent = [e for e in sandbox.requests.snapshot() if e.path.endswith("/v2/payments")]
    pages = -(-len(want) // 100)
    sample, *read = sent  # the first page, read once to infer the schema
    assert sample.query.get("page") is None
    assert [e.status for e in read] == [200] * pages
    assert [e.query.get("page") for e in read] == [None, *(str(n) for n in range(2, pages + 1))]
