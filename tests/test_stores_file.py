"""The stores file of the many-stores orchestration (`orchestrate.stores`) and the
`meltano run` wrapper under Dagster Pipes (`orchestrate.meltano_run`).

Pinned here, fast and without Dagster or Meltano: a good file loads into the expected
`Stores`; every mistake is one line naming the file, the store and the key; a store's
environment (its settings under the extractor's names, the other stores' variables gone);
``python -m orchestrate.stores FILE`` and its exit codes; and the summary of Meltano's
console output (records per stream, the one error line) that the wrapper reports.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from dagster_pipes import DagsterPipesWarning, PipesContext, encode_param

from orchestrate import meltano_log, meltano_run
from orchestrate.stores import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LOADER,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_SCHEDULE,
    Store,
    Stores,
    StoresError,
    dagster_name,
    env_prefix,
    load,
    problems,
)
from orchestrate.stores import main as stores_main
from orchestrate.system_dir import own_system_dir
from tap_commerce.settings import API_IDS, OWN_SETTINGS, SECRET_SETTINGS

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
loader: target-duckdb
schedule: "*/15 * * * *"
concurrency: {default: 2, shop: 8}
retries: {max: 5, delay_seconds: 30}
stores:
  - name: north
    api: shop
    env:
      api_key: SHOP_NORTH_API_KEY
      api_secret: SHOP_NORTH_API_SECRET
      user_agent: COMMERCE_USER_AGENT
    settings:
      start_date: "2025-01-01T00:00:00Z"
      page_size: 50
      requests_per_second: 0.5
      child_sync: changed
      flattening_enabled: true
      stream_maps: {orders: {note: __NULL__}}
  - name: south-east
    api: shop
    extractor: tap-commerce-shop--eu
    env: {api_key: SHOP_SE_API_KEY, api_secret: SHOP_SE_API_SECRET}
    settings: {flattening_enabled: false}
  - name: north
    api: payments
    env: {api_key: PAYMENTS_NORTH_API_KEY, user_agent: COMMERCE_USER_AGENT}
"""
GOOD_VARIABLES = (
    "SHOP_NORTH_API_KEY",
    "SHOP_NORTH_API_SECRET",
    "COMMERCE_USER_AGENT",
    "SHOP_SE_API_KEY",
    "SHOP_SE_API_SECRET",
    "PAYMENTS_NORTH_API_KEY",
)
#: made-up secrets: none may ever appear in a message
SECRETS = {
    "SHOP_NORTH_API_KEY": "shpk-north-0f3a9c",
    "SHOP_NORTH_API_SECRET": "shps-north-77d21e",
    "COMMERCE_USER_AGENT": "acme-sync/1.0",
    "SHOP_SE_API_KEY": "shpk-se-41b0aa",
    "SHOP_SE_API_SECRET": "shps-se-9e8d7c",
    "PAYMENTS_NORTH_API_KEY": "sk_live_51Hx-payments-north",
}


