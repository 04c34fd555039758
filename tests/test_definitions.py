"""API definitions (contract §1.3): dlt's ``rest_api`` config, each key with dlt's meaning.

The five built-ins are definitions whose bodies are their contract tables, and pass dlt
1.31's own validation once their extension keys are taken out; configs dlt accepts load
here with dlt's defaults; and dlt's paginators, selectors and response actions behave at
run time as dlt documents them (against a loopback server).
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from werkzeug import Response

from tap_commerce import loader
from tap_commerce.loader import BUILTINS, builtin, load
from tests.harness import dumps, run

# contract §2: stream | path | selector (digital: the wrapper) | key | replication key
CONTRACT_TABLES: dict[str, list[tuple[str, str, str, str, str | None]]] = {
    "storefront": [
        ("inventory", "/commerce/inventory", "inventory", "id", None),
        ("orders", "/commerce/orders", "result", "id", "modifiedOn"),
        ("store_pages", "/commerce/store_pages", "storePages", "id", None),
        ("products", "/commerce/products", "products", "id", "modifiedOn"),
        ("transactions", "/commerce/transactions", "documents", "id", "modifiedOn"),
        ("profiles", "/profiles", "profiles", "id", None),
    ],
    "payments": [
        ("order_payments", "/v1/order_payments", "data", "id", "updated_at"),
        ("products", "/v1/products", "data", "id", "updated_at"),
    ],
    "shop": [
        ("countries", "/v1/countries", "data", "id", None),
        ("pages", "/v1/pages", "data", "id", "created_at_utc"),
        ("products", "/v1/products", "data", "id", "updated_at_utc"),
        ("products_images", "/v1/products/{prd_id}/images", "data", "id", None),
        ("choice_sets", "/v1/choice-sets", "data", "id", None),
        ("products_reviews", "/v1/products/{prd_id}/reviews", "data", "id", "created_at_utc"),
        ("product_options", "/v1/products/{prd_id}/options", "data", "id", None),
        ("products_variations", "/v1/products/{prd_id}/variations", "data", "id", None),
        ("customers", "/v1/customers", "data", "id", "created_at_utc"),
        ("orders", "/v1/orders", "data", "id", "created_at_utc"),
        ("shipping_zones", "/v1/shipping-zones", "data", "uuid", None),
        ("events", "/v1/events", "data", "id", "created_at_utc"),
        ("categories", "/v1/categories", "data", "id", "created_at_utc"),
        ("themes", "/v1/themes", "data", "id", "created_at_utc"),
    ],
    "digital": [
        ("products", "/products", "product", "id", None),
        ("packages", "/packages", "package", "id", None),
        ("orders", "/orders", "order", "id", "created_at"),
        ("subscriptions", "/subscriptions", "subscription", "id", None),
    ],
    "orders": [("orders", "/v1/orders", "orders", "order_id", "last_modified_date")],
}


def dlt_view(raw: dict) -> dict:
    """A definition as dlt sees it: extension keys out, settings as (fake) values."""
    if isinstance(raw, dict):
        return {k: dlt_view(v) for k, v in raw.items() if not str(k).startswith("x-")}
    if isinstance(raw, list):
        return [dlt_view(v) for v in raw]
    if isinstance(raw, str):
        return re.sub(r"\{settings\.(\w+)\}", lambda m: f"fake-{m.group(1)}", raw)
    return raw


def dlt_accepts(config: dict) -> list[str]:
    """dlt 1.31's own validation, and the resources it builds (no request is sent)."""
    from dlt.sources.rest_api import _validate_config, rest_api_source  # noqa: PLC0415

    _validate_config(copy.deepcopy(config))
    return list(rest_api_source(copy.deepcopy(config)).resources)


@pytest.mark.parametrize("api", BUILTINS)
def test_each_built_in_reads_like_its_contract_table(api):
    definition = builtin(api)
    rows = []
    for resource in definition.resources:
        path = re.sub(r"\{resources\.products\.id\}", "{prd_id}", resource.path.source)
        selector = resource.selector.source.removeprefix("$[*].") if resource.selector else None
        key = ",".join(resource.primary_key)
        rows.append((resource.name, path, selector, key, resource.replication_key))
    assert rows == CONTRACT_TABLES[api]


