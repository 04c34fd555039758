"""Discovery prints each API's contract table: streams, keys, replication keys, schemas."""

from __future__ import annotations

import pytest

from tap_commerce.tap import TapCommerce

# contract §2: stream -> (key, replication key)
TABLES = {
    "storefront": {
        "inventory": ("id", None), "orders": ("id", "modifiedOn"), "store_pages": ("id", None),
        "products": ("id", "modifiedOn"), "transactions": ("id", "modifiedOn"), "profiles": ("id", None),
    },
    "payments": {"order_payments": ("id", "updated_at"), "products": ("id", "updated_at")},
    "shop": {
        "countries": ("id", None), "pages": ("id", "created_at_utc"), "products": ("id", "updated_at_utc"),
        "products_images": ("id", None), "choice_sets": ("id", None), "products_reviews": ("id", "created_at_utc"),
        "product_options": ("id", None), "products_variations": ("id", None), "customers": ("id", "created_at_utc"),
        "orders": ("id", "created_at_utc"), "shipping_zones": ("uuid", None), "events": ("id", "created_at_utc"),
        "categories": ("id", "created_at_utc"), "themes": ("id", "created_at_utc"),
    },
    "digital": {"products": ("id", None), "packages": ("id", None), "orders": ("id", "created_at"), "subscriptions": ("id", None)},
    "orders": {"orders": ("order_id", "last_modified_date")},
}  # fmt: skip
CHILDREN = {"products_images", "products_reviews", "product_options", "products_variations"}


def nullable(schema: dict) -> bool:
    kind = schema.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def walk(schema: dict, path: str = ""):
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}{name}", prop
        yield from walk(prop, f"{path}{name}.")
        if "items" in prop:
            yield f"{path}{name}[]", prop["items"]
            yield from walk(prop["items"], f"{path}{name}[].")


@pytest.mark.parametrize("api", sorted(TABLES))
def test_catalog_matches_the_contract_table(api: str) -> None:
    catalog = TapCommerce(config={"api": api}, validate_config=False).catalog_dict
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(streams) == set(TABLES[api])
    for name, (key, replication_key) in TABLES[api].items():
        entry = streams[name]
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        assert entry["key_properties"] == [key], name
        assert root.get("replication-key") == replication_key, name
        assert entry["replication_method"] == (
            "INCREMENTAL" if replication_key else "FULL_TABLE"
        ), name
        schema = entry["schema"]
        assert not nullable(schema["properties"][key]), f"{name}.{key} is a key"
        for path, prop in walk(schema):
            if path not in (key, "prd_id") and "type" in prop:
                assert nullable(prop), f"{name}.{path} must allow null"
        if replication_key:
            assert schema["properties"][replication_key]["format"] == "date-time"
        if name in CHILDREN:
            assert schema["properties"]["prd_id"] == {"type": "integer"}


def test_discovery_needs_no_credentials(tmp_path) -> None:
    from tests.harness import run_cli  # noqa: PLC0415

    out = run_cli(["--discover"], config={"api": "shop"}, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(out.messages[0]["streams"]) == 14