def write(tmp_path: Path, text: str, name: str = "stores.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_store(body: str, *, top: str = "") -> str:
    """A file of one store; ``body`` is its entry's keys, two-space indented YAML."""
    indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    return f"{top}stores:\n  - name: north\n{indented}"


def the_error(path: Path) -> str:
    """The file's one mistake, checked to be one line and to be what `load` raises."""
    errors = problems(path)
    assert len(errors) == 1, errors
    (error,) = errors
    assert "\n" not in error
    assert error.startswith(f"stores file {path}: "), error
    with pytest.raises(StoresError) as raised:
        load(path)
    assert str(raised.value) == error
    return error


# --- 1. a good file ------------------------------------------------------------------------


def test_good_file_loads(tmp_path):
    path = write(tmp_path, GOOD)
    stores = load(path)
    assert isinstance(stores, Stores)
    assert problems(path) == []
    assert stores.path == path
    assert stores.loader == "target-duckdb"
    assert stores.schedule == "*/15 * * * *"
    assert stores.retries == 5
    assert stores.retry_delay == 30.0
    assert isinstance(stores.retry_delay, float)
    assert stores.apis == ("shop", "payments")
    assert [s.key for s in stores.stores] == [
        ("shop", "north"),
        ("shop", "south-east"),
        ("payments", "north"),
    ]
    assert [s.name for s in stores.of("shop")] == ["north", "south-east"]
    assert [s.name for s in stores.of("payments")] == ["north"]
    assert stores.of("orders") == ()
    assert stores.limit("shop") == 8
    assert stores.limit("payments") == 2  # the file's default
    assert stores.variables == GOOD_VARIABLES  # in order, each once

    north, south_east, payments = stores.stores
    assert north == Store(
        name="north",
        api="shop",
        extractor="tap-commerce-shop",
        env={
            "api_key": "SHOP_NORTH_API_KEY",
            "api_secret": "SHOP_NORTH_API_SECRET",
            "user_agent": "COMMERCE_USER_AGENT",
        },
        settings={
            "start_date": "2025-01-01T00:00:00Z",
            "page_size": 50,
            "requests_per_second": 0.5,
            "child_sync": "changed",
            "flattening_enabled": True,
            "stream_maps": {"orders": {"note": "__NULL__"}},
        },
        definition=None,
        where=f"stores file {path}: store 'north' (shop)",
    )
    assert south_east.extractor == "tap-commerce-shop--eu"
    assert south_east.prefix == "TAP_COMMERCE_SHOP__EU"
    assert south_east.settings == {"flattening_enabled": False}
    assert south_east.where == f"stores file {path}: store 'south-east' (shop)"
    assert payments.extractor == "tap-commerce-payments"
    assert payments.env == {
        "api_key": "PAYMENTS_NORTH_API_KEY",
        "user_agent": "COMMERCE_USER_AGENT",
    }
    assert payments.settings == {}
    assert [dagster_name(s) for s in stores.stores] == [
        "shop__north",
        "shop__south_east",
        "payments__north",
    ]


def test_defaults(tmp_path):
    path = write(tmp_path, "stores:\n  - {name: north, api: orders}\n")
    stores = load(path)
    assert stores.loader == DEFAULT_LOADER == "target-postgres"
    assert stores.schedule == DEFAULT_SCHEDULE == "0 * * * *"
    assert stores.concurrency == {}
    assert stores.limit("orders") == DEFAULT_CONCURRENCY
    assert stores.limit("shop") == DEFAULT_CONCURRENCY
    assert (stores.retries, stores.retry_delay) == (DEFAULT_RETRIES, DEFAULT_RETRY_DELAY)
    (store,) = stores.stores
    assert (store.env, store.settings, store.definition) == ({}, {}, None)
    assert store.extractor == "tap-commerce-orders"
    assert stores.variables == ()


def test_concurrency_of_an_api_without_default(tmp_path):
    path = write(tmp_path, one_store("api: shop", top="concurrency: {shop: 3}\n"))
    stores = load(path)
    assert (stores.limit("shop"), stores.limit("payments")) == (3, DEFAULT_CONCURRENCY)


def test_every_built_in_api(tmp_path):
    entries = "".join(f"  - {{name: north, api: {api}}}\n" for api in API_IDS)
    stores = load(write(tmp_path, f"stores:\n{entries}"))
    assert stores.apis == tuple(API_IDS)
    assert [s.extractor for s in stores.stores] == [f"tap-commerce-{api}" for api in API_IDS]


def test_api_of_a_definition(tmp_path):
    (tmp_path / "definitions").mkdir()
    definition = tmp_path / "definitions" / "myshop.yml"
    definition.write_text("client: {base_url: https://myshop.example}\n", encoding="utf-8")
    path = write(
        tmp_path,
        one_store(
            """
api: myshop
definition: definitions/myshop.yml
env: {api_key: MYSHOP_NORTH_KEY, shop_domain: MYSHOP_NORTH_DOMAIN}
settings: {region_ids: [1, 2]}
"""
        ),
    )
    (store,) = load(path).stores
    assert store.api == "myshop"
    assert store.extractor == "tap-commerce-myshop"
    assert store.definition == definition.resolve()
    assert store.definition.is_absolute()
    # a definition's own settings are not the built-in tap's: any name goes
    assert store.env == {"api_key": "MYSHOP_NORTH_KEY", "shop_domain": "MYSHOP_NORTH_DOMAIN"}
    assert store.settings == {"region_ids": [1, 2]}


def test_same_name_of_two_apis_is_fine(tmp_path):
    path = write(
        tmp_path, "stores:\n  - {name: north, api: shop}\n  - {name: north, api: payments}\n"
    )
    assert problems(path) == []
    assert [s.key for s in load(path).stores] == [("shop", "north"), ("payments", "north")]


def test_longest_name(tmp_path):
    name = "n" * 63
    (store,) = load(write(tmp_path, f"stores:\n  - {{name: {name}, api: shop}}\n")).stores
    assert store.name == name


@pytest.mark.parametrize(
    ("plugin", "prefix"),
    [
        ("tap-commerce-shop", "TAP_COMMERCE_SHOP"),
        ("tap-commerce-shop--eu", "TAP_COMMERCE_SHOP__EU"),
        ("tap-commerce.v2", "TAP_COMMERCE_V2"),
    ],
)
def test_env_prefix(plugin, prefix):
    assert env_prefix(plugin) == prefix


# --- 2. every mistake is one line ------------------------------------------------------------

SHOP = "api: shop\n"
ALLOWED_APIS = ", ".join(API_IDS)

#: id -> (the file, or None for no file; what the one line must say)
MISTAKES: dict[str, tuple[str | None, list[str]]] = {
    "file missing": (None, ["cannot be read"]),
    "not YAML": ("stores:\n  - name: 'north\n    api: shop\n", ["not valid YAML at line"]),
    "not a mapping (a list)": ("- name: north\n  api: shop\n", ["must be a mapping"]),
    "not a mapping (empty file)": ("", ["must be a mapping"]),
    "not a mapping (a string)": ("north\n", ["must be a mapping"]),
    "unknown top-level key": (
        "loaders: target-postgres\n" + one_store(SHOP),
        ["unknown key 'loaders'", "allowed: loader, schedule"],
    ),
    "stores missing": ("loader: target-postgres\n", ["'stores' must be a non-empty list"]),
    "stores empty": ("stores: []\n", ["'stores' must be a non-empty list"]),
    "stores null": ("stores:\n", ["'stores' must be a non-empty list"]),
    "stores not a list": (
        "stores: {name: north, api: shop}\n",
        ["'stores' must be a non-empty list"],
    ),
    "entry not a mapping": ("stores:\n  - north\n", ["store 1: must be a mapping"]),
    "entry is a list": ("stores:\n  - [north, shop]\n", ["store 1: must be a mapping"]),
    "name with spaces": (
        "stores:\n  - {name: north store, api: shop}\n",
        ["store 1: name: 'north store' must be letters"],
    ),
    "name with leading dash": (
        "stores:\n  - {name: '-north', api: shop}\n",
        ["store 1: name: '-north' must be letters"],
    ),
    "name too long": (
        f"stores:\n  - {{name: {'n' * 64}, api: shop}}\n",
        ["store 1: name:", "at most 63"],
    ),
    "name missing": ("stores:\n  - {api: shop}\n", ["store 1: name: None must be"]),
    "name not a string": ("stores:\n  - {name: 12, api: shop}\n", ["store 1: name: 12 must be"]),
    "name of the second entry": (
        "stores:\n  - {name: north, api: shop}\n  - {name: 'so uth', api: shop}\n",
        ["store 2: name: 'so uth'"],
    ),
    "unknown key in an entry": (
        one_store("api: shop\nenvs: {api_key: SHOP_NORTH_API_KEY}"),
        ["store 'north' (shop): unknown key 'envs'", "allowed: name, api"],
    ),
    "api missing": (
        one_store("env: {api_key: SHOP_NORTH_API_KEY}"),
        ["store 'north' (?): api: required", ALLOWED_APIS],
    ),
    "unknown api": (
        one_store("api: shopp"),
        ["store 'north' (shopp): api: 'shopp' is not a built-in API", ALLOWED_APIS, "definition"],
    ),
    "api label invalid with a definition": (
        one_store("api: my-shop\ndefinition: myshop.yml"),
        ["store 'north' (my-shop): api: 'my-shop' must be letters, digits or '_'"],
    ),
    "definition path missing": (
        one_store("api: myshop\ndefinition: nowhere/myshop.yml"),
        ["store 'north' (myshop): definition: no file ", "nowhere/myshop.yml"],
    ),
    "definition not a path": (
        one_store("api: myshop\ndefinition: [myshop.yml]"),
        ["store 'north' (myshop): definition: must be the path of a definition file"],
    ),
    "duplicate store": (
        "stores:\n  - {name: north, api: shop}\n  - {name: north, api: shop}\n",
        ["store 'north' (shop): name: a duplicate of store 1 in the file"],
    ),
    "dagster names collide": (
        "stores:\n  - {name: a-b, api: shop}\n  - {name: a_b, api: shop}\n",
        ["store 'a_b' (shop): name: its Dagster name shop__a_b is also that of store 'a-b' (shop)"],
    ),
    "bad extractor": (
        one_store("api: shop\nextractor: tap commerce"),
        ["store 'north' (shop): extractor: must be the name of a Meltano extractor"],
    ),
    "env value with spaces": (
        one_store("api: shop\nenv: {api_key: shop north key}"),
        ["store 'north' (shop): env.api_key: ", "not the name of an environment variable"],
    ),
    "env value a secret with a dash": (
        one_store("api: payments\nenv: {api_key: sk_live_51Hx-9f8e7d}"),
        ["store 'north' (payments): env.api_key: ", "not the name of an environment variable"],
    ),
    "env value a number": (
        one_store("api: shop\nenv: {api_key: 12345}"),
        ["store 'north' (shop): env.api_key: ", "not the name of an environment variable"],
    ),
    "env not a mapping": (
        one_store("api: shop\nenv: [SHOP_NORTH_API_KEY]"),
        ["store 'north' (shop): env: must be a mapping of setting names"],
    ),
    "env key not a tap setting": (
        one_store("api: shop\nenv: {shop_domain: SHOP_NORTH_DOMAIN}"),
        ["store 'north' (shop): env.shop_domain: tap-commerce has no setting 'shop_domain'"],
    ),
    "settings key not a tap setting": (
        one_store("api: shop\nsettings: {pagesize: 50}"),
        ["store 'north' (shop): settings.pagesize: tap-commerce has no setting 'pagesize'"],
    ),
    "setting under env and settings": (
        one_store("api: shop\nenv: {start_date: SHOP_START}\nsettings: {start_date: '2025-01-01'}"),
        ["store 'north' (shop): settings.start_date: also under env; give it once"],
    ),
    "settings value null": (
        one_store("api: shop\nsettings: {start_date: null}"),
        ["store 'north' (shop): settings.start_date: has no value"],
    ),
    "schedule of four fields": (
        one_store(SHOP, top="schedule: '0 * * *'\n"),
        ["'schedule' is '0 * * *': must be a cron expression of five fields"],
    ),
    "schedule of six fields": (
        one_store(SHOP, top="schedule: '0 0 * * * *'\n"),
        ["'schedule' is '0 0 * * * *'", "five fields"],
    ),
    "schedule not a string": (one_store(SHOP, top="schedule: 5\n"), ["'schedule' must be"]),
    "loader empty": (one_store(SHOP, top="loader: ''\n"), ["'loader' must be a non-empty string"]),
    "concurrency 0": (
        one_store(SHOP, top="concurrency: {shop: 0}\n"),
        ["concurrency.shop: 0 must be a whole number from 1"],
    ),
    "concurrency negative": (
        one_store(SHOP, top="concurrency: {default: -2}\n"),
        ["concurrency.default: -2 must be a whole number from 1"],
    ),
    "concurrency bool": (
        one_store(SHOP, top="concurrency: {shop: true}\n"),
        ["concurrency.shop: True must be a whole number"],
    ),
    "concurrency a float": (
        one_store(SHOP, top="concurrency: {shop: 2.5}\n"),
        ["concurrency.shop: 2.5 must be a whole number"],
    ),
    "concurrency a string": (
        one_store(SHOP, top="concurrency: {shop: '4'}\n"),
        ["concurrency.shop: '4' must be a whole number"],
    ),
    "concurrency not a mapping": (
        one_store(SHOP, top="concurrency: 4\n"),
        ["'concurrency' must map an API"],
    ),
    "retries unknown key": (
        one_store(SHOP, top="retries: {maximum: 3}\n"),
        ["'retries' must be a mapping of 'max' and 'delay_seconds'"],
    ),
    "retries not a mapping": (
        one_store(SHOP, top="retries: 3\n"),
        ["'retries' must be a mapping of 'max' and 'delay_seconds'"],
    ),
    "retries negative": (
        one_store(SHOP, top="retries: {max: -1}\n"),
        ["retries.max: -1 must be a whole number from 0"],
    ),
    "retries bool": (
        one_store(SHOP, top="retries: {max: true}\n"),
        ["retries.max: True must be a whole number from 0"],
    ),
    "retries a float": (
        one_store(SHOP, top="retries: {max: 1.5}\n"),
        ["retries.max: 1.5 must be a whole number"],
    ),
    "retry delay negative": (
        one_store(SHOP, top="retries: {delay_seconds: -5}\n"),
        ["retries.delay_seconds: -5 must be a number of seconds from 0"],
    ),
    "retry delay bool": (
        one_store(SHOP, top="retries: {delay_seconds: false}\n"),
        ["retries.delay_seconds: False must be a number of seconds"],
    ),
    "retry delay a string": (
        one_store(SHOP, top="retries: {delay_seconds: 1m}\n"),
        ["retries.delay_seconds: '1m' must be a number of seconds"],
    ),
}
for _secret in SECRET_SETTINGS:
    MISTAKES[f"secret {_secret} under settings"] = (
        one_store(f"api: shop\nsettings: {{{_secret}: hunter2-do-not-print}}"),
        [
            f"store 'north' (shop): settings.{_secret}: a secret never goes in this file",
            f"under env.{_secret}",
        ],
    )
for _reserved in ("store", "api", "definition", "emit_activate_version_messages"):
    MISTAKES[f"reserved {_reserved} under env"] = (
        one_store(f"api: shop\nenv: {{{_reserved}: SOME_VARIABLE}}"),
        [f"store 'north' (shop): env.{_reserved}: not a store's setting"],
    )
    MISTAKES[f"reserved {_reserved} under settings"] = (
        one_store(f"api: shop\nsettings: {{{_reserved}: 'false'}}"),
        [f"store 'north' (shop): settings.{_reserved}: not a store's setting"],
    )


@pytest.mark.parametrize(("text", "says"), MISTAKES.values(), ids=MISTAKES.keys())
def test_mistake_is_one_line(tmp_path, text, says):
    (tmp_path / "myshop.yml").write_text("client: {base_url: https://x.example}\n")
    path = tmp_path / "stores.yml" if text is None else write(tmp_path, text)
    error = the_error(path)
    for part in says:
        assert part in error, (part, error)
    assert "hunter2" not in error


def test_secret_settings_are_the_tap_secrets():
    # the refusal above covers every secret the tap declares
    assert set(SECRET_SETTINGS) == {
        "api_key",
        "api_secret",
        "password",
        "client_secret",
        "refresh_token",
    }
    assert set(SECRET_SETTINGS) <= OWN_SETTINGS


def test_reserved_messages_say_why(tmp_path):
    path = write(tmp_path, one_store("api: shop\nsettings: {emit_activate_version_messages: true}"))
    assert "retire the other stores' rows" in the_error(path)


def test_problems_lists_every_entry_mistake(tmp_path):
    text = """\
stores:
  - {name: north, api: shop, env: {api_key: SHOP_NORTH_API_KEY}}
  - {name: bad name, api: shop}
  - {name: west, api: shopp}
  - {name: east, api: shop, settings: {api_secret: hunter2-do-not-print}}
  - {name: north, api: shop}
  - {name: south, api: payments, env: {api_key: PAYMENTS_SOUTH_API_KEY}}
  - 42
"""
    path = write(tmp_path, text)
    errors = problems(path)
    where = f"stores file {path}"
    assert [e.split(": ", 2)[1] for e in errors] == [
        "store 2",
        "store 'west' (shopp)",
        "store 'east' (shop)",
        "store 'north' (shop)",
        "store 7",
    ]
    assert all(e.startswith(where) and "\n" not in e for e in errors)
    assert "api: 'shopp'" in errors[1]
    assert "settings.api_secret" in errors[2]
    assert "duplicate of store 1" in errors[3]
    assert not any("hunter2" in e for e in errors)
    with pytest.raises(StoresError) as raised:
        load(path)
    assert str(raised.value) == errors[0]


def test_a_mistake_of_the_file_stops_before_the_entries(tmp_path):
    path = write(tmp_path, "schedule: hourly\nstores:\n  - {name: bad name, api: shopp}\n")
    assert problems(path) == [
        f"stores file {path}: 'schedule' is 'hourly': must be a cron expression of five fields"
    ]


# --- 2b. defects found -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "name: |\n      north\n    api: shop\n",
        "name: north\n    api: |\n      myshop\n    definition: myshop.yml\n",
        "name: north\n    api: shop\n    env:\n      api_key: |\n        SHOP_NORTH_API_KEY\n",
        "name: north\n    api: shop\n    extractor: |\n      tap-commerce-shop\n",
    ],
    ids=["name", "api label", "env variable", "extractor"],
)
def test_trailing_newline_is_refused(tmp_path, entry):
    (tmp_path / "myshop.yml").write_text("client: {base_url: https://x.example}\n")
    path = write(tmp_path, f"stores:\n  - {entry}")
    the_error(path)


