"""A user's definition (contract §1.3) runs on the same engine as a built-in, with every
behaviour of §1.2: a whole API written as a user's file, a file that extends a built-in,
and the same definitions given inline in the config.

Each built-in, written out as a *new* API (no ``x-extends``; every resource naming its
packaged schema by absolute path), gives the golden output message by message
(`tests/golden.py`). On user definitions: retries, pacing (``x-requests_per_second`` and
the setting), redaction at DEBUG, ACTIVATE_VERSION, unknown fields, ``child_sync:
changed``, progress lines, state and resumption, OAuth2 renewal (the token request paced
and retried), and the command's ``--discover``, ``--about`` and ``--test``.

Every definition here is written into ``tmp_path`` at run time and read against the
sandbox: its config for a built-in, with ``definition`` in place of ``api``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import itertools
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from singer_sdk.exceptions import ConfigValidationError
from tap_commerce_sandbox import TOKEN_PATH, Sandbox

from tap_commerce import loader
from tap_commerce.definition import DefinitionError
from tap_commerce.progress import INTERVAL_ENV
from tap_commerce.tap import TapCommerce
from tests import golden
from tests.harness import FAST, Output, parse_lines, run, run_cli, run_until_failure
from tests.test_deletes import activations, assert_activated_after_records

ANCHOR = "2026-06-01"
SCALE = 0.05
SHOP_CHILDREN = ("products_images", "products_reviews", "product_options", "products_variations")


# -- user definitions ----------------------------------------------------------------------


def user_raw(api: str) -> dict[str, Any]:
    """The built-in ``api`` as a user would write it for a new API: the same keys, no
    ``x-extends``, each resource naming its packaged schema by absolute path."""
    raw = loader.builtin(api, raw=True)
    assert "x-extends" not in raw
    for resource in raw["resources"]:
        resource["x-schema"] = str(loader.schemas_dir() / api / f"{resource['name']}.json")
    return raw


def write_yaml(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def user_copy(api: str, directory: Path) -> Path:
    """`user_raw` in ``directory/my_<api>.yml``: the API is called ``my_<api>``."""
    return write_yaml(directory / f"my_{api}.yml", user_raw(api))


def with_definition(config: dict[str, Any], definition: Path | dict[str, Any]) -> dict[str, Any]:
    """A sandbox config for a built-in, reading ``definition`` instead of ``api``."""
    given = definition if isinstance(definition, dict) else str(definition)
    return {**{k: v for k, v in config.items() if k != "api"}, "definition": given}


def scrubbed(output: Output) -> list[dict[str, Any]]:
    """The messages without what belongs to the run's moment (as `tests.golden` does)."""
    return [golden._scrub(m) for m in output.messages]  # golden's own scrubbing


def sync(config: dict[str, Any], *, state: dict | None = None) -> tuple[Output, TapCommerce]:
    """Sync in-process with `FAST` waits but the config's own pacing (`tests.harness.run`
    sets ``requests_per_second`` to 0 unless the config gives it); returns the tap too."""
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    fast = {k: v for k, v in FAST.items() if k != "requests_per_second"}
    tap = TapCommerce(config={**fast, **config}, state=state)
    with contextlib.redirect_stdout(stdout):
        tap.sync_all()
        stdout.flush()
    return Output(parse_lines(buffer.getvalue().decode())), tap


def gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered)]


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(seed=3, scale=SCALE, anchor=ANCHOR, time_scale=0.01).start()
    yield sb
    sb.stop()


@pytest.fixture
def sb(sandbox):
    sandbox.clear_faults()
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()
    sandbox.set_extra_fields(None)
    sandbox.latency = 0


# -- 1. a whole API as a user's file gives the built-in's output --------------------------