@pytest.mark.parametrize("api", BUILTINS)
def test_each_shipped_definition_passes_dlts_own_validation(api):
    raw = builtin(api, raw=True)
    assert dlt_accepts(dlt_view(raw)) and set(dlt_accepts(dlt_view(raw))) == {
        r.name for r in builtin(api).resources
    }


def test_the_shop_children_carry_prd_id_and_skip_a_deleted_product():
    shop = builtin("shop")
    for resource in shop.resources:
        if resource.parent is None:
            continue
        assert resource.parent.resource == "products"
        assert resource.parent.context == {"id": "prd_id"}
        assert [(a.status_code, a.action) for a in resource.response_actions] == [(404, "ignore")]


# -- configs dlt accepts load here with dlt's meaning ----------------------------------

MINIMAL = {
    "client": {"base_url": "https://api.example.com/v2/", "auth": {"token": "{settings.api_key}"}},
    "resource_defaults": {
        "primary_key": "id",
        "endpoint": {"params": {"per_page": 25, "sort": "asc"}, "data_selector": "items"},
    },
    "resources": [
        "customers",
        {"name": "orders", "endpoint": "/v2/orders"},
        {
            "name": "invoices",
            "write_disposition": "merge",
            "endpoint": {
                "path": "invoices",
                "params": {
                    "sort": "desc",
                    "since": {
                        "type": "incremental",
                        "cursor_path": "updated_at",
                        "initial_value": "2024-01-01T00:00:00Z",
                    },
                },
                "paginator": {"type": "offset", "limit": 50},
            },
        },
        {
            "name": "lines",
            "endpoint": {
                "path": "invoices/{resources.invoices.id}/lines",
                "paginator": "single_page",
            },
            "include_from_parent": ["id"],
            "selected": False,
            "max_table_nesting": 1,
            "table_format": "native",
        },
        {
            "name": "invoice",
            "endpoint": {
                "path": "invoice/{id}",
                "params": {"id": {"type": "resolve", "resource": "invoices", "field": "id"}},
            },
        },
        {
            "name": "events",
            "endpoint": {
                "path": "events",
                "paginator": {"type": "cursor"},
                "incremental": {
                    "cursor_path": "created",
                    "start_param": "from",
                    "end_param": "to",
                },
            },
        },
        {"name": "pages", "endpoint": {"path": "pages", "paginator": {"type": "page_number"}}},
        {"name": "links", "endpoint": {"path": "links", "paginator": "json_link"}},
        {
            "name": "headers",
            "endpoint": {
                "path": "headers",
                "paginator": "header_link",
                "auth": {"type": "api_key", "api_key": "{settings.api_key}"},
            },
        },
    ],
}


def plain(params: dict) -> dict:
    return {k: getattr(v, "source", v) for k, v in params.items()}