def test_message_of_a_name_with_a_newline_is_one_line(tmp_path):
    path = write(tmp_path, "stores:\n  - name: |\n      north\n    api: shop\n    envs: {}\n")
    the_error(path)


@pytest.mark.parametrize("value", ["sk_live_51Hx-9f8e7d", "my shop api key"])
def test_env_value_is_not_echoed(tmp_path, value):
    path = write(tmp_path, one_store(f"api: payments\nenv: {{api_key: '{value}'}}"))
    error = the_error(path)
    assert "env.api_key" in error
    assert value not in error


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-01-01", "2025-01-01"), ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00")],
)
def test_unquoted_date_setting(tmp_path, value, expected):
    path = write(tmp_path, one_store(f"api: shop\nsettings: {{start_date: {value}}}"))
    errors = problems(path)
    if errors:  # refused at load: one line naming the setting
        assert len(errors) == 1 and "\n" not in errors[0]
        assert "settings.start_date" in errors[0]
    else:  # or passed on as the date
        (store,) = load(path).stores
        assert store.environment({})["TAP_COMMERCE_SHOP_START_DATE"].startswith(expected)


def test_same_extractor_and_name_share_a_state_id(tmp_path):
    (tmp_path / "myshop.yml").write_text("client: {base_url: https://x.example}\n")
    path = write(
        tmp_path,
        "stores:\n"
        "  - {name: north, api: shop}\n"
        "  - {name: north, api: myshop, definition: myshop.yml, extractor: tap-commerce-shop}\n",
    )
    assert "store 'north' (myshop)" in the_error(path)