def golden_scenarios(api: str, transform) -> list[str]:
    """`tests.golden.scenarios`, with every config passed through ``transform``."""
    g = golden
    lines: list[str] = []
    with Sandbox(seed=3, scale=0.2, anchor=g.ANCHOR, clock=lambda: g.CLOCK) as sandbox:
        config = transform({**sandbox.config(api), "emit_activate_version_messages": True})
        sandbox.reset_stats()
        full = run(config)
        lines += g._lines("full", full.messages) + g._requests("full", sandbox)
        sandbox.mutate(api, added=5, updated=5, deleted=2)
        incremental = run(config, state=full.final_state)
        lines += g._lines("incremental", incremental.messages)
        lines += g._requests("incremental", sandbox)
        window = {
            **config,
            "start_date": "2025-03-01T00:00:00Z",
            "end_date": "2025-09-01T00:00:00Z",
        }
        lines += g._lines("window", run(window).messages) + g._requests("window", sandbox)
        ended = {**config, "end_date": "2025-06-01T00:00:00Z", "lookback_window": 86400}
        lines += g._lines("end-date-lookback", run(ended, state=full.final_state).messages)
        lines += g._requests("end-date-lookback", sandbox)
        if api == "shop":
            changed = {**config, "child_sync": "changed"}
            lines += g._lines("child-sync-changed", run(changed, state=full.final_state).messages)
            lines += g._requests("child-sync-changed", sandbox)
        sandbox.set_extra_fields()
        keep = {**config, "unknown_fields": "keep"}
        if api != "storefront":
            keep["page_size"] = 7
        lines += g._lines("drift-keep", run(keep).messages) + g._requests("drift-keep", sandbox)
        drop = {**config, "emit_activate_version_messages": False}
        lines += g._lines("drift-drop", run(drop).messages) + g._requests("drift-drop", sandbox)
    variants = {
        "payments": {"payments_total": False},
        "shop": {"shop_envelope": "bare"},
        "digital": {"digital_envelope": "object"},
    }
    if api in variants:
        with Sandbox(
            seed=3, scale=0.2, anchor=g.ANCHOR, clock=lambda: g.CLOCK, **variants[api]
        ) as sb:
            lines += g._lines("variant", run(transform(sb.config(api))).messages)
            lines += g._requests("variant", sb)
    return lines


@pytest.mark.parametrize("api", golden.APIS)
def test_a_builtin_written_as_a_new_api_gives_the_golden_output(api, tmp_path):
    path = user_copy(api, tmp_path)
    definition, builtin = loader.load(path), loader.builtin(api)
    assert definition.builtin is None  # a new API, not an extension
    assert definition.name == f"my_{api}"
    # the same typed definition, apart from its name and source
    renamed = dataclasses.replace(definition, name=api, source=builtin.source, builtin=api)
    assert renamed == builtin
    produced = golden_scenarios(api, lambda config: with_definition(config, path))
    expected = golden.read(api)
    first = next(
        (i for i, pair in enumerate(zip(expected, produced, strict=False)) if pair[0] != pair[1]),
        None,
    )
    if first is not None:
        pytest.fail(
            f"line {first + 1} differs\ngolden: {expected[first][:600]}\nuser:   {produced[first][:600]}"
        )
    assert len(produced) == len(expected)


# -- 2. extending a built-in -------------------------------------------------------------


def shop_extension(directory: Path) -> Path:
    """A file that starts from shop and overrides parts of it."""
    categories = loader.schemas_dir() / "shop" / "categories.json"
    return write_yaml(
        directory / "my_shop_extension.yml",
        {
            "x-extends": "shop",
            "client": {
                "base_url": "https://bogus.invalid/shop/",  # the base_url setting wins
                # http_basic replaced whole by another type (no username/password left)
                "auth": {
                    "type": "api_key",
                    "name": "Authorization",
                    "api_key": "Basic {settings.shop_basic_token}",
                    "location": "header",
                },
                "paginator": {"limit": 7},  # one parameter; the rest stays the built-in's
            },
            "resources": [
                # themes read from where categories are listed
                {
                    "name": "themes",
                    "endpoint": {"path": "/v1/categories"},
                    "x-schema": str(categories),
                },
                {
                    "name": "countries",
                    "primary_key": "iso",
                    "endpoint": {"data_selector": "data[0:3]"},
                },
            ],
        },
    )


def shop_extension_config(sandbox: Sandbox, path: Path | dict[str, Any]) -> dict[str, Any]:
    config = with_definition(sandbox.config("shop"), path)
    pair = f"{config.pop('api_key')}:{config.pop('api_secret')}"
    config["shop_basic_token"] = base64.b64encode(pair.encode()).decode()
    return config


