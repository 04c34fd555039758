"""The ``store`` setting: many stores of one API in one table per stream.

Contract: "`store` | all | optional store name; when set, every record carries it in a
`store` field, declared in every schema and first in every stream's key, so many stores of
one API share one table per stream".

Pinned here, against the sandbox and small user definitions served by pytest-httpserver:
a sync of each of the five APIs with a store differs from one without only by the field
(every record carries it; every SCHEMA declares it first, a required string; every key
starts with it); without a store nothing has it; ``--discover`` and a catalog discovered
without the store; an ``append`` stream keeps its empty key; the refusals, each one line
(``emit_activate_version_messages`` with a store, bad names, a definition's own ``store``
field, an API record's own ``store`` field); and two stores whose ids overlap, piped into
target-postgres, landing as separate rows keyed ``(store, id)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tap_commerce_sandbox import Sandbox

from tap_commerce.errors import BadResponseError
from tap_commerce.settings import API_IDS
from tap_commerce.tap import TapCommerce
from tests import golden, warehouse
from tests.harness import FAST, Output, run, run_cli, run_until_failure
from tests.test_e2e_postgres import TARGET_POSTGRES

ANCHOR = "2026-06-01"
SCALE = 0.02
STORE = "north"
STRING = {"type": "string"}
FAKE_SHOP = {"api": "shop", "api_key": "fake-shop-key-0001", "api_secret": "fake-shop-secret-0001"}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(seed=3, scale=SCALE, anchor=ANCHOR) as sb:
        yield sb


@pytest.fixture(scope="module")
def runs(sandbox) -> dict[str, tuple[Output, Output]]:
    """Each API synced twice from the same (read-only) sandbox: without, then with a store."""
    return {
        api: (run(sandbox.config(api)), run({**sandbox.config(api), "store": STORE}))
        for api in API_IDS
    }


def schemas(out: Output) -> list[dict]:
    return [m for m in out.messages if m["type"] == "SCHEMA"]


def discover(config: dict) -> dict:
    """The catalog ``--discover`` writes, in-process, as JSON (enums as their values)."""
    return json.loads(json.dumps(TapCommerce(config={**FAST, **config}).catalog_dict))


def without_store(message: dict) -> dict:
    """``message`` (scrubbed of the run's moment) with the store's traces taken out: the
    ``store`` field of a RECORD; the property, its ``required`` entry and its key entry of
    a SCHEMA."""
    message = golden._scrub(message)  # golden's own scrubbing: time_extracted, version
    if message["type"] == "RECORD":
        record = {k: v for k, v in message["record"].items() if k != "store"}
        return {**message, "record": record}
    if message["type"] == "SCHEMA":
        schema = dict(message["schema"])
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "store"}
        required = [k for k in schema.get("required", []) if k != "store"]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        keys = [k for k in message["key_properties"] if k != "store"]
        return {**message, "schema": schema, "key_properties": keys}
    return message


def assert_declares_store(schema: dict, where: str) -> None:
    assert next(iter(schema["properties"])) == "store", where
    assert schema["properties"]["store"] == STRING, where
    assert "store" in schema["required"], where


def error_lines(out: Output) -> list[str]:
    return [line for line in out.stderr.splitlines() if "ERROR" in line]


def the_error_line(out: Output) -> str:
    """A config refusal: a non-zero exit, one ERROR line and no traceback; that line."""
    assert out.returncode != 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    (line,) = error_lines(out)
    assert out.stderr.strip().splitlines()[-1] == line
    assert out.messages == []
    return line


# -- 1, 2. every API, with and without a store --------------------------------------------


@pytest.mark.parametrize("api", API_IDS)
def test_every_record_schema_and_key_carries_the_store(api, runs):
    plain, stored = runs[api]
    assert stored.records, api
    assert set(stored.records) == set(plain.records)
    for stream, records in stored.records.items():
        assert all(record["store"] == STORE for record in records), stream
    sent = schemas(stored)
    assert {m["stream"] for m in sent} >= set(stored.records)
    for message in sent:
        where = f"{api}.{message['stream']}"
        assert_declares_store(message["schema"], where)
        keys = message["key_properties"]
        assert keys[0] == "store" and len(keys) >= 2, where  # every built-in stream is keyed
        assert "store" not in keys[1:], where


@pytest.mark.parametrize("api", API_IDS)
def test_a_store_changes_nothing_but_the_store_field(api, runs):
    """Message by message: the same records, schemas, keys and states once ``store`` is
    taken out."""
    plain, stored = runs[api]
    assert len(stored.messages) == len(plain.messages)
    assert [without_store(m) for m in stored.messages] == [golden._scrub(m) for m in plain.messages]
    for stream, records in plain.records.items():
        assert [{k: v for k, v in r.items() if k != "store"} for r in stored.records[stream]] == (
            records
        ), stream
    plain_keys = {m["stream"]: m["key_properties"] for m in schemas(plain)}
    for message in schemas(stored):
        assert message["key_properties"] == ["store", *plain_keys[message["stream"]]]


@pytest.mark.parametrize("api", API_IDS)
def test_without_a_store_nothing_has_the_field(api, runs, sandbox):
    plain, _ = runs[api]
    assert plain.records, api
    for stream, records in plain.records.items():
        assert not [r for r in records if "store" in r], stream
    for message in schemas(plain):
        assert "store" not in message["schema"]["properties"], message["stream"]
        assert "store" not in message["schema"].get("required", []), message["stream"]
        assert "store" not in message["key_properties"], message["stream"]
    # an empty store is no store
    empty = run({**sandbox.config(api), "store": ""})
    assert [golden._scrub(m) for m in empty.messages] == [golden._scrub(m) for m in plain.messages]


def test_a_resent_schema_keeps_the_store_first_and_an_api_store_field_stops_the_stream():
    """Schema drift with ``unknown_fields: keep``: the SCHEMA sent again with the new field
    still declares the store first; drift that brings a ``store`` field of the API's own
    stops the stream naming it and the URL."""
    with Sandbox(seed=5, scale=SCALE, anchor=ANCHOR) as sb:
        config = {**sb.config("shop"), "store": STORE, "unknown_fields": "keep"}
        sb.set_extra_fields({"x_new": 1}, apis="shop", streams="products")
        out = run(config)
        sent = [m for m in schemas(out) if m["stream"] == "products"]
        assert len(sent) == 2 and "x_new" in sent[-1]["schema"]["properties"]
        for message in sent:
            assert_declares_store(message["schema"], "products")
            assert message["key_properties"] == ["store", "id"]
        assert all(r["store"] == STORE and r["x_new"] == 1 for r in out.records["products"])
        sb.set_extra_fields({"store": "theirs"}, apis="shop", streams="products")
        out, error = run_until_failure(config)
        url = sb.url
    assert isinstance(error, BadResponseError)
    assert str(error).startswith(f"stream 'products': GET {url}/shop/"), str(error)
    assert "a field 'store' of its own ('theirs')" in str(error)
    assert not out.records.get("products")


# -- 3, 4. discovery and catalogs ---------------------------------------------------------


def test_discover_with_a_store_puts_it_first_in_every_schema_and_key(sandbox, tmp_path):
    out = run_cli(
        ["--discover"], config={**sandbox.config("shop"), "store": STORE}, tmp_path=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (catalog,) = out.messages
    plain = {s["tap_stream_id"]: s for s in discover(sandbox.config("shop"))["streams"]}
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == set(plain)
    assert "products_images" in streams  # a child stream too
    for name, entry in streams.items():
        assert_declares_store(entry["schema"], name)
        assert entry["key_properties"] == ["store", *plain[name]["key_properties"]], name
        metadata = {tuple(m["breadcrumb"]): m["metadata"] for m in entry["metadata"]}
        assert metadata[()]["table-key-properties"] == entry["key_properties"], name
        # a key property: always selected
        assert metadata["properties", "store"]["inclusion"] == "automatic", name
        rest = {k: v for k, v in entry["schema"]["properties"].items() if k != "store"}
        assert rest == plain[name]["schema"]["properties"], name


def test_a_catalog_discovered_with_the_store_syncs_as_without_a_catalog(sandbox, runs):
    config = {**sandbox.config("shop"), "store": STORE}
    out = run(config, catalog=discover(config))
    _, stored = runs["shop"]
    assert [golden._scrub(m) for m in out.messages] == [golden._scrub(m) for m in stored.messages]


def test_a_catalog_discovered_without_the_store_still_gives_records_the_store(sandbox, runs):
    config = sandbox.config("shop")
    out = run({**config, "store": STORE}, catalog=discover(config))
    _, stored = runs["shop"]
    assert out.records == stored.records


@pytest.mark.parametrize("api", ["shop", "payments"])
def test_a_catalog_discovered_without_the_store_still_keys_and_declares_it(api, sandbox, runs):
    config = sandbox.config(api)
    out = run({**config, "store": STORE}, catalog=discover(config))
    _, stored = runs[api]
    sent = {m["stream"]: m for m in schemas(out)}
    assert sent, api
    for stream, message in sent.items():
        assert message["key_properties"][0] == "store", (stream, message["key_properties"])
        assert_declares_store(message["schema"], stream)
    assert [golden._scrub(m) for m in out.messages] == [golden._scrub(m) for m in stored.messages]


# -- 5. user definitions: an append stream, replace --------------------------------------

WIDGETS_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
    "required": ["id"],
}
EVENTS_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": ["integer", "null"]}, "kind": {"type": ["string", "null"]}},
}
WIDGETS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
EVENTS = [{"id": 1, "kind": "created"}, {"id": 1, "kind": "created"}, {"id": 2, "kind": "x"}]


def tiny_definition(directory: Path, resources: list[dict], schemas: dict[str, dict]) -> Path:
    """A definition file in ``directory`` (schemas beside it), bare arrays, one page."""
    for name, schema in schemas.items():
        (directory / f"{name}.json").write_text(json.dumps(schema))
    raw = {
        "x-name": "tiny",
        "client": {"base_url": "https://api.tiny.invalid/", "paginator": {"type": "single_page"}},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": resources,
    }
    path = directory / "tiny.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def resource(name: str, *, schema: str | None = None, **item: Any) -> dict:
    given = {"x-schema": f"{schema}.json"} if schema else {}
    return {"name": name, "endpoint": {"path": f"v1/{name}", "data_selector": "$"}, **given, **item}


def test_an_append_stream_keeps_an_empty_key_and_its_records_the_store(server, tmp_path):
    server.expect_request("/v1/widgets").respond_with_json(WIDGETS)
    server.expect_request("/v1/events").respond_with_json(EVENTS)
    server.expect_request("/v1/notes").respond_with_json(EVENTS)
    definition = tiny_definition(
        tmp_path,
        [
            resource("widgets", schema="widgets"),
            resource("events", schema="events", primary_key=[], write_disposition="append"),
            resource("notes", primary_key=[], write_disposition="append"),  # inferred
        ],
        {"widgets": WIDGETS_SCHEMA, "events": EVENTS_SCHEMA},
    )
    config = {"definition": str(definition), "base_url": server.url_for("/")}
    plain, stored = run(config), run({**config, "store": STORE})
    assert stored.records == {
        "widgets": [{**r, "store": STORE} for r in WIDGETS],
        "events": [{**r, "store": STORE} for r in EVENTS],
        "notes": [{**r, "store": STORE} for r in EVENTS],
    }
    keys = {m["stream"]: m["key_properties"] for m in schemas(stored)}
    assert keys == {"widgets": ["store", "id"], "events": [], "notes": []}
    for message in schemas(stored):
        assert_declares_store(message["schema"], message["stream"])
    assert [without_store(m) for m in stored.messages] == [golden._scrub(m) for m in plain.messages]


def test_a_replace_stream_is_refused_with_a_store(server, tmp_path):
    # its ACTIVATE_VERSION would retire every other store's rows of the shared table
    server.expect_request("/v1/widgets").respond_with_json(WIDGETS)
    definition = tiny_definition(
        tmp_path,
        [resource("widgets", schema="widgets", write_disposition="replace")],
        {"widgets": WIDGETS_SCHEMA},
    )
    config = {"definition": str(definition), "base_url": server.url_for("/"), "store": STORE}
    line = the_error_line(run_cli([], config=config, tmp_path=tmp_path))
    assert "setting 'store'" in line and "stream 'widgets'" in line and "replace" in line
    assert server.log == []
    # without the store, the same definition runs
    out = run_cli([], config={**config, "store": ""}, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]


# -- 6. refusals, each one line ------------------------------------------------------------


def test_activate_version_messages_with_a_store_are_refused(server, tmp_path):
    config = {
        **FAKE_SHOP,
        "base_url": server.url_for("/shop/"),
        "store": STORE,
        "emit_activate_version_messages": True,
    }
    line = the_error_line(run_cli([], config=config, tmp_path=tmp_path))
    assert "setting 'emit_activate_version_messages'" in line and "setting 'store'" in line
    assert server.log == []
    # without the store, the same settings run
    out = run_cli(["--discover"], config={**config, "store": ""}, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]


BAD_STORES = {
    "leading-space": " north",
    "trailing-space": "north ",
    "only-spaces": "   ",
    "a-tab": "no\trth",
    "a-newline": "north\n",
    "a-control-character": "nor\x07th",
    "too-long": "s" * 201,
    "a-number": 5,
    "a-boolean": True,
    "a-list": ["north"],
    "an-object": {"name": "north"},
}


@pytest.mark.parametrize("case", BAD_STORES)
def test_a_bad_store_is_one_line_naming_the_setting(case, server, tmp_path):
    config = {**FAKE_SHOP, "base_url": server.url_for("/shop/"), "store": BAD_STORES[case]}
    line = the_error_line(run_cli([], config=config, tmp_path=tmp_path))
    assert "setting 'store'" in line, line
    assert server.log == []


@pytest.mark.parametrize("store", ["s" * 200, "Nörd-Straße 1 (EU)", "x", "north/ 2"])
def test_a_store_up_to_200_printable_characters_is_taken_as_given(store):
    tap = TapCommerce(config={**FAST, **FAKE_SHOP, "store": store})
    assert tap.run.store == store
    assert tap.streams["countries"].primary_keys == ["store", "id"]


def test_a_definition_with_a_store_field_of_its_own_is_refused(server, tmp_path):
    schema = {**WIDGETS_SCHEMA, "properties": {**WIDGETS_SCHEMA["properties"], "store": STRING}}
    definition = tiny_definition(
        tmp_path, [resource("widgets", schema="widgets")], {"widgets": schema}
    )
    config = {"definition": str(definition), "base_url": server.url_for("/"), "store": STORE}
    for args in ([], ["--discover"]):
        line = the_error_line(run_cli(args, config=config, tmp_path=tmp_path))
        assert "setting 'store': stream 'widgets' has a field 'store' of its own" in line, line
    assert server.log == []
    # without the setting, the field is the API's own
    server.expect_request("/v1/widgets").respond_with_json([{"id": 1, "store": "x"}])
    out = run({**config, "store": ""})
    assert out.records == {"widgets": [{"id": 1, "store": "x"}]}


@pytest.mark.parametrize("schema", ["declared", "inferred"])
def test_an_api_record_with_a_store_field_stops_naming_stream_and_url(schema, server, tmp_path):
    server.expect_request("/v1/widgets").respond_with_json([{"id": 1, "store": "x"}])
    declared = schema == "declared"
    definition = tiny_definition(
        tmp_path,
        [resource("widgets", schema="widgets" if declared else None)],
        {"widgets": WIDGETS_SCHEMA},
    )
    config = {"definition": str(definition), "base_url": server.url_for("/"), "store": STORE}
    out = run_cli([], config=config, tmp_path=tmp_path)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert "ERROR" in last
    assert "stream 'widgets'" in last and server.url_for("/v1/widgets") in last, last
    assert "field 'store' of its own ('x')" in last and "setting 'store'" in last, last
    assert not out.records.get("widgets")
    assert len(server.log) == 1


# -- 7. two stores with overlapping ids in one PostgreSQL table ---------------------------

TARGET_CONFIG = {  # plugins/loaders/target-postgres.yml's values
    "load_method": "upsert",
    "add_record_metadata": True,
    "activate_version": True,
    "hard_delete": False,
    "validate_records": False,
}


def primary_key(conn: Any, schema: str, table: str) -> list[str]:
    """The table's primary-key columns in key order."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT k.column_name FROM information_schema.table_constraints c
            JOIN information_schema.key_column_usage k
              ON k.constraint_schema = c.constraint_schema
             AND k.constraint_name = c.constraint_name
            WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = %s
              AND c.table_name = %s
            ORDER BY k.ordinal_position
            """,
            (schema, table),
        )
        return [row["column_name"] for row in cur.fetchall()]


@pytest.fixture(scope="module")
def postgres(fresh_database):
    assert TARGET_POSTGRES.exists(), "run `make test`, which installs the plugins of meltano.yml"
    return fresh_database("store")


def target(postgres: Any, schema: str) -> dict:
    return {
        **TARGET_CONFIG,
        "sqlalchemy_url": postgres.sqlalchemy_url(),
        "default_target_schema": schema,
    }


def pipe(
    tap_config: dict,
    target_config: dict,
    directory: Path,
    name: str,
    *,
    catalog: Path | None = None,
) -> None:
    """``tap-commerce | target-postgres``, both as commands; both must succeed."""
    tap_path = directory / f"{name}.json"
    tap_path.write_text(json.dumps(tap_config))
    tap_args = ["--config", str(tap_path)]
    if catalog is not None:
        tap_args += ["--catalog", str(catalog)]
    target_path = directory / f"target-{name}.json"
    target_path.write_text(json.dumps(target_config))
    log = directory / f"{name}.log"
    with log.open("wb") as stderr:
        tap = subprocess.Popen(
            [sys.executable, "-m", "tap_commerce", *tap_args],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert tap.stdout is not None
        target = subprocess.run(
            [str(TARGET_POSTGRES), "--config", str(target_path)],
            stdin=tap.stdout,
            capture_output=True,
            timeout=300,
            check=False,
        )
        tap.stdout.close()
        tap_exit = tap.wait(timeout=60)
    assert tap_exit == 0, log.read_text()[-2000:]
    assert target.returncode == 0, target.stderr.decode()[-2000:]


def test_two_stores_with_overlapping_ids_are_separate_rows_in_postgres(postgres, tmp_path):
    target_config = target(postgres, "shop")
    with (
        Sandbox(seed=3, scale=SCALE, anchor=ANCHOR) as north,
        Sandbox(seed=4, scale=SCALE, anchor=ANCHOR) as south,
    ):
        stores = {"north": north, "south": south}
        for name, sb in stores.items():
            pipe({**sb.config("shop"), "store": name}, target_config, tmp_path, name)
        served = {
            (name, stream): sb.records("shop", stream)
            for name, sb in stores.items()
            for stream in sb.streams("shop")["shop"]
        }
    streams = sorted({stream for _, stream in served})
    problems: list[str] = []
    with warehouse.connect(postgres.uri()) as conn:
        assert warehouse.tables(conn, "shop") == set(streams)
        for stream in streams:
            key = warehouse.primary_key("shop", stream)
            assert primary_key(conn, "shop", stream) == ["store", key], stream
            rows = warehouse.table_rows(conn, "shop", stream)
            expected = len(served["north", stream]) + len(served["south", stream])
            assert len(rows) == expected, stream
            assert len({(r["store"], r[key]) for r in rows}) == len(rows), stream
            for name in stores:
                mine = [
                    {k: v for k, v in r.items() if k != "store"} for r in rows if r["store"] == name
                ]
                problems += warehouse.compare_records("shop", stream, served[name, stream], mine)
        assert not problems, "\n".join(problems[:20])
        for stream, field in (("products", "title"), ("orders", "reference")):
            rows = warehouse.table_rows(conn, "shop", stream)
            by_store = {name: {r["id"]: r for r in rows if r["store"] == name} for name in stores}
            shared = set(by_store["north"]) & set(by_store["south"])
            assert shared, stream  # the case this is about: the same ids in both stores
            for name in stores:
                assert {r["id"]: r[field] for r in served[name, stream]} == {
                    i: r[field] for i, r in by_store[name].items()
                }, (stream, name)
            differing = [i for i in shared if by_store["north"][i] != by_store["south"][i]]
            assert differing, stream  # two different records, not one copied
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT data_type, is_nullable FROM information_schema.columns
                WHERE table_schema = 'shop' AND table_name = 'products'
                  AND column_name = 'store'
                """
            )
            column = cur.fetchone()
        assert column == {"data_type": "text", "is_nullable": "NO"}


def test_two_stores_synced_with_a_catalog_discovered_without_the_store_stay_apart(
    postgres, tmp_path
):
    with (
        Sandbox(seed=3, scale=SCALE, anchor=ANCHOR) as north,
        Sandbox(seed=4, scale=SCALE, anchor=ANCHOR) as south,
    ):
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(discover(north.config("payments"))))
        stores = {"north": north, "south": south}
        for name, sb in stores.items():
            config = {**sb.config("payments"), "store": name}
            pipe(config, target(postgres, "cataloged"), tmp_path, name, catalog=catalog)
        served = {name: sb.records("payments", "products") for name, sb in stores.items()}
    ids = [{r["id"] for r in records} for records in served.values()]
    assert ids[0] & ids[1]  # overlapping ids: the case at stake
    with warehouse.connect(postgres.uri()) as conn:
        assert primary_key(conn, "cataloged", "products") == ["store", "id"]
        rows = warehouse.table_rows(conn, "cataloged", "products")
    assert len(rows) == sum(len(records) for records in served.values())