def test_api_of_a_built_in_store_reaches_the_extractor(tmp_path):
    path = write(tmp_path, one_store("api: payments\nextractor: tap-commerce-shop"))
    errors = problems(path)
    if not errors:
        (store,) = load(path).stores
        assert store.environment({}).get("TAP_COMMERCE_SHOP_API") == "payments"


@pytest.mark.parametrize("delay", [".nan", ".inf"])
def test_retry_delay_not_a_finite_number(tmp_path, delay):
    path = write(tmp_path, one_store(SHOP, top=f"retries: {{delay_seconds: {delay}}}\n"))
    assert "retries.delay_seconds" in the_error(path)


# --- 3. a store's environment ----------------------------------------------------------------


@pytest.fixture
def good(tmp_path) -> Stores:
    return load(write(tmp_path, GOOD))


def test_environment(good):
    north, south_east, _ = good.stores
    foreign = tuple(v for v in good.variables if v not in north.env.values())
    environ = {"PATH": "/usr/bin", "MELTANO_ENVIRONMENT": "prod", **SECRETS}
    env = north.environment(environ, foreign=foreign)
    assert env == {
        "PATH": "/usr/bin",
        "MELTANO_ENVIRONMENT": "prod",
        "SHOP_NORTH_API_KEY": SECRETS["SHOP_NORTH_API_KEY"],
        "SHOP_NORTH_API_SECRET": SECRETS["SHOP_NORTH_API_SECRET"],
        "COMMERCE_USER_AGENT": SECRETS["COMMERCE_USER_AGENT"],
        "TAP_COMMERCE_SHOP_API_KEY": SECRETS["SHOP_NORTH_API_KEY"],
        "TAP_COMMERCE_SHOP_API_SECRET": SECRETS["SHOP_NORTH_API_SECRET"],
        "TAP_COMMERCE_SHOP_USER_AGENT": SECRETS["COMMERCE_USER_AGENT"],
        "TAP_COMMERCE_SHOP_START_DATE": "2025-01-01T00:00:00Z",
        "TAP_COMMERCE_SHOP_PAGE_SIZE": "50",
        "TAP_COMMERCE_SHOP_REQUESTS_PER_SECOND": "0.5",
        "TAP_COMMERCE_SHOP_CHILD_SYNC": "changed",
        "TAP_COMMERCE_SHOP_FLATTENING_ENABLED": "true",
        "TAP_COMMERCE_SHOP_STREAM_MAPS": '{"orders": {"note": "__NULL__"}}',
        "TAP_COMMERCE_SHOP_API": "shop",
        "TAP_COMMERCE_SHOP_STORE": "north",
        "TAP_COMMERCE_SHOP_EMIT_ACTIVATE_VERSION_MESSAGES": "false",
    }
    assert json.loads(env["TAP_COMMERCE_SHOP_STREAM_MAPS"]) == {"orders": {"note": "__NULL__"}}
    assert environ == {"PATH": "/usr/bin", "MELTANO_ENVIRONMENT": "prod", **SECRETS}  # untouched

    env = south_east.environment(environ, foreign=("SHOP_NORTH_API_KEY", "SHOP_NORTH_API_SECRET"))
    assert "SHOP_NORTH_API_KEY" not in env
    assert "SHOP_NORTH_API_SECRET" not in env
    assert env["TAP_COMMERCE_SHOP__EU_API_KEY"] == SECRETS["SHOP_SE_API_KEY"]
    assert env["TAP_COMMERCE_SHOP__EU_API_SECRET"] == SECRETS["SHOP_SE_API_SECRET"]
    assert env["TAP_COMMERCE_SHOP__EU_FLATTENING_ENABLED"] == "false"
    assert env["TAP_COMMERCE_SHOP__EU_STORE"] == "south-east"
    assert env["TAP_COMMERCE_SHOP__EU_EMIT_ACTIVATE_VERSION_MESSAGES"] == "false"
    # nothing under the shop extractor's own names
    assert not any(k.startswith("TAP_COMMERCE_SHOP_") for k in env if "__EU_" not in k)