def test_an_extension_merges_over_the_builtin_into_typed_objects(tmp_path):
    definition, shop = loader.load(shop_extension(tmp_path)), loader.builtin("shop")
    assert definition.builtin == "shop" and definition.name == "shop"
    assert definition.base_url.source == "https://bogus.invalid/shop/"
    assert definition.stream_names == shop.stream_names  # merged by name, in place
    # the auth's type changed: replaced whole
    auth = definition.auth
    assert auth is not None
    assert (auth.type, auth.name, auth.location) == ("api_key", "Authorization", "header")
    assert set(auth.values) == {"api_key"}
    assert auth.values["api_key"].source == "Basic {settings.shop_basic_token}"
    assert definition.credential_settings() == ["shop_basic_token"]
    assert set(definition.settings_used()) == {"shop_basic_token"}  # api_secret not needed
    # the paginator's type did not change: merged key by key
    for resource in definition.resources:
        paginator, builtin_paginator = resource.paginator, shop.resource(resource.name).paginator
        assert paginator is not None and builtin_paginator is not None
        if resource.name == "countries":
            assert paginator.type == "single_page"
            continue
        assert paginator.type == "offset" and paginator.limit == 7, resource.name
        assert dataclasses.replace(paginator, limit=20) == builtin_paginator, resource.name
    themes = definition.resource("themes")
    assert themes.path.source == "/v1/categories"
    assert themes.schema == loader.schemas_dir() / "shop" / "categories.json"
    assert themes.incremental == shop.resource("themes").incremental  # kept
    countries = definition.resource("countries")
    assert countries.primary_key == ("iso",) and countries.key_properties == ["iso"]
    assert countries.selector is not None and countries.selector.source == "data[0:3]"
    assert countries.fallback_selectors == shop.resource("countries").fallback_selectors
    # every resource the file does not name is the built-in's (but for the page size)
    for name in set(shop.stream_names) - {"themes", "countries"}:
        mine, theirs = definition.resource(name), shop.resource(name)
        assert dataclasses.replace(mine, paginator=None) == dataclasses.replace(
            theirs, paginator=None
        ), name


def test_an_extension_syncs_the_sandbox_with_its_overrides(sb, tmp_path):
    config = shop_extension_config(sb, shop_extension(tmp_path))
    tap = TapCommerce(config={**FAST, **config})
    assert tap.settings.base_url == sb.url + "/shop/"  # the setting, not the file's
    assert tap.settings.page_size == 7
    assert tap.settings.secrets == (config["shop_basic_token"],)
    out = run(config)
    sent = sb.requests.snapshot()
    assert sent and all(r.status == 200 for r in sent)
    assert {r.headers.get("Authorization") for r in sent} == {f"Basic {config['shop_basic_token']}"}
    lists = [r for r in sent if not r.path.endswith("/v1/countries")]
    assert {r.query.get("limit") for r in lists} == {"7"}  # children too
    assert not [r for r in sent if r.path.endswith("/v1/themes")]
    assert len([r for r in sent if r.path.endswith("/v1/categories")]) == 2 * len(
        [r for r in sent if r.path.endswith("/v1/pages")]
    )  # categories (8 records) and themes read the same two pages
    # the overrides, as a built-in run with the same page size shows them
    sb.reset_stats()
    builtin = run({**sb.config("shop"), "page_size": 7})
    assert out.records["themes"] == out.records["categories"] == builtin.records["categories"]
    assert out.records["countries"] == builtin.records["countries"][:3]
    (schema,) = out.schemas("countries")
    assert schema["key_properties"] == ["iso"]
    (schema,) = out.schemas("themes")
    assert schema["schema"] == builtin.schemas("categories")[0]["schema"]
    for stream in set(builtin.records) - {"themes", "countries"}:
        assert out.records[stream] == builtin.records[stream], stream


