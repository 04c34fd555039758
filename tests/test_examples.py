"""The example definitions in ``examples/definitions/``: the five APIs' source configs
written as YAML. Each one, given as a user's ``definition`` against the sandbox, yields
exactly the records of its built-in API, stream by stream; each passes dlt 1.31's own
validation once its ``x-`` keys are taken out; and each takes its credentials from
settings, never from a literal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tap_commerce_sandbox import Sandbox

from tap_commerce import loader
from tap_commerce.settings import DEFAULT_SCHEMA_SAMPLE_SIZE
from tests.harness import REPO, Output, run
from tests.test_definitions import dlt_accepts, dlt_view

EXAMPLES = REPO / "examples" / "definitions"
APIS = ("storefront", "payments", "shop", "digital", "orders")
ANCHOR = "2026-06-01"

# Small sandboxes, each large enough that its longest lists take several pages.
SEED = 3
SCALES = {
    "storefront": 0.05,  # pages of 50: 75 orders and transactions
    "payments": 0.05,  # pages of 100: 150 order payments
    "shop": 0.05,  # pages of 20: 150 events
    "digital": 0.05,  # pages of 50: 125 orders
    "orders": 0.1,  # pages of 200: 300 orders
}

# The only x- keys the examples use; every other key is dlt's.
EXTENSION_KEYS = {
    "storefront": set(),
    "payments": set(),
    # the parent's id copied into each child record under the source's name for it,
    # prd_id (dlt's include_from_parent would call it _products_id)
    "shop": {"x-include_from_parent"},
    "digital": set(),
    # the token endpoint takes the client id and secret only in an HTTP Basic header
    "orders": {"x-client_auth"},
}


def example(api: str) -> Path:
    return EXAMPLES / f"{api}.yml"


def raw_example(api: str) -> dict[str, Any]:
    return yaml.safe_load(example(api).read_text(encoding="utf-8"))


def extension_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {k for k in value if str(k).startswith("x-")}
        return found.union(*(extension_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(extension_keys(v) for v in value))
    return set()


def null_only_fields(sandbox: Sandbox, api: str) -> dict[str, list[str]]:
    """Per stream, the top-level fields that are null in every record of the schema sample
    (the first `DEFAULT_SCHEMA_SAMPLE_SIZE` served)."""
    found = {}
    for stream in loader.builtin(api).stream_names:
        sample = sandbox.records(api, stream)[:DEFAULT_SCHEMA_SAMPLE_SIZE]
        fields = {f for record in sample for f in record}
        nulls = sorted(f for f in fields if all(r.get(f) is None for r in sample))
        if nulls:
            found[stream] = nulls
    return found


def records_by_key(output: Output) -> dict[str, list[dict[str, Any]]]:
    """Each stream's records, sorted by the stream's key."""
    keys = key_properties(output)
    return {
        stream: sorted(records, key=lambda r, k=keys[stream]: [str(r[f]) for f in k])
        for stream, records in output.records.items()
    }


def key_properties(output: Output) -> dict[str, list[str]]:
    return {m["stream"]: m["key_properties"] for m in output.messages if m["type"] == "SCHEMA"}


def test_there_is_one_example_per_built_in_api():
    assert sorted(p.name for p in EXAMPLES.iterdir()) == sorted(f"{api}.yml" for api in APIS)
    assert set(APIS) == set(loader.BUILTINS)


@pytest.mark.parametrize("api", APIS)
def test_an_example_gives_the_records_of_its_built_in(api, monkeypatch):
    monkeypatch.chdir(REPO)  # the definition's path as each file's header gives it
    with Sandbox(seed=SEED, scale=SCALES[api], anchor=ANCHOR) as sandbox:
        # The examples give no schema files, so their schemas are inferred from a sample. A
        # field that is null in every sampled record is left out of an inferred schema,
        # and so of the records, until its first value (docs/definitions.md, "Schemas");
        # the built-in's schema file keeps it, as null, in every record. The sandboxes
        # here hold none (with seed 1, shop's products have no sale_price below scale
        # 0.1; with seed 3, digital's have no self_hosted_url at 0.02).
        assert null_only_fields(sandbox, api) == {}
        config = sandbox.config(api)
        builtin = run(config)
        user_config = {k: v for k, v in config.items() if k != "api"}
        user = run({**user_config, "definition": f"examples/definitions/{api}.yml"})
    # Every source config lists exactly its built-in's streams: none is missing or added.
    assert loader.load(example(api)).stream_names == loader.builtin(api).stream_names
    assert set(user.records) == set(builtin.records) == set(loader.builtin(api).stream_names)
    assert key_properties(user) == key_properties(builtin)
    # The records of the RECORD messages (their time_extracted is the run's own).
    expected, produced = records_by_key(builtin), records_by_key(user)
    for stream, records in expected.items():
        assert records, f"{api}.{stream}: the sandbox served no records to compare"
        assert len(produced[stream]) == len(records), stream
        for want, got in zip(records, produced[stream], strict=True):
            assert got == want, f"{api}.{stream}: the example's record differs"


@pytest.mark.parametrize("api", APIS)
def test_an_example_says_how_to_run_it(api):
    header = example(api).read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert f'"definition": "examples/definitions/{api}.yml"' in header
    assert "tap-commerce --config config.json" in header


@pytest.mark.parametrize("api", APIS)
def test_an_example_passes_dlts_own_validation(api):
    raw = raw_example(api)
    assert extension_keys(raw) == EXTENSION_KEYS[api]
    assert set(dlt_accepts(dlt_view(raw))) == set(loader.load(example(api)).stream_names)


@pytest.mark.parametrize("api", APIS)
def test_an_example_takes_its_credentials_from_settings(api):
    definition = loader.load(example(api))
    auths = definition.auths()
    assert auths
    for auth in auths:
        for key, value in auth.values.items():
            assert re.fullmatch(r"\{settings\.\w+\}", value.source), f"{auth.where}.{key}"
    # and the file's own base_url is a neutral https URL the base_url setting replaces
    assert re.fullmatch(r"https://[\w.-]+(/[\w./-]*)?", definition.base_url.source)