def test_environment_overrides_the_outer_setting(good):
    # a value the deployment's environment already holds under the extractor's name gives way
    north = good.stores[0]
    environ = {
        **SECRETS,
        "TAP_COMMERCE_SHOP_STORE": "elsewhere",
        "TAP_COMMERCE_SHOP_PAGE_SIZE": "7",
    }
    env = north.environment(environ)
    assert env["TAP_COMMERCE_SHOP_STORE"] == "north"
    assert env["TAP_COMMERCE_SHOP_PAGE_SIZE"] == "50"


def test_environment_of_a_definition(tmp_path):
    (tmp_path / "defs").mkdir()
    definition = tmp_path / "defs" / "myshop.yml"
    definition.write_text("client: {base_url: https://myshop.example}\n", encoding="utf-8")
    path = write(
        tmp_path,
        one_store(
            """
api: myshop
definition: defs/myshop.yml
env: {api_key: MYSHOP_NORTH_KEY}
settings: {region_ids: [1, 2], limits: {max: 3}, ratio: 1.5, label: "007"}
"""
        ),
    )
    (store,) = load(path).stores
    env = store.environment({"MYSHOP_NORTH_KEY": "mk-1"})
    assert env == {
        "MYSHOP_NORTH_KEY": "mk-1",
        "TAP_COMMERCE_MYSHOP_API_KEY": "mk-1",
        "TAP_COMMERCE_MYSHOP_REGION_IDS": "[1, 2]",
        "TAP_COMMERCE_MYSHOP_LIMITS": '{"max": 3}',
        "TAP_COMMERCE_MYSHOP_RATIO": "1.5",
        "TAP_COMMERCE_MYSHOP_LABEL": "007",
        "TAP_COMMERCE_MYSHOP_DEFINITION": str(definition.resolve()),
        "TAP_COMMERCE_MYSHOP_API": "",
        "TAP_COMMERCE_MYSHOP_STORE": "north",
        "TAP_COMMERCE_MYSHOP_EMIT_ACTIVATE_VERSION_MESSAGES": "false",
    }
    assert Path(env["TAP_COMMERCE_MYSHOP_DEFINITION"]).is_absolute()


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_environment_missing_variable(good, value):
    north = good.stores[0]
    environ = dict(SECRETS)
    if value is None:
        del environ["SHOP_NORTH_API_SECRET"]
    else:
        environ["SHOP_NORTH_API_SECRET"] = value
    with pytest.raises(StoresError) as raised:
        north.environment(environ, foreign=("SHOP_SE_API_KEY",))
    error = str(raised.value)
    assert error == (
        f"stores file {good.path}: store 'north' (shop): env.api_secret: "
        "environment variable SHOP_NORTH_API_SECRET is not set"
    )
    assert "\n" not in error
    assert not any(secret in error for secret in SECRETS.values())
    assert north.missing(environ) == [error]


def test_missing_lists_every_variable(good):
    environ = {k: v for k, v in SECRETS.items() if k != "SHOP_SE_API_KEY"}
    environ["PAYMENTS_NORTH_API_KEY"] = ""
    missing = good.missing(environ)
    assert missing == [
        (
            f"stores file {good.path}: store 'south-east' (shop): env.api_key: "
            "environment variable SHOP_SE_API_KEY is not set"
        ),
        (
            f"stores file {good.path}: store 'north' (payments): env.api_key: "
            "environment variable PAYMENTS_NORTH_API_KEY is not set"
        ),
    ]
    assert good.missing(SECRETS) == []


# --- 4. python -m orchestrate.stores ---------------------------------------------------------


class Cli:
    """``python -m orchestrate.stores`` four ways, started together (each interpreter
    imports singer-sdk: half a second).
    """

    def __init__(self, folder: Path) -> None:
        good = write(folder, GOOD, "good.yml")
        bad = write(folder, one_store("api: shopp"), "bad.yml")
        # the file's variables are only those set here
        clean = {k: v for k, v in os.environ.items() if k not in GOOD_VARIABLES}
        some = dict(SECRETS)
        del some["SHOP_SE_API_KEY"]
        some["PAYMENTS_NORTH_API_KEY"] = ""
        runs = {
            "all set": ([str(good)], {**clean, **SECRETS}, good),
            "some missing": ([str(good)], {**clean, **some}, good),
            "bad file": ([str(bad)], {**clean, **SECRETS}, bad),
            "no argument": ([], {**clean, **SECRETS}, None),
        }
        self.files = {key: file for key, (_, _, file) in runs.items()}
        self.processes = {
            key: subprocess.Popen(
                [sys.executable, "-m", "orchestrate.stores", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for key, (args, env, _) in runs.items()
        }
        self.results: dict[str, tuple[int, str, str, Path | None]] = {}

    def __getitem__(self, key: str) -> tuple[int, str, str, Path | None]:
        """Exit code, stdout, stderr and the file of one run."""
        if key not in self.results:
            process = self.processes[key]
            out, err = process.communicate(timeout=60)
            self.results[key] = (process.returncode, out, err, self.files[key])
        return self.results[key]

    def close(self) -> None:
        for key, process in self.processes.items():
            if key not in self.results:
                process.kill()
                process.communicate()


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    runs = Cli(tmp_path_factory.mktemp("cli"))
    yield runs
    runs.close()


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS.values():
            assert secret not in text


def test_cli_all_set(cli):
    code, out, err, path = cli["all set"]
    assert (code, err) == (0, "")
    assert out == (f"{path}: 3 stores of 2 APIs (shop, payments); every variable is set\n")
    no_secret(out)


def test_cli_some_missing(cli):
    code, out, err, path = cli["some missing"]
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        (
            f"stores file {path}: store 'south-east' (shop): env.api_key: "
            "environment variable SHOP_SE_API_KEY is not set"
        ),
        (
            f"stores file {path}: store 'north' (payments): env.api_key: "
            "environment variable PAYMENTS_NORTH_API_KEY is not set"
        ),
    ]
    no_secret(out, err)


def test_cli_bad_file(cli):
    code, out, err, path = cli["bad file"]
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        (
            f"stores file {path}: store 'north' (shopp): api: 'shopp' is not a built-in API "
            f"(one of {ALLOWED_APIS}); an API of your own needs 'definition'"
        )
    ]


def test_cli_usage(cli):
    code, out, err, _ = cli["no argument"]
    assert (code, out) == (2, "")
    assert err == "usage: python -m orchestrate.stores STORES_FILE\n"


@pytest.mark.parametrize("argv", [["a.yml", "b.yml"], ["--help"]], ids=["two", "option"])
def test_usage_in_process(argv, capsys):
    assert stores_main(argv) == 2
    assert capsys.readouterr() == ("", "usage: python -m orchestrate.stores STORES_FILE\n")