def test_a_config_dlt_accepts_loads_with_dlts_defaults():
    assert len(dlt_accepts(dlt_view(MINIMAL))) == 9
    definition = load(MINIMAL)
    by = {r.name: r for r in definition.resources}
    assert definition.auth is not None and definition.auth.type == "bearer"  # dlt's shorthand
    # a resource named by a string is read from the path of its name; an endpoint given as
    # a string is its path; resource_defaults' params merge key by key
    assert by["customers"].path.source == "customers"
    assert by["orders"].path.source == "/v2/orders"
    assert plain(by["customers"].params) == {"per_page": 25, "sort": "asc"}
    assert plain(by["invoices"].params) == {"per_page": 25, "sort": "desc"}
    assert by["customers"].selector is not None and by["customers"].selector.source == "items"
    # dlt's write disposition is append unless said otherwise: no merge key for Singer
    assert by["customers"].key_properties == []
    assert by["invoices"].key_properties == ["id"]
    # an incremental param: its name is the start param
    assert by["invoices"].incremental is not None
    assert by["invoices"].incremental.start_param == "since"
    assert by["invoices"].incremental.initial_value == "2024-01-01T00:00:00Z"
    assert by["invoices"].incremental.on_cursor_value_missing == "raise"
    # offset: total_path "total", stop on an empty page, offset/limit params
    offset = by["invoices"].paginator
    assert offset is not None
    assert (offset.limit, offset.offset_param, offset.limit_param) == (50, "offset", "limit")
    assert offset.total_path is not None and offset.total_path.source == "total"
    assert offset.stop_after_empty_page and not offset.stop_after_short_page
    # children: by the path, with include_from_parent's _<parent>_<field> columns
    lines = by["lines"]
    assert lines.parent is not None and lines.parent.resource == "invoices"
    assert lines.parent.include == (("id", "_invoices_id"),) and not lines.selected
    # a resolve param makes a child too; a path ending in a placeholder is one object (one
    # page; the selector is "$" unless resource_defaults give one, as here)
    single = by["invoice"]
    assert single.parent is not None and single.parent.fields == ("id",)
    assert single.path.source == "invoice/{resources.invoices.id}"
    assert single.selector is not None and single.selector.source == "items"
    assert single.paginator is not None and single.paginator.type == "single_page"
    cursor = by["events"].paginator
    assert cursor is not None and cursor.cursor_path is not None
    assert (cursor.cursor_path.source, cursor.cursor_param) == ("cursors.next", "cursor")
    assert not cursor.stop_after_empty_page
    pages = by["pages"].paginator
    assert pages is not None and (pages.base_page, pages.page, pages.page_param) == (0, 0, "page")
    assert pages.total_path is not None and pages.total_path.source == "total"
    links = by["links"].paginator
    assert links is not None and links.next_url_path is not None
    assert links.next_url_path.source == "next"
    headers = by["headers"]
    assert headers.auth is not None and (headers.auth.name, headers.auth.location) == (
        "Authorization",
        "header",
    )
    # no paginator anywhere: detected from the first response (dlt's auto)
    assert by["customers"].paginator is None


def test_an_extension_key_is_one_prefix_and_documented():
    for name, (where, meaning) in loader.EXTENSIONS.items():
        assert name.startswith("x-") and where and meaning


# -- dlt's run-time meanings, against a loopback server ----------------------------------


def serve(server, path, pages, *, key="page"):
    """Answer ``path`` with ``pages[request.args[key]]`` (missing key: the first page)."""

    def handler(request):
        page = request.args.get(key, "first")
        body, headers = pages[page] if isinstance(pages[page], tuple) else (pages[page], {})
        return Response(dumps(body), headers=headers, content_type="application/json")

    server.expect_request(path).respond_with_handler(handler)