def test_the_page_size_setting_wins_over_the_file_within_the_builtin_maximum(sb, tmp_path):
    config = {**shop_extension_config(sb, shop_extension(tmp_path)), "page_size": 9}
    out = run(config)
    lists = [r for r in sb.requests.snapshot() if not r.path.endswith("/v1/countries")]
    assert {r.query.get("limit") for r in lists} == {"9"}
    assert len(out.records["products"]) == sb.count("shop", "products")
    with pytest.raises(ConfigValidationError, match="allows at most 100"):
        TapCommerce(config={**config, "page_size": 101})


def test_setting_api_beside_a_definition_extends_that_builtin(tmp_path):
    path = shop_extension(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw.pop("x-extends")
    bare = write_yaml(tmp_path / "no_extends.yml", raw)
    assert loader.load(bare, api="shop") == dataclasses.replace(
        loader.load(path), source=f"'{bare}'"
    )
    with pytest.raises(DefinitionError, match="x-extends: extends 'shop', but setting 'api' is"):
        loader.load(path, api="payments")
    with pytest.raises(ConfigValidationError, match="x-extends"):
        TapCommerce(config={"api": "payments", "definition": str(path), "api_key": "fake-key"})


def test_a_resource_an_extension_adds_without_a_schema_gets_one_inferred(sb, tmp_path):
    """Inferred from the first ``schema_sample_size`` records; for such a stream
    ``unknown_fields`` defaults to ``keep`` (contract §1.3)."""
    path = write_yaml(
        tmp_path / "more_shop.yml",
        {
            "x-extends": "shop",
            "resources": [{"name": "pages_again", "endpoint": {"path": "/v1/pages"}}],
        },
    )
    assert loader.load(path).resource("pages_again").schema is None
    # fields that appear from the 6th record on: after the 3 records of the sample
    sb.set_extra_fields({"x_new": {"a": 1}}, apis="shop", streams="pages", start=5)
    out = run({**with_definition(sb.config("shop"), path), "schema_sample_size": 3})
    schemas = out.schemas("pages_again")
    inferred = schemas[0]["schema"]["properties"]
    assert inferred["id"] == {"type": ["integer"]}
    assert inferred["created_at_utc"] == {"type": ["string", "null"], "format": "date-time"}
    assert "x_new" not in inferred
    assert "x_new" in schemas[-1]["schema"]["properties"]  # kept: sent again with the field
    served = sb.records_with_extra_fields("shop", "pages")
    assert [r.get("x_new") for r in out.records["pages_again"]] == [r.get("x_new") for r in served]
    assert all("x_new" not in r for r in out.records["pages"])  # a packaged schema: dropped
    again = [{k: v for k, v in r.items() if k != "x_new"} for r in out.records["pages_again"]]
    assert again == out.records["pages"]
    # one request for the sample, one for each stream's single page
    assert len([r for r in sb.requests.snapshot() if r.path.endswith("/v1/pages")]) == 3


def test_a_builtin_stream_renamed_by_table_name_keeps_its_packaged_schema(tmp_path):
    path = write_yaml(
        tmp_path / "renamed.yml",
        {"x-extends": "shop", "resources": [{"name": "orders", "table_name": "shop_orders"}]},
    )
    definition = loader.load(path)
    assert "shop_orders" in definition.stream_names
    assert (
        definition.resource("shop_orders").schema == loader.schemas_dir() / "shop" / "orders.json"
    )


def test_a_setting_can_fill_part_of_the_base_url(sb, tmp_path):
    raw = user_raw("payments")
    raw["client"]["base_url"] = "http://{settings.payments_host}/payments/"
    config = with_definition(sb.config("payments"), write_yaml(tmp_path / "hosted.yml", raw))
    config.pop("base_url")
    config["payments_host"] = sb.url.removeprefix("http://")  # 127.0.0.1:<port>
    out = run(config)
    assert len(out.records["order_payments"]) == sb.count("payments", "order_payments")


# -- 3. the same definition inline -------------------------------------------------------


def test_a_definition_given_inline_syncs_as_the_file_does(sb, tmp_path):
    for api in ("payments", "shop"):
        file_run = run(with_definition(sb.config(api), user_copy(api, tmp_path)))
        inline = run(with_definition(sb.config(api), user_raw(api)))
        assert scrubbed(inline) == scrubbed(file_run), api
        text = run({**with_definition(sb.config(api), {}), "definition": json.dumps(user_raw(api))})
        assert scrubbed(text) == scrubbed(file_run), api
    # an extension inline (x-schema absolute: there is no file to be relative to)
    path = shop_extension(tmp_path)
    from_file = run(shop_extension_config(sb, path))
    inline = run(shop_extension_config(sb, yaml.safe_load(path.read_text())))
    assert scrubbed(inline) == scrubbed(from_file)


def test_an_inline_definition_cannot_name_a_relative_schema(sb):
    raw = user_raw("payments")
    raw["resources"][0]["x-schema"] = "schemas/order_payments.json"
    with pytest.raises(ConfigValidationError) as caught:
        TapCommerce(config=with_definition(sb.config("payments"), raw))
    assert str(caught.value) == (
        "definition in setting 'definition': resources[0].x-schema: a relative schema path "
        "needs a definition file; in the setting, give an absolute path"
    )


def test_an_inline_definition_from_the_environment_syncs_as_in_process(sb, tmp_path):
    """Meltano hands an object setting to the tap as JSON text in the environment."""
    config = with_definition(sb.config("payments"), user_raw("payments"))
    env = {
        f"TAP_COMMERCE_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in {**FAST, **config}.items()
    }
    out = run_cli(["--config", "ENV"], tmp_path=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert scrubbed(out) == scrubbed(run(config))


# -- 4. shared behaviours on user definitions --------------------------------------------


def test_retries_on_a_user_definition_give_the_records_of_a_clean_run(sb, tmp_path):
    config = {**with_definition(sb.config("payments"), user_copy("payments", tmp_path))}
    config["page_size"] = 10
    clean = run(config)
    pages = len(sb.requests.snapshot())
    kinds = ["503", "429", "502", "429-no-retry-after", "truncated", "invalid-json", "drop", "500"]
    sb.set_faults(schedule={2 * n + 2: kind for n, kind in enumerate(kinds)}, apis="payments")
    sb.reset_stats()
    retried = run({**config, "max_retries": 2})
    assert retried.records == clean.records
    assert sb.stats()["faults"] == dict.fromkeys(kinds, 1)
    assert len(sb.requests.snapshot()) == pages + len(kinds)  # one retry for each


def test_x_requests_per_second_paces_a_user_definition_unless_the_setting_is_given(sb, tmp_path):
    raw = user_raw("payments")
    raw["x-requests_per_second"] = 40
    config = with_definition(sb.config("payments"), write_yaml(tmp_path / "paced.yml", raw))
    config.pop("requests_per_second")
    config["page_size"] = 20
    tap = TapCommerce(config=config)
    assert tap.settings.requests_per_second == 40
    assert tap.transport.pacer.interval == pytest.approx(0.025)
    for setting, rate in ((0, 0.0), (100, 100.0), ("8", 8.0)):
        tap = TapCommerce(config={**config, "requests_per_second": setting})
        assert tap.settings.requests_per_second == rate
        assert tap.transport.pacer.interval == pytest.approx(1 / rate if rate else 0.0)
    # a real sync: the file's pace, with nothing in the settings
    out, tap = sync(config)
    times = [r.time for r in sb.requests.snapshot()]
    assert len(out.records["order_payments"]) == sb.count("payments", "order_payments")
    assert len(times) == tap.transport.requests_sent >= 9
    assert min(gaps(times)) >= 0.025 * 0.4, gaps(times)  # no burst
    assert max(times) - min(times) >= (len(times) - 1) * 0.025 * 0.9


def test_the_api_key_of_a_user_definition_is_masked_at_debug(sb, tmp_path):
    """payments sends ``{settings.api_key}`` in the query string of every request."""
    config = with_definition(sb.config("payments"), user_copy("payments", tmp_path))
    config["page_size"] = 25
    env = {"TAP_COMMERCE_LOGLEVEL": "DEBUG"}
    sb.set_faults(schedule={2: "503", 4: "429", 5: "drop"}, apis="payments")
    ok = run_cli([], config=config, tmp_path=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    sb.clear_faults()
    wrong = {**config, "api_key": "wrong-fake-payments-key"}
    refused = run_cli([], config=wrong, tmp_path=tmp_path, env=env)
    assert refused.returncode != 0
    assert "refused the credentials" in refused.stderr and "'api_key'" in refused.stderr
    for result, secret in ((ok, config["api_key"]), (refused, wrong["api_key"])):
        assert "| DEBUG" in result.stderr  # the level really was DEBUG
        assert secret not in result.stdout + result.stderr
        assert "api_key=***" in result.stderr  # the URLs are logged, masked
    assert len(ok.records["order_payments"]) == sb.count("payments", "order_payments")


def test_a_credential_in_a_setting_of_the_users_own_naming_is_masked_at_debug(sb, tmp_path):
    config = shop_extension_config(sb, shop_extension(tmp_path))
    sb.fail_next(1, "503", apis="shop")
    out = run_cli([], config=config, tmp_path=tmp_path, env={"TAP_COMMERCE_LOGLEVEL": "DEBUG"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| DEBUG" in out.stderr
    token = config["shop_basic_token"]
    assert token not in out.stdout + out.stderr
    assert base64.b64decode(token).decode() not in out.stdout + out.stderr


def test_activate_version_after_every_complete_read_of_a_user_definition(sb, tmp_path):
    config = with_definition(sb.config("shop"), user_copy("shop", tmp_path))
    config["emit_activate_version_messages"] = True
    first = run(config)
    for stream in sb.streams("shop")["shop"]:  # a first run reads everything completely
        assert_activated_after_records(first, stream)
    assert len({v for vs in activations(first).values() for v in vs}) == 1
    again = run(config, state=first.final_state)  # bookmarked: partial reads
    activated = activations(again)
    for stream in ("pages", "products", "customers", "orders", "events", "products_reviews"):
        assert stream not in activated, stream
    for stream in ("countries", "choice_sets", "shipping_zones", "products_images"):
        assert_activated_after_records(again, stream)
    assert not activations(run({**config, "emit_activate_version_messages": False}))


def test_unknown_fields_of_a_user_definition_are_dropped_once_or_kept(sb, tmp_path, caplog):
    config = with_definition(sb.config("payments"), user_copy("payments", tmp_path))
    sb.set_extra_fields({"x_new": {"a": 1}, "x_note": "hi"}, apis="payments")
    caplog.set_level(logging.INFO)
    dropped = run(config)
    for stream in ("order_payments", "products"):
        assert all("x_new" not in r and "x_note" not in r for r in dropped.records[stream])
        for field in ("x_new", "x_note"):
            warned = [
                r for r in caplog.records
                if field in r.getMessage() and f"'{stream}'" in r.getMessage()
            ]  # fmt: skip
            assert len(warned) == 1, (stream, field)
    kept = run({**config, "unknown_fields": "keep"})
    for stream in ("order_payments", "products"):
        assert all(r["x_new"] == {"a": 1} and r["x_note"] == "hi" for r in kept.records[stream])
        last = kept.schemas(stream)[-1]["schema"]["properties"]
        assert "x_new" in last and "x_note" in last, stream
        types = [m["type"] for m in kept.messages if m.get("stream") == stream]
        assert types.index("SCHEMA") < types.index("RECORD")
        assert len(kept.schemas(stream)) >= 2  # the SCHEMA again, with the new fields


def test_child_sync_changed_reads_children_only_of_changed_products(tmp_path):
    with Sandbox(seed=4, scale=SCALE, anchor=ANCHOR) as sandbox:
        config = with_definition(sandbox.config("shop"), user_copy("shop", tmp_path))
        first = run(config)
        sandbox.mutate("shop", added=1, updated=2, streams=["products"])
        sandbox.reset_stats()
        changed = run({**config, "child_sync": "changed"}, state=first.final_state)
        products = {r["id"] for r in changed.records["products"]}
        assert 3 <= len(products) < sandbox.count("shop", "products")
        for child in ("images", "reviews", "options", "variations"):
            asked = {
                int(r.path.split("/")[-2])
                for r in sandbox.requests.snapshot()
                if r.path.endswith(f"/{child}")
            }
            assert asked == products, child
        for stream in SHOP_CHILDREN:
            assert {r["prd_id"] for r in changed.records.get(stream, [])} <= products
        # the built-in does the same from the same state
        builtin = run({**sandbox.config("shop"), "child_sync": "changed"}, state=first.final_state)
        assert scrubbed(builtin) == scrubbed(changed)


PROGRESS = re.compile(r"stream '(?P<stream>\w+)': [\d,]+ records?, [\d,]+ requests?, [\d.]+ s")
DONE = re.compile(
    r"stream '(?P<stream>\w+)': done, (?P<records>[\d,]+) records?, (?P<requests>[\d,]+) "
    r"requests?, [\d.]+ s, (?P<limited>\d+) 429s$"
)


def test_progress_and_summary_lines_of_a_user_definition_go_to_stderr(sb, tmp_path):
    config = with_definition(sb.config("payments"), user_copy("payments", tmp_path))
    config["page_size"] = 10
    sb.latency = 0.01
    sb.fail_next(1, "429", apis="payments", path="order_payments$")
    out = run_cli([], config=config, tmp_path=tmp_path, env={INTERVAL_ENV: "0.04"})
    assert out.returncode == 0, out.stderr[-2000:]
    shown = [line.split(" | ")[-1] for line in out.stderr.splitlines()]
    done = {m["stream"]: m for m in map(DONE.match, shown) if m}
    assert set(done) == {"order_payments", "products"}
    sent = sb.requests.snapshot()
    for stream, match in done.items():
        assert int(match["records"]) == len(out.records[stream]) == sb.count("payments", stream)
        pages = [r for r in sent if r.path.endswith(f"/v1/{stream}")]
        assert int(match["requests"]) == len(pages), stream
    assert done["order_payments"]["limited"] == "1" and done["products"]["limited"] == "0"
    progress = [s for s in shown if PROGRESS.match(s) and "order_payments" in s]
    assert progress, out.stderr[-2000:]
    total = sb.count("payments", "order_payments")
    assert all(f"% of {total}" in line for line in progress)  # the API gives a total


def test_a_user_definition_resumes_from_the_state_of_a_failed_run(tmp_path):
    with Sandbox(seed=5, scale=SCALE, anchor=ANCHOR) as sandbox:
        config = with_definition(sandbox.config("payments"), user_copy("payments", tmp_path))
        config["page_size"] = 5
        first = run(config)
        changes = sandbox.mutate("payments", added=3, updated=4)["streams"]
        clean = run(config, state=first.final_state)
        # incremental: only what changed since the bookmark (and its boundary) comes again
        for stream in ("order_payments", "products"):
            ids = {r["id"] for r in clean.records[stream]}
            news = changes[f"payments.{stream}"]
            assert set(news["added"]) | set(news["updated"]) <= ids, stream
            assert len(ids) <= len(news["added"]) + len(news["updated"]) + 1, stream
        # the same run, cut by a 500 on the last page of products
        last = sandbox.count("payments", "products") // 5 + 1
        sandbox.set_faults(schedule={last: "500"}, apis="payments", path="/v1/products$")
        cut, error = run_until_failure({**config, "max_retries": 0}, state=first.final_state)
        assert error is not None and "products" in str(error)
        sandbox.clear_faults()
        resumed = run(config, state=cut.final_state)
        assert resumed.final_state["bookmarks"] == clean.final_state["bookmarks"]
        for stream, records in clean.records.items():
            got = {r["id"] for r in cut.records.get(stream, []) + resumed.records.get(stream, [])}
            assert {r["id"] for r in records} <= got, stream


def test_a_user_oauth2_definition_renews_tokens_through_the_paced_retried_transport(tmp_path):
    raw = user_raw("orders")
    # a literal token URL: the token_url setting wins over it
    raw["client"]["auth"]["access_token_url"] = "https://bogus.invalid/oauth/token"
    path = write_yaml(tmp_path / "my_orders.yml", raw)
    with Sandbox(seed=7, scale=SCALE, anchor=ANCHOR, token_ttl=0.25) as sandbox:
        config = with_definition(sandbox.config("orders"), path)
        config.update(page_size=10, requests_per_second=25)
        sandbox.fail_next(1, "503", path="oauth/token$")
        out, tap = sync(config)
        assert tap.settings.token_url == sandbox.url + TOKEN_PATH
        assert sorted(r["order_id"] for r in out.records["orders"]) == sorted(
            r["order_id"] for r in sandbox.records("orders", "orders")
        )
        sent = sandbox.requests.snapshot()
        tokens = [r for r in sent if r.path == TOKEN_PATH]
        pages = [r for r in sent if r.path.endswith("/v1/orders")]
        assert tokens[0].status == 503 and tokens[1].status == 200  # retried
        assert sum(r.status == 200 for r in tokens) >= 3, [r.status for r in tokens]
        assert len(pages) >= 15  # 150 orders, 10 a page
        assert tokens[0].headers.get("User-Agent", "").startswith("tap-commerce/")
        # every request, the token requests included, went through the run's pacer
        assert tap.transport.requests_sent == len(sent)
        assert min(gaps([r.time for r in sent])) >= 0.04 * 0.4  # no burst
        secret = config["client_secret"]
        assert secret not in json.dumps(out.messages)


# -- 5. the command ----------------------------------------------------------------------


def test_discover_lists_the_streams_of_a_user_definition(sb, tmp_path):
    path = user_copy("digital", tmp_path)
    out = run_cli(["--discover"], config={"definition": str(path)}, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    streams = {s["tap_stream_id"]: s for s in out.messages[0]["streams"]}
    assert set(streams) == {"products", "packages", "orders", "subscriptions"}
    assert streams["orders"]["replication_key"] == "created_at"
    extension = run_cli(
        ["--discover"], config={"definition": str(shop_extension(tmp_path))}, tmp_path=tmp_path
    )
    assert extension.returncode == 0, extension.stderr[-2000:]
    streams = {s["tap_stream_id"]: s for s in extension.messages[0]["streams"]}
    assert set(streams) == set(loader.builtin("shop").stream_names)
    assert streams["countries"]["key_properties"] == ["iso"]
    categories = json.loads((loader.schemas_dir() / "shop" / "categories.json").read_text())
    assert set(streams["themes"]["schema"]["properties"]) == set(categories["properties"])


def test_about_documents_the_definition_and_schema_sample_size_settings(tmp_path):
    # not `run_cli`: the answer is one indented JSON document, not Singer lines
    out = subprocess.run(
        [sys.executable, "-m", "tap_commerce", "--about", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    about = json.loads(out.stdout)
    settings = about["settings"]["properties"]
    assert set(settings["definition"]["type"]) >= {"string", "object"}
    assert "x-extends" in settings["definition"]["description"]
    assert "integer" in settings["schema_sample_size"]["type"]
    assert "Default 100" in settings["schema_sample_size"]["description"]
    assert "api" not in about["settings"].get("required", [])


def test_connection_test_of_a_user_definition_answers_in_one_line(sb, tmp_path):
    config = with_definition(sb.config("payments"), user_copy("payments", tmp_path))
    passed = run_cli(["--test"], config=config, tmp_path=tmp_path)
    assert passed.returncode == 0
    (line,) = passed.stderr.splitlines()
    assert line.endswith(
        f"connection test passed: the my_payments API answered at {sb.url}/payments/v1/order_payments"
    )
    failed = run_cli(["--test"], config={**config, "api_key": "wrong-fake-key"}, tmp_path=tmp_path)
    assert failed.returncode == 1
    (line,) = failed.stderr.splitlines()
    assert "connection test failed: the my_payments API at " in line
    assert "api_key=***" in line and "wrong-fake-key" not in line
    assert "check setting 'api_key'" in line
    # OAuth2: the URL that answered is the list's, not the token endpoint's
    orders = with_definition(sb.config("orders"), user_copy("orders", tmp_path))
    passed = run_cli(["--test"], config=orders, tmp_path=tmp_path)
    assert passed.returncode == 0, passed.stderr
    (line,) = passed.stderr.splitlines()
    assert line.endswith(f"the my_orders API answered at {sb.url}/orders/v1/orders")