# --- 5. meltano_log.summarise ----------------------------------------------------------------

TAP = "tap-commerce-orders"
TARGET = "target-postgres"


def metric(source: str, stream: str, value: int, name: str = "record_count") -> str:
    tags = {"stream": stream, "context": {}, "endpoint": f"/v1/{stream}"}
    body = json.dumps(
        {"type": "counter", "metric": name, "value": value, "tags": tags},
        separators=(",", ":"),
    )
    return f"2026-12-02T23:05:58.{value:06d}Z [info     ] {source} METRIC: {body}\n"


STARTED = [
    "2026-12-02T23:05:55.013571Z [info     ] meltano      Environment 'dev' is active\n",
    "2026-12-02T23:05:57.481992Z [info     ] tap-commerce-orders Beginning incremental sync of 'orders'...\n",
]
TAP_ERROR = (
    "2026-12-02T23:05:59.160306Z [error    ] tap-commerce-orders the orders API's token "
    "endpoint refused the client credentials (HTTP 401 from https://auth.example/token): "
    "check settings client_id and client_secret\n"
)
UNHANDLED = (
    "2026-12-02T23:05:59.160912Z [error    ] tap-commerce-orders An unhandled error occurred "
    "while running the tap\n"
)
BLOCK = "2026-12-02T23:05:59.402113Z [error    ] meltano      Block run completed.\n"
RUN_FAILED = (
    "2026-12-02T23:05:59.402200Z [error    ] meltano      Run invocation could not be "
    "completed as block failed: Extractor failed\n"
)


def test_summarise_counts_records_per_stream():
    lines = [
        *STARTED,
        metric(TAP, "orders", 100),
        metric(TAP, "orders", 23),
        metric(TAP, "order_items", 250),
        metric(TAP, "orders", 5, name="http_request_count"),
        '2026-12-02T23:05:58.000001Z [info     ] tap-commerce-orders METRIC: {"type":"timer","metric":"sync_duration","value":1.2,"tags":{"stream":"orders"}}\n',
        metric(TARGET, "orders", 123),  # the loader counts the same records again
        metric("tap-commerce-shop", "products", 9),  # another plugin's
        f"{TAP} METRIC: not a Meltano line\n",
        "2026-12-02T23:05:58.1Z [info     ] tap-commerce-orders METRIC: {not json\n",
        "2026-12-02T23:05:58.2Z [info     ] tap-commerce-orders METRIC: [1, 2]\n",
        "Traceback (most recent call last):\n",
        "\n",
        '2026-12-02T23:05:58.3Z [info     ] tap-commerce-orders METRIC: {"type":"counter","metric":"record_count","value":0,"tags":{"stream":"refunds"}}\n',
        '2026-12-02T23:05:58.4Z [info     ] tap-commerce-orders METRIC: {"type":"counter","metric":"record_count","value":4}\n',
        "2026-12-02T23:06:01.000000Z [info     ] meltano      Block run completed.\n",
    ]
    assert meltano_log.summarise(lines, TAP) == (
        {"orders": 123, "order_items": 250, "refunds": 0, "?": 4},
        "",
    )


def test_summarise_takes_the_plugins_last_error():
    lines = [
        *STARTED,
        metric(TAP, "orders", 7),
        "2026-12-02T23:05:58.900000Z [warning  ] tap-commerce-orders retrying after HTTP 503\n",
        "2026-12-02T23:05:59.000000Z [error    ] tap-commerce-orders first error\n",
        TAP_ERROR,
        UNHANDLED,
        BLOCK,
        RUN_FAILED,
    ]
    records, error = meltano_log.summarise(lines, TAP)
    assert records == {"orders": 7}
    assert error == (
        "tap-commerce-orders: the orders API's token endpoint refused the client credentials "
        "(HTTP 401 from https://auth.example/token): check settings client_id and client_secret"
    )


def test_summarise_takes_the_loaders_error():
    lines = [
        *STARTED,
        metric(TAP, "orders", 3),
        (
            "2026-12-02T23:06:00.1Z [critical ] target-postgres psycopg2.OperationalError: "
            'connection to server at "db" failed\n'
        ),
        "2026-12-02T23:06:00.2Z [error    ] target-postgres An unhandled error occurred\n",
        BLOCK,
    ]
    _, error = meltano_log.summarise(lines, TAP)
    assert error == (
        'target-postgres: psycopg2.OperationalError: connection to server at "db" failed'
    )


def test_summarise_falls_back_to_meltanos_error():
    lines = [
        "2026-12-02T23:05:55.013571Z [info     ] meltano      Environment 'dev' is active\n",
        (
            "2026-12-02T23:05:55.100000Z [error    ] meltano      Extractor 'tap-x' is not known "
            "to Meltano\n"
        ),
        BLOCK,
    ]
    assert meltano_log.summarise(lines, "tap-x") == (
        {},
        "Extractor 'tap-x' is not known to Meltano",
    )


def test_summarise_without_error():
    lines = [*STARTED, metric(TAP, "orders", 1), UNHANDLED, BLOCK]
    assert meltano_log.summarise(lines, TAP) == ({"orders": 1}, "")
    assert meltano_log.summarise([], TAP) == ({}, "")


def logged(source: str, text: str, level: str = "info") -> str:
    """A line of a plugin as Meltano 4 prints it: the name padded to 12 characters."""
    return f"2026-12-03T02:08:34.000001Z [{level:<9}] {source:<12} {text}\n"


#: target-postgres losing the race to create a schema: its traceback comes at info
RACE = [
    logged(TARGET, "Traceback (most recent call last):"),
    logged(
        TARGET,
        '  File "/venv/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1967, in _exec_single_context',
    ),
    logged(TARGET, "    self.dialect.do_execute("),
    logged(TARGET, 'psycopg.errors.DuplicateSchema: schema "shop" already exists'),
    logged(TARGET, ""),
    logged(TARGET, "The above exception was the direct cause of the following exception:"),
    logged(TARGET, ""),
    logged(TARGET, "Traceback (most recent call last):"),
    logged(TARGET, '  File "/venv/bin/target-postgres", line 8, in <module>'),
    logged(TARGET, "    sys.exit(TargetPostgres.cli())"),
    logged(TARGET, "           ^^^^^^^^^^^^^^^^^^^^^^"),
    logged(
        TARGET,
        'sqlalchemy.exc.ProgrammingError: (psycopg.errors.DuplicateSchema) schema "shop" '
        "already exists",
    ),
    logged(TARGET, "[SQL: CREATE SCHEMA shop]"),
    logged(TARGET, "(Background on this error at: https://sqlalche.me/e/20/f405)"),
    logged("meltano", "Block run completed.", "error"),
]
RACE_REASON = (
    "target-postgres: sqlalchemy.exc.ProgrammingError: (psycopg.errors.DuplicateSchema) "
    'schema "shop" already exists'
)


