"""Definitions alone read real services as they are (contract §1.3): for every sandbox
variant (`tap_commerce.sandbox.apis.variants`), a user's definition in
``tests/definitions/`` — dlt keys, no Python, no schema file — reads every list
completely and exactly: every record once, each value as served but date-times, which
leave in UTC ISO 8601 whatever form they came in (ISO with any fraction and offset,
RFC 2822, UNIX seconds), and ``""`` in a date-time, which leaves as null.
"""

from __future__ import annotations

from typing import Any

import pytest

from tap_commerce.sandbox import Sandbox
from tests.harness import run
from tests.variants import DATETIMES, FILES, by_key, config, expected

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