def synced(server) -> list:
    """The requests of the sync: a definition without a schema reads its first pages
    (here, all of them) to infer one first."""
    log = [request for request, _ in server.log]
    return log[len(log) // 2 :]


def user_api(base_url, resources, **client):
    return {
        "definition": {
            "client": {"base_url": base_url, **client},
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": resources,
        },
        "backoff_factor": 0.001,
        "max_retry_wait": 0.01,
    }


def test_a_cursor_paginator_keeps_the_params_and_adds_the_cursor(server, base_url):
    serve(
        server,
        "/events",
        {
            "first": {"items": [{"id": 1}], "cursors": {"next": "c2"}},
            "c2": {"items": [{"id": 2}], "cursors": {"next": None}},
        },
        key="cursor",
    )
    resources = [
        {
            "name": "events",
            "endpoint": {"path": "events", "params": {"kind": "all"}, "paginator": "cursor"},
        }
    ]
    out = run(user_api(base_url, resources))
    assert [r["id"] for r in out.records["events"]] == [1, 2]
    asked = [dict(r.args) for r in synced(server)]
    assert asked == [{"kind": "all"}, {"kind": "all", "cursor": "c2"}]


def test_a_relative_next_link_is_resolved_against_the_request(server, base_url):
    serve(
        server,
        "/api/items",
        {
            "first": {"data": [{"id": 1}], "next": "items?page=2"},
            "2": {"data": [{"id": 2}], "next": None},
        },
    )
    out = run(
        user_api(
            f"{base_url}/api/",
            [{"name": "items", "endpoint": {"path": "items", "paginator": "json_link"}}],
        )
    )
    assert [r["id"] for r in out.records["items"]] == [1, 2]
    assert [r.full_path for r in synced(server)] == ["/api/items?", "/api/items?page=2"]


def test_a_link_header_paginator_follows_rel_next(server, base_url):
    link = f'<{base_url}/items?page=2>; rel="next"'
    serve(
        server,
        "/items",
        {"first": ([{"id": 1}], {"Link": link}), "2": [{"id": 2}]},
    )
    resources = [
        {
            "name": "items",
            "endpoint": {"path": "items", "paginator": "header_link", "data_selector": "$"},
        }
    ]
    out = run(user_api(base_url, resources))
    assert [r["id"] for r in out.records["items"]] == [1, 2]


def test_an_offset_paginator_stops_at_its_total(server, base_url):
    serve(
        server,
        "/items",
        {
            "0": {"items": [{"id": 1}, {"id": 2}], "total": 3},
            "2": {"items": [{"id": 3}], "total": 3},
        },
        key="offset",
    )
    resources = [
        {
            "name": "items",
            "endpoint": {"path": "items", "paginator": {"type": "offset", "limit": 2}},
        }
    ]
    out = run(user_api(base_url, resources))
    assert [r["id"] for r in out.records["items"]] == [1, 2, 3]
    assert len(synced(server)) == 2  # offset 2 + limit 2 reaches the total: no third request


def test_a_missing_total_is_one_line_naming_the_paginators_path(server, base_url):
    serve(server, "/items", {"0": {"items": [{"id": 1}]}}, key="offset")
    resources = [
        {
            "name": "items",
            "endpoint": {"path": "items", "paginator": {"type": "offset", "limit": 2}},
        }
    ]
    with pytest.raises(
        Exception, match=r"stream 'items': the body has no 'total'.*total_path: null"
    ):
        run(user_api(base_url, resources))


def test_without_a_paginator_or_selector_both_are_detected_as_dlt_does(server, base_url):
    serve(
        server,
        "/things",
        {
            "first": {
                "meta": {"count": 3},
                "results": [{"id": 1}, {"id": 2}],
                "next": f"{base_url}/things?page=2",
            },
            "2": {"meta": {"count": 3}, "results": [{"id": 3}], "next": None},
        },
    )
    out = run(user_api(base_url, [{"name": "things", "endpoint": {"path": "things"}}]))
    assert [r["id"] for r in out.records["things"]] == [1, 2, 3]


def test_response_actions_ignore_ends_the_list_with_a_warning(server, base_url, caplog):
    server.expect_request("/gone").respond_with_json({"error": "not here"}, status=404)
    resources = [
        {
            "name": "gone",
            "endpoint": {
                "path": "gone",
                "response_actions": [{"status_code": 404, "action": "ignore"}],
            },
        }
    ]
    out = run(user_api(base_url, resources))
    assert "gone" not in out.records
    assert any(
        "answered 404" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records
    )


def test_a_yaml_file_and_the_same_object_load_alike(tmp_path):
    path = tmp_path / "api.yml"
    path.write_text(yaml.safe_dump(MINIMAL))
    from_file, from_object = load(path), load(MINIMAL)
    assert from_file.resources == from_object.resources
    assert from_file.name == "api" and from_file.source == f"'{path}'"


def test_a_base_url_that_is_no_http_url_is_the_definitions_fault():
    with pytest.raises(loader.DefinitionError, match=r"client\.base_url: is 'ftp://x'"):
        load({"client": {"base_url": "ftp://x"}, "resources": ["a"]})


# -- the incremental keys a built-in does not use ---------------------------------------


def test_an_initial_value_that_is_no_date_time_is_the_definitions_fault():
    incremental = {"cursor_path": "updated", "initial_value": "last week"}
    config = {
        "client": {"base_url": "https://x.example/"},
        "resources": [{"name": "a", "endpoint": {"path": "a", "incremental": incremental}}],
    }
    with pytest.raises(
        loader.DefinitionError,
        match=r"resources\[0\]\.endpoint\.incremental\.initial_value: is 'last week'",
    ):
        load(config)


def records_api(server, path, records):
    server.expect_request(path).respond_with_handler(
        lambda request: Response(dumps({"items": records}), content_type="application/json")
    )


def incremental_resource(**incremental):
    return {
        "name": "events",
        "x-schema": "infer",
        "endpoint": {
            "path": "events",
            "data_selector": "items",
            "paginator": "single_page",
            "incremental": {"cursor_path": "updated", **incremental},
        },
    }


EVENTS = [
    {"id": 1, "updated": "2024-01-01T00:00:00Z"},
    {"id": 2, "updated": None},
    {"id": 3, "updated": "2024-03-01T00:00:00Z"},
]


@pytest.mark.parametrize(("action", "kept"), [("include", [1, 2, 3]), ("exclude", [1, 3])])
def test_a_record_without_a_cursor_value_is_kept_or_left_out_as_the_definition_says(
    server, base_url, action, kept
):
    records_api(server, "/events", EVENTS)
    resource = incremental_resource(on_cursor_value_missing=action)
    out = run(user_api(base_url, [resource]))
    assert [r["id"] for r in out.records["events"]] == kept


def test_a_record_without_a_cursor_value_stops_the_stream_by_dlts_default(server, base_url):
    records_api(server, "/events", EVENTS)
    with pytest.raises(
        Exception,
        match=r"stream 'events': record id=2 has no value for its replication key 'updated'",
    ):
        run(user_api(base_url, [incremental_resource()]))


def test_lag_is_the_look_back_and_end_value_the_end_when_the_settings_say_none(server, base_url):
    records = [{"id": n, "updated": f"2024-0{n}-01T00:00:00Z"} for n in range(1, 6)]
    records_api(server, "/events", records)
    resource = incremental_resource(lag=86400 * 40, end_value="2024-04-15T00:00:00Z")
    state = {
        "bookmarks": {
            "events": {
                "replication_key": "updated",
                "replication_key_value": "2024-03-01T00:00:00+00:00",
            }
        }
    }
    out = run(user_api(base_url, [resource]), state=state)
    assert [r["id"] for r in out.records["events"]] == [2, 3, 4]  # Feb 1 is within 40 days
    out = run({**user_api(base_url, [resource]), "lookback_window": 0}, state=state)
    assert [r["id"] for r in out.records["events"]] == [3, 4]  # the setting wins


def test_an_open_range_start_leaves_out_the_bookmarks_own_record(server, base_url):
    records = [{"id": n, "updated": f"2024-0{n}-01T00:00:00Z"} for n in range(1, 4)]
    records_api(server, "/events", records)
    state = {
        "bookmarks": {
            "events": {
                "replication_key": "updated",
                "replication_key_value": "2024-02-01T00:00:00+00:00",
            }
        }
    }
    closed = run(user_api(base_url, [incremental_resource()]), state=state)
    opened = run(user_api(base_url, [incremental_resource(range_start="open")]), state=state)
    assert [r["id"] for r in closed.records["events"]] == [2, 3]
    assert [r["id"] for r in opened.records["events"]] == [3]


def test_replace_ends_each_complete_read_with_activate_version_without_the_setting(
    server, base_url
):
    records_api(server, "/things", [{"id": 1}, {"id": 2}])
    resource = {
        "name": "things",
        "write_disposition": "replace",
        "endpoint": {"path": "things", "data_selector": "items"},
    }
    out = run(user_api(base_url, [resource]))
    kinds = [m["type"] for m in out.messages if m.get("stream") == "things" or m["type"] == "STATE"]
    assert kinds[-2:] == ["ACTIVATE_VERSION", "STATE"]
    assert {m["version"] for m in out.messages if m["type"] == "RECORD"} == {
        m["version"] for m in out.messages if m["type"] == "ACTIVATE_VERSION"
    }


def test_an_end_date_alone_sends_the_filter_from_the_epoch():
    """With no bookmark and no start date, an end date still bounds the server's filter:
    its lower bound is then the epoch (storefront sends both bounds or neither)."""
    from tap_commerce_sandbox import Sandbox  # noqa: PLC0415

    with Sandbox(seed=9, scale=0.05, anchor="2026-01-01") as sandbox:
        out = run({**sandbox.config("storefront"), "end_date": "2025-06-01T00:00:00Z"})
        orders = [r for r in sandbox.requests.snapshot() if r.path.endswith("/commerce/orders")]
    assert orders[0].query["modifiedAfter"] == "1970-01-01T00:00:00.000Z"
    assert orders[0].query["modifiedBefore"] == "2025-06-01T00:00:00.000Z"
    assert all(r["modifiedOn"] <= "2025-06-01T00:00:00+00:00" for r in out.records["orders"])