def test_reason_is_the_exception_ending_a_plugins_last_traceback():
    assert meltano_log.reason([*STARTED, *RACE]) == RACE_REASON
    assert meltano_log.summarise([*STARTED, metric(TAP, "orders", 2), *RACE], TAP) == (
        {"orders": 2},
        RACE_REASON,
    )


def test_reason_prefers_a_plugins_error_line_to_its_traceback():
    lines = [*STARTED, *RACE[:4], TAP_ERROR, BLOCK]
    assert meltano_log.reason(lines).startswith("tap-commerce-orders: the orders API's token")


def test_reason_reads_the_traceback_of_a_plugin_with_a_short_name():
    lines = [
        logged("tap-x", "Traceback (most recent call last):"),
        logged("tap-x", '  File "x.py", line 1, in <module>'),
        logged("tap-x", "    raise"),
        logged("tap-x", "RuntimeError"),
        logged("meltano", "Run invocation could not be completed as block failed", "error"),
    ]
    assert "tap-x  " in lines[0]  # padded
    assert meltano_log.reason(lines) == "tap-x: RuntimeError"


def test_reason_passes_over_a_traceback_without_its_exception_line():
    lines = [
        logged(TARGET, "Traceback (most recent call last):"),
        logged(TARGET, '  File "x.py", line 1, in <module>'),
        logged(TARGET, "(cut short)"),
        logged("meltano", "Block run completed.", "error"),
    ]
    assert meltano_log.reason(lines) == ""


#: how target-postgres's failures read, through SQLAlchemy
SQL = "target-postgres: sqlalchemy.exc."


@pytest.mark.parametrize(
    ("why", "raced"),
    [
        (RACE_REASON, True),
        (SQL + 'ProgrammingError: (psycopg.errors.DuplicateTable) relation "items" already exists', True),
        (SQL + 'IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "pg_type_typname_nsp_index"', True),
        (SQL + 'ProgrammingError: (psycopg.errors.DuplicateColumn) column "wrap" of relation "orders" already exists', True),
        (SQL + 'IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "orders_pkey"', False),
        ('target-postgres: psycopg2.OperationalError: connection to server at "db" failed', False),
        (TAP_ERROR, False),
        ("", False),
    ],
    ids=["schema", "table", "type", "column", "a key", "connection", "tap", "none"],
)  # fmt: skip
def test_created_concurrently(why, raced):
    assert meltano_log.created_concurrently(why) is raced


# --- 6. meltano_run.run and main -------------------------------------------------------------


def fake_meltano(lines: list[str], code: int) -> list[str]:
    """A command that prints Meltano-shaped lines (to stdout and stderr) and exits ``code``."""
    script = (
        "import sys\n"
        f"lines = {lines!r}\n"
        "for i, line in enumerate(lines):\n"
        "    (sys.stderr if i % 2 else sys.stdout).write(line); (sys.stderr if i % 2 else sys.stdout).flush()\n"
        f"sys.exit({code})\n"
    )
    return [sys.executable, "-c", script]


def usage_checked(outcome: dict) -> dict:
    """The outcome without its CPU seconds and peak memory, once they are checked to be
    measurements (the fake Meltano is a Python process: some CPU, some memory)."""
    rest = dict(outcome)
    cpu, peak = rest.pop("cpu_seconds"), rest.pop("peak_rss_mb")
    assert (rest.pop("requests"), rest.pop("responses_429")) == (0, 0)  # no summary lines
    assert 0 < cpu < 30
    assert 1 < peak < 1000
    return rest


def test_run_failure(capsys):
    lines = [*STARTED, metric(TAP, "orders", 2), TAP_ERROR, UNHANDLED, BLOCK, RUN_FAILED]
    outcome = meltano_run.run(fake_meltano(lines, 1), TAP)
    assert usage_checked(outcome) == {
        "exit_code": 1,
        "records": {"orders": 2},
        "error": "tap-commerce-orders: " + TAP_ERROR.split(f"{TAP} ", 1)[1].rstrip("\n"),
        "reruns": [],
    }
    # every line passed through to stderr
    assert sorted(capsys.readouterr().err.splitlines()) == sorted(
        line.rstrip("\n") for line in lines
    )


def test_run_success():
    lines = [
        *STARTED,
        metric(TAP, "orders", 40),
        metric(TAP, "order_items", 2),
        metric(TAP, "orders", 2),
        metric(TARGET, "orders", 42),
        "2026-12-02T23:05:59.0Z [error    ] tap-commerce-orders a recovered error\n",
        "2026-12-02T23:06:01.000000Z [info     ] meltano      Block run completed.\n",
    ]
    outcome = meltano_run.run(fake_meltano(lines, 0), TAP)
    assert usage_checked(outcome) == {
        "exit_code": 0,
        "records": {"orders": 42, "order_items": 2},
        "error": "",
        "reruns": [],
    }


def test_run_failure_without_an_error_line():
    outcome = meltano_run.run(fake_meltano([*STARTED], 3), TAP)
    assert usage_checked(outcome) == {
        "exit_code": 3,
        "records": {},
        "error": "meltano exited 3 without an error line",
        "reruns": [],
    }


def racing_meltano(lines: list[str], marker: Path, losses: int) -> list[str]:
    """A command that, the first ``losses`` times it runs, prints ``lines`` then a loader
    losing the race to create a schema and exits 1; after that prints ``lines`` and
    exits 0 (``marker`` counts the runs)."""
    script = (
        "import pathlib, sys\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "runs = int(marker.read_text()) if marker.exists() else 0\n"
        "marker.write_text(str(runs + 1))\n"
        f"sys.stdout.write(''.join({lines!r}))\n"
        f"if runs < {losses}:\n"
        f"    sys.stdout.write(''.join({RACE!r}))\n"
        "    sys.exit(1)\n"
    )
    return [sys.executable, "-c", script]


def test_run_runs_again_at_once_after_losing_a_race_to_create_a_table(tmp_path, capsys):
    marker = tmp_path / "runs"
    lines = [*STARTED, metric(TAP, "orders", 3)]
    outcome = meltano_run.run(racing_meltano(lines, marker, losses=2), TAP)
    assert marker.read_text() == "3"
    assert usage_checked(outcome) == {
        "exit_code": 0,
        "records": {"orders": 9},  # what the tap sent, every run
        "error": "",
        "reruns": [RACE_REASON, RACE_REASON],
    }
    assert capsys.readouterr().err.count(f"orchestrate: running again at once: {RACE_REASON}") == 2


def test_run_gives_up_after_so_many_races(tmp_path):
    marker = tmp_path / "runs"
    outcome = meltano_run.run(racing_meltano(STARTED, marker, losses=99), TAP)
    assert marker.read_text() == str(1 + meltano_run.RERUNS)
    assert usage_checked(outcome) == {
        "exit_code": 1,
        "records": {},
        "error": RACE_REASON,
        "reruns": [RACE_REASON] * meltano_run.RERUNS,
    }


