"""Many stores: one sandbox per store name, each on its own port with its own data,
credentials and rate limits; stores files, their variables and the ``stores`` command."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import zlib

import pytest
import requests
from tap_commerce_sandbox import DEFAULT_CREDENTIALS, Sandbox, Stores, cli
from tap_commerce_sandbox.data.tables import ChildTable, Table
from tap_commerce_sandbox.stores import read_stores_file

from tests.sandbox_fixtures import digital_get, payments_get, shop_get

STORES_FILE = """\
stores:
  - name: north
    api: shop
    env:                      # setting -> name of the environment variable that carries it
      base_url: SHOP_NORTH_BASE_URL
      api_key: SHOP_NORTH_API_KEY
      api_secret: SHOP_NORTH_API_SECRET
    settings:
      start_date: "2025-01-01T00:00:00Z"
  - name: north
    api: orders
    env:
      token_url: ORDERS_NORTH_TOKEN_URL
      client_id: ORDERS_NORTH_CLIENT_ID
  - name: south
    api: payments
    env:
      base_url: PAYMENTS_SOUTH_BASE_URL
      api_key: PAYMENTS_SOUTH_API_KEY
  - name: custom
    definition: my_api.yml
    env:
      api_key: CUSTOM_API_KEY
"""


@pytest.fixture(scope="module")
def stores():
    """Three small read-only stores."""
    with Stores(["north", "south", "east"], scale=0.05, anchor="2025-06-01") as running:
        yield running


@pytest.fixture
def stores_file(tmp_path):
    path = tmp_path / "stores.yml"
    path.write_text(STORES_FILE)
    return path


def ids(records):
    return {record["id"] for record in records}


# Stores ----------------------------------------------------------------------------------


def test_each_store_is_a_sandbox_on_its_own_port(stores):
    assert stores.names == ("north", "south", "east")
    assert list(stores) == ["north", "south", "east"]
    assert len(stores) == 3
    assert all(isinstance(stores[name], Sandbox) for name in stores)
    urls = stores.urls()
    assert len(set(urls.values())) == 3
    assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+", url) for url in urls.values())
    assert stores.config("north", "shop") == stores["north"].config("shop")
    assert stores.config("north", "shop")["base_url"] == f"{urls['north']}/shop/"
    with pytest.raises(KeyError, match="no store 'west'"):
        stores["west"]


def test_each_store_has_its_own_credentials_and_refuses_another_stores(stores):
    north, south = stores["north"], stores["south"]
    assert north.config("shop")["api_key"] == "sandbox-shop-key-north"
    assert south.config("digital")["password"] == "sandbox-password-south"
    for name in stores:
        for api, creds in DEFAULT_CREDENTIALS.items():
            config = stores.config(name, api)
            assert {key: config[key] for key in creds} == {
                key: f"{value}-{name}" for key, value in creds.items()
            }
    assert shop_get(north, "v1/products").status_code == 200
    assert payments_get(south, "v1/products").status_code == 200
    south_shop = south.config("shop")
    refused = requests.get(
        north.config("shop")["base_url"] + "v1/products",
        auth=(south_shop["api_key"], south_shop["api_secret"]),
    )
    assert refused.status_code in (401, 403)
    refused = requests.get(
        south.config("payments")["base_url"] + "v1/products",
        params={"api_key": north.config("payments")["api_key"]},
    )
    assert refused.status_code in (401, 403)


def test_stores_have_different_data_under_overlapping_ids(stores):
    north, south = stores["north"], stores["south"]
    assert (north.seed, south.seed) == (zlib.crc32(b"north"), zlib.crc32(b"south"))
    for api, stream in (("shop", "products"), ("payments", "order_payments")):
        a, b = north.records(api, stream), south.records(api, stream)
        assert a != b, (api, stream)
        shared = ids(a) & ids(b)
        assert shared, (api, stream)
        by_id = {record["id"]: record for record in b}
        assert any(record != by_id[record["id"]] for record in a if record["id"] in shared)


def test_seeds_are_stable_and_overridable():
    first, again = Stores(["north"], scale=0.05), Stores(["north"], scale=0.05)
    assert first["north"].records("shop", "products") == again["north"].records("shop", "products")
    moved = Stores(["north", "south"], scale=0.05, seeds={"south": zlib.crc32(b"north")})
    assert moved["south"].records("shop", "products") == first["north"].records("shop", "products")
    assert moved["north"].seed == zlib.crc32(b"north")


def test_sizes_for_every_store_or_per_store():
    every = Stores(["a", "b"], scale=0.05, sizes={"shop.products": 7})
    assert [every[n].count("shop", "products") for n in every] == [7, 7]
    per_store = Stores(["a", "b"], scale=0.05, sizes={"b": {"shop.products": 3}})
    assert per_store["b"].count("shop", "products") == 3
    assert per_store["a"].count("shop", "products") == Sandbox(scale=0.05).count("shop", "products")
    with pytest.raises(ValueError, match="either"):
        Stores(["a"], sizes={"a": {"shop.products": 3}, "shop.pages": 2})
    with pytest.raises(ValueError, match="unknown store 'c'"):
        Stores(["a"], sizes={"c": {"shop.products": 3}})


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["north", "north"], "'north' is given twice"),
        (["ok", "bad name"], "bad store name 'bad name'"),
        (["-north"], "bad store name '-north'"),
        (["north", ""], "bad store name ''"),
        (["a.b"], "bad store name 'a.b'"),
    ],
)
def test_bad_or_duplicate_names_are_refused_in_one_line(names, message):
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        Stores(names)
    assert "\n" not in str(caught.value)


def test_unknown_seed_names_and_a_single_string_are_refused():
    with pytest.raises(ValueError, match="seeds: unknown store 'x'"):
        Stores(["a"], seeds={"x": 1})
    with pytest.raises(TypeError, match="not the string"):
        Stores("north")


def test_fifty_stores_start_quickly_without_generating_data(monkeypatch):
    generated = []
    original_generate, original_rows = Table._generate, ChildTable._base_rows

    def generate(self, block_no):
        generated.append(self.spec.name)
        return original_generate(self, block_no)

    def base_rows(self, p):
        generated.append(self.spec.name)
        return original_rows(self, p)

    monkeypatch.setattr(Table, "_generate", generate)
    monkeypatch.setattr(ChildTable, "_base_rows", base_rows)
    began = time.perf_counter()
    many = Stores([f"s{i}" for i in range(50)]).start()
    try:
        started = time.perf_counter() - began
        assert len(set(many.urls().values())) == 50
        assert generated == []
        assert started < 3, started  # ~0.05 s here
        assert shop_get(many["s49"], "v1/products").status_code == 200
        assert generated  # generated when read
    finally:
        many.stop()
    many.stop()  # idempotent


def test_rate_limits_are_per_store():
    # digital: a bucket of 5 tokens; at time_scale 0.2 one comes back every 200 ms, so 25
    # requests see 429s unless they take over 4 s
    with Stores(["busy", "quiet"], scale=0.05, rate_limits=True, time_scale=0.2) as limited:
        busy, quiet = limited["busy"], limited["quiet"]
        with requests.Session() as session:
            config = busy.config("digital")
            session.auth = (config["username"], config["password"])
            session.headers["Accept"] = "application/json"
            statuses = [session.get(config["base_url"] + "packages").status_code for _ in range(25)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses
        assert busy.count_429 == statuses.count(429)
        statuses = [digital_get(quiet, "packages").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert quiet.count_429 == 0


# Stores files ----------------------------------------------------------------------------


def test_from_file_serves_each_distinct_name_once_and_skips_entries_without_api(
    stores_file, capsys
):
    with Stores.from_file(stores_file, scale=0.05) as from_file:
        assert from_file.names == ("north", "south")
        assert "skipping store 'custom'" in capsys.readouterr().err
        variables = from_file.env(stores_file)
        north, south = from_file["north"], from_file["south"]
        assert variables == {
            "SHOP_NORTH_BASE_URL": f"{north.url}/shop/",
            "SHOP_NORTH_API_KEY": "sandbox-shop-key-north",
            "SHOP_NORTH_API_SECRET": "sandbox-shop-secret-north",
            "ORDERS_NORTH_TOKEN_URL": f"{north.url}/orders/oauth/token",
            "ORDERS_NORTH_CLIENT_ID": "sandbox-client-id-north",
            "PAYMENTS_SOUTH_BASE_URL": f"{south.url}/payments/",
            "PAYMENTS_SOUTH_API_KEY": "sandbox-payments-key-south",
        }
        assert "skipping store 'custom'" in capsys.readouterr().err
        assert from_file.env(read_stores_file(stores_file)) == variables
        products = requests.get(
            variables["PAYMENTS_SOUTH_BASE_URL"] + "v1/products",
            params={"api_key": variables["PAYMENTS_SOUTH_API_KEY"]},
        )
        assert products.status_code == 200


def test_env_refuses_a_setting_the_api_does_not_have(stores):
    document = {"stores": [{"name": "north", "api": "shop", "env": {"password": "SHOP_PW"}}]}
    with pytest.raises(ValueError, match=r"store 'north' \(shop\): no setting 'password'") as e:
        stores.env(document)
    assert "\n" not in str(e.value)
    other = {"stores": [{"name": "west", "api": "shop", "env": {"api_key": "K"}}]}
    with pytest.raises(ValueError, match="store 'west' is not one of these stores"):
        stores.env(other)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stores: [\n  - x", "not valid YAML"),
        ("other: 1\n", "expected a mapping with a list 'stores'"),
        ("stores:\n  - api: shop\n", "store 1: bad or missing name"),
        ("stores:\n  - name: a\n    api: shopify\n", "store 'a': unknown api 'shopify'"),
        ("stores:\n  - name: a\n    api: shop\n    env: [x]\n", "store 'a': env must map"),
        ("stores:\n  - name: a\n    definition: d.yml\n", "no store names a built-in api"),
    ],
)
def test_bad_stores_files_are_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "stores.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        Stores.from_file(path)
    assert "\n" not in str(caught.value)


# The command -----------------------------------------------------------------------------


def test_cli_stores_serves_each_store_and_writes_the_env_file(stores_file, tmp_path):
    env_file = tmp_path / "stores.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_commerce_sandbox",
            "stores",
            str(stores_file),
            "--env-file",
            str(env_file),
            "--scale",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not env_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no env file"
            time.sleep(0.02)
        *lines, wrote = [process.stdout.readline().rstrip("\n") for _ in range(3)]
        assert [line.split()[0] for line in lines] == ["north", "south"]
        assert wrote == f"wrote 7 variables to {env_file}"
        urls = dict(line.split() for line in lines)
        assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+", url) for url in urls.values())
        variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert variables["SHOP_NORTH_BASE_URL"] == urls["north"] + "/shop/"
        assert variables["PAYMENTS_SOUTH_API_KEY"] == "sandbox-payments-key-south"
        response = requests.get(
            variables["SHOP_NORTH_BASE_URL"] + "v1/products",
            auth=(variables["SHOP_NORTH_API_KEY"], variables["SHOP_NORTH_API_SECRET"]),
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "skipping store 'custom'" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_cli_stores_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["stores", str(tmp_path / "missing.yml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "missing.yml" in err
    bad = tmp_path / "bad.yml"
    bad.write_text("stores: [\n  - x")
    assert cli.main(["stores", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not valid YAML" in err
    missing_setting = tmp_path / "setting.yml"
    missing_setting.write_text("stores:\n  - name: a\n    api: shop\n    env: {password: PW}\n")
    assert cli.main(["stores", str(missing_setting), "--scale", "0.05"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no setting 'password'" in err