def test_run_does_not_run_again_after_another_failure(tmp_path):
    outcome = meltano_run.run(fake_meltano([*STARTED, TAP_ERROR, BLOCK], 1), TAP)
    assert outcome["exit_code"] == 1
    assert outcome["reruns"] == []


def test_run_closes_its_pipe():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meltano_run.run(fake_meltano([*STARTED], 0), TAP)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.fixture
def no_pipes_context(monkeypatch):
    """`open_dagster_pipes` keeps its context for the process: start and end without one."""
    monkeypatch.setattr(PipesContext, "_instance", None)
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    monkeypatch.delenv("DAGSTER_PIPES_MESSAGES", raising=False)


@pytest.fixture
def pipes(monkeypatch, tmp_path, no_pipes_context) -> Path:
    """A Dagster Pipes session as PipesSubprocessClient opens one, its messages in a file."""
    messages = tmp_path / "messages.jsonl"
    context = {
        "asset_keys": ["orders/north"],
        "code_version_by_asset_key": None,
        "provenance_by_asset_key": None,
        "partition_key": None,
        "partition_key_range": None,
        "partition_time_window": None,
        "run_id": "00000000-0000-0000-0000-000000000000",
        "job_name": "sync_orders",
        "retry_number": 0,
        "extras": {},
    }
    monkeypatch.setenv("DAGSTER_PIPES_CONTEXT", encode_param({"data": context}))
    monkeypatch.setenv("DAGSTER_PIPES_MESSAGES", encode_param({"path": str(messages)}))
    return messages


def reported(messages: Path) -> list[dict]:
    sent = [json.loads(line) for line in messages.read_text().splitlines()]
    assert [m["method"] for m in sent] == ["opened", "report_custom_message", "closed"]
    return [m["params"]["payload"] for m in sent if m["method"] == "report_custom_message"]


def test_main_command_not_found(pipes, tmp_path):
    missing = str(tmp_path / "no-such-meltano")
    assert meltano_run.main([TAP, "--", missing, "run", TAP, TARGET]) == 0
    (outcome,) = reported(pipes)
    assert outcome["exit_code"] == 127
    assert outcome["records"] == {}
    assert outcome["error"].startswith(f"cannot run {missing}: ")
    assert "No such file or directory" in outcome["error"]


def test_main_reports_the_outcome(pipes):
    lines = [*STARTED, metric(TAP, "orders", 5), TAP_ERROR, BLOCK]
    assert meltano_run.main([TAP, "--", *fake_meltano(lines, 1)]) == 0
    (outcome,) = reported(pipes)
    assert outcome["exit_code"] == 1
    assert outcome["records"] == {"orders": 5}
    assert outcome["error"].startswith("tap-commerce-orders: the orders API's token endpoint")


def test_main_outside_dagster_warns_and_returns_0(no_pipes_context, tmp_path):
    with pytest.warns(DagsterPipesWarning, match="not launched by a Dagster"):
        code = meltano_run.main([TAP, "--", str(tmp_path / "no-such-meltano"), "run"])
    assert code == 0


@pytest.mark.parametrize(
    "argv",
    [[], [TAP], [TAP, "--"], [TAP, "meltano", "run"]],
    ids=["none", "no command", "empty command", "no --"],
)
def test_main_usage(argv, capsys):
    assert meltano_run.main(argv) == 2
    assert capsys.readouterr().err == (
        "usage: python -m orchestrate.meltano_run EXTRACTOR -- MELTANO ARGS\n"
    )


def test_run_gives_meltano_neither_the_unset_variables_nor_dagsters(monkeypatch, capsys):
    monkeypatch.setenv("SHOP_SOUTH_API_KEY", "")
    monkeypatch.setenv("DAGSTER_PIPES_CONTEXT", "a-context")
    monkeypatch.setenv("SHOP_NORTH_API_KEY", "fake-north-key")
    script = (
        "import os, sys\n"
        "names = ('SHOP_SOUTH_API_KEY', 'DAGSTER_PIPES_CONTEXT', 'SHOP_NORTH_API_KEY')\n"
        "sys.stdout.write(' '.join(n for n in names if n in os.environ) + '\\n')\n"
    )
    meltano_run.run([sys.executable, "-c", script], TAP, unset=["SHOP_SOUTH_API_KEY"])
    assert capsys.readouterr().err == "SHOP_NORTH_API_KEY\n"


def test_stream_totals_come_from_the_taps_summary_lines():
    lines = [
        *STARTED,
        f"2026-12-02T23:05:59.1Z [info     ] {TAP} stream 'products': done, 1,200 records, 13 requests, 4.2 s, 0 429s\n",
        f"2026-12-02T23:05:59.2Z [info     ] {TAP} stream 'products_images': done, 3 records, 1,200 requests, 9.0 s, 2 429s\n",
        f"2026-12-02T23:05:59.3Z [info     ] {TAP} stream 'orders': stopped by an error after 12 records, 1 request, 0.1 s, 0 429s\n",
        f"2026-12-02T23:05:59.4Z [info     ] {TARGET} stream 'x': done, 5 records, 1 request, 0.1 s, 0 429s\n",
        f"2026-12-02T23:05:59.5Z [info     ] {TAP} stream 'pages': 40 records, 2 requests, 31 s\n",
    ]
    assert meltano_log.stream_totals(lines, TAP) == {
        "products": {"records": 1200, "requests": 13, "limited": 0},
        "products_images": {"records": 3, "requests": 1200, "limited": 2},
        "orders": {"records": 12, "requests": 1, "limited": 0},
    }
    # the summary lines' counts replace the per-parent metrics of child streams
    outcome = meltano_run.run(fake_meltano([*lines, metric(TAP, "products_images", 1)], 0), TAP)
    assert outcome["records"] == {"products": 1200, "products_images": 3, "orders": 12}
    assert (outcome["requests"], outcome["responses_429"]) == (1214, 2)


# --- 7. system_dir ----------------------------------------------------------------------------


def test_own_system_dir_links_the_installed_plugins_and_nothing_else(tmp_path):
    shared = tmp_path / ".meltano"
    (shared / "extractors" / "tap-commerce").mkdir(parents=True)
    (shared / "loaders").mkdir()
    (shared / "run").mkdir()  # a run's files stay the run's own
    own = tmp_path / "own" / "store-01"
    for _ in range(2):  # made again, as every sync of the store makes it
        assert own_system_dir(own, shared) == own
    assert sorted(p.name for p in own.iterdir()) == ["extractors", "loaders"]
    assert (own / "extractors").resolve() == (shared / "extractors").resolve()
    assert (own / "extractors" / "tap-commerce").is_dir()
