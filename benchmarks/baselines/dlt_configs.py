"""dlt ``rest_api_source`` configs for the five APIs: the seeds as written, and the fixed
configs the benchmark runs against the sandbox.

The seeds (one per API, in the project's source documents) are dlt configs, but several of
their keys are not dlt keys, or do not do what the API needs; ``SEEDS`` keeps them verbatim
(``dlt.secrets[...]`` replaced by placeholders) and ``fixed_config`` is the corrected form.
benchmarks/README.md lists every fix. Check both against dlt's own config validation:

    .venv-bench/bin/python benchmarks/baselines/dlt_configs.py

The fixes are the smallest that make each config valid and correct for the API. One goes
beyond that, for a fair comparison: shop's lists also stop on a short page
(`_short_page_offset`), so dlt sends the same requests as the tap.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

SECRET = "<secret>"


def _cursor(path: str, selector: str) -> dict:
    return {
        "path": path,
        "data_selector": selector,
        "paginator": {
            "type": "cursor",
            "cursor_path": "pagination.nextPageUrl",
            "stop_condition": "not pagination.nextPageUrl",
        },
    }


def _shop_offset(path: str) -> dict:
    return {
        "path": path,
        "data_selector": "data",
        "paginator": {"type": "offset", "limit": 20, "offset_param": "offset"},
    }


def _digital_pages(path: str, selector: str) -> dict:
    return {
        "path": path,
        "data_selector": selector,
        "paginator": {
            "type": "page_number",
            "page_param": "page",
            "limit_param": "per_page",
            "limit": 50,
        },
    }


#: The seeds' configs, verbatim but for the secrets.
SEEDS: dict[str, dict[str, Any]] = {
    "storefront": {
        "client": {
            "base_url": "https://api.example.com/1.0/",
            "auth": {"type": "bearer", "token": SECRET},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {"name": name, "endpoint": _cursor(path, selector)}
            for name, path, selector in (
                ("inventory", "/commerce/inventory", "inventory"),
                ("orders", "/commerce/orders", "result"),
                ("store_pages", "/commerce/store_pages", "storePages"),
                ("products", "/commerce/products", "products"),
                ("transactions", "/commerce/transactions", "documents"),
                ("profiles", "/profiles", "profiles"),
            )
        ],
    },
    "payments": {
        "client": {
            "base_url": "https://api.example.com",
            "auth": {"type": "api_key", "name": "api_key", "api_key": SECRET, "location": "query"},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": name,
                "endpoint": {
                    "path": f"/v1/{name}",
                    "data_selector": "data",
                    "paginator": {"type": "offset", "limit": 100},
                },
            }
            for name in ("order_payments", "products")
        ],
    },
    "shop": {
        "client": {
            "base_url": "https://api.ecommerceapi.uk",
            "auth": {"type": "basic", "username": SECRET, "password": SECRET},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "countries",
                "endpoint": {
                    "path": "/v1/countries",
                    "data_selector": "data",
                    "paginator": {"type": "single_page"},
                },
            },
            *(
                {"name": name, "endpoint": _shop_offset(path)}
                for name, path in (
                    ("pages", "/v1/pages"),
                    ("products", "/v1/products"),
                    ("products_images", "/v1/products/{{ stream_partition['prd_id'] }}/images"),
                    ("choice_sets", "/v1/choice-sets"),
                    ("products_reviews", "/v1/products/{{ stream_partition['prd_id'] }}/reviews"),
                    ("product_options", "/v1/products/{{ stream_partition['prd_id'] }}/options"),
                    (
                        "products_variations",
                        "/v1/products/{{ stream_partition['prd_id'] }}/variations",
                    ),
                    ("customers", "/v1/customers"),
                    ("orders", "/v1/orders"),
                    ("shipping_zones", "/v1/shipping-zones"),
                    ("events", "/v1/events"),
                    ("categories", "/v1/categories"),
                    ("themes", "/v1/themes"),
                )
            ),
        ],
    },
    "digital": {
        "client": {
            "base_url": "https://api.example.com/v1/",
            "auth": {"type": "basic", "username": SECRET, "password": SECRET},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {"name": "products", "endpoint": _digital_pages("/products", "product")},
            {"name": "packages", "endpoint": _digital_pages("/packages", "package")},
            {
                "name": "orders",
                "endpoint": _digital_pages("/orders", "order"),
                "incremental_sync": {
                    "cursor_field": "created_at",
                    "start_datetime": "2024-01-01T00:00:00Z",
                    "end_datetime": "now",
                },
            },
            {"name": "subscriptions", "endpoint": _digital_pages("/subscriptions", "subscription")},
        ],
    },
    "orders": {
        "client": {
            "base_url": "https://api.example.com",
            "auth": {
                "type": "oauth2",
                "client_id": SECRET,
                "client_secret": SECRET,
                "token_url": SECRET,
            },
        },
        "resource_defaults": {"primary_key": "order_id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "orders",
                "endpoint": {
                    "path": "/v1/orders",
                    "data_selector": "orders",
                    "paginator": {"type": "offset", "limit": 200, "offset_param": "offset"},
                    "error_handler": {
                        "retry_on_status_codes": [429, 500, 502, 503, 504],
                        "max_retries": 3,
                        "backoff_factor": 2,
                    },
                },
            }
        ],
    },
}

#: The seeds' error handling ("retry 429, 500, 502, 503, 504; 3 retries, backoff factor 2")
#: is not a rest_api key in dlt: it is the runtime configuration of dlt's requests helper,
#: which already retries exactly those statuses. ``dlt_env`` sets it for every run.
RETRY_ENV = {"RUNTIME__REQUEST_MAX_ATTEMPTS": "4", "RUNTIME__REQUEST_BACKOFF_FACTOR": "2"}


def dlt_env() -> dict[str, str]:
    """Environment for a quiet, offline, uncompressed dlt run."""
    return {
        **RETRY_ENV,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "RUNTIME__LOG_LEVEL": "WARNING",
        # extract writes plain jsonl: its cheapest local sink (gzip would add CPU work
        # the taps, writing to /dev/null, do not do)
        "DATA_WRITER__DISABLE_COMPRESSION": "true",
    }


def _short_page_offset(limit: int, **kwargs: Any) -> Any:
    """dlt's OffsetPaginator, also stopping on a short page.

    Lists without ``total`` (shop) end with a short or empty page. Stock dlt stops only on an
    empty page, which costs one extra request per list, and so per product per
    sub-resource: twice the requests of a shop sync. The benchmark gives dlt this stop, so
    both sides send the same requests and the comparison is about extraction, not paging.
    """
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator  # noqa: PLC0415

    class ShortPageOffsetPaginator(OffsetPaginator):
        def update_state(self, response, data=None):  # noqa: ANN001, ANN202
            super().update_state(response, data)
            if data is not None and len(data) < self.limit:
                self._has_next_page = False

    return ShortPageOffsetPaginator(limit=limit, total_path=None, **kwargs)


def _basic_client_oauth(settings: dict) -> Any:
    """OAuth2 client credentials with the client in an HTTP basic header (RFC 6749 §2.3.1),
    as the orders API requires; dlt's own class sends it in the form body."""
    from dlt.common.configuration import configspec  # noqa: PLC0415
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials  # noqa: PLC0415

    @configspec
    class BasicClientCredentials(OAuth2ClientCredentials):
        def build_access_token_request(self) -> dict[str, Any]:
            return {
                "auth": (self.client_id, self.client_secret),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "data": {"grant_type": "client_credentials", **self.access_token_request_data},
            }

    data = {"scope": settings["oauth_scopes"]} if settings.get("oauth_scopes") else {}
    return BasicClientCredentials(
        access_token_url=settings["token_url"],
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        access_token_request_data=data,
    )


def _to_day(value: Any) -> str:
    """digital's ``from`` filter is a date: ``2024-03-01T12:00:00Z`` → ``2024-03-01``."""
    return str(value)[:10]


SHOP_CHILDREN = ("products_images", "products_reviews", "product_options", "products_variations")


def fixed_config(
    api: str, settings: dict, *, resources: list[str] | None = None, parallel_children: bool = False
) -> dict[str, Any]:
    """The corrected config of ``api``, pointed at ``settings`` (a tap config: base URL and
    credentials). ``resources`` keeps only those (and the parents they need);
    ``parallel_children`` sets ``parallelized: True`` on shop's product sub-resources."""
    config = copy.deepcopy(SEEDS[api])
    client = config["client"]
    client["base_url"] = settings["base_url"]
    if api == "storefront":
        client["auth"]["token"] = settings["api_key"]
        for resource in config["resources"]:
            # a "cursor" paginator sends the cursor value as a query parameter; the API
            # hands out an absolute next-page URL, which is what "json_link" follows
            resource["endpoint"]["paginator"] = {
                "type": "json_link",
                "next_url_path": "pagination.nextPageUrl",
            }
    elif api == "payments":
        client["auth"]["api_key"] = settings["api_key"]
    elif api == "shop":
        client["auth"] = {
            "type": "http_basic",
            "username": settings["api_key"],
            "password": settings["api_secret"],
        }
        for resource in config["resources"]:
            endpoint = resource["endpoint"]
            if endpoint["paginator"]["type"] == "offset":
                endpoint["paginator"] = _short_page_offset(20, offset_param="offset")
            if resource["name"] in SHOP_CHILDREN:
                endpoint["path"] = endpoint["path"].replace(
                    "{{ stream_partition['prd_id'] }}", "{resources.products.id}"
                )
                resource["include_from_parent"] = ["id"]  # the product's id, as _products_id
                if parallel_children:
                    resource["parallelized"] = True
    elif api == "digital":
        client["auth"] = {
            "type": "http_basic",
            "username": settings["username"],
            "password": settings["password"],
        }
        client["headers"] = {"Accept": "application/json"}  # anything else gets 406
        for resource in config["resources"]:
            endpoint = resource["endpoint"]
            wrapper = endpoint["data_selector"]
            endpoint["data_selector"] = f"$[*].{wrapper}"  # [{"product": {...}}, ...]
            endpoint["paginator"] = {
                "type": "page_number",
                "page_param": "page",
                "base_page": 1,
                "total_path": None,
            }
            endpoint["params"] = {"per_page": 50}
            seed_incremental = resource.pop("incremental_sync", None)
            if seed_incremental:
                endpoint["incremental"] = {
                    "cursor_path": seed_incremental["cursor_field"],
                    "start_param": "from",
                    "initial_value": "1970-01-01T00:00:00Z",
                    "convert": _to_day,
                }
    elif api == "orders":
        client["auth"] = _basic_client_oauth(settings)
        endpoint = config["resources"][0]["endpoint"]
        endpoint.pop("error_handler")  # see RETRY_ENV
        endpoint["paginator"]["total_path"] = "total"
        # without a filter the API returns only the last 90 days
        endpoint["params"] = {"filter": "lastmodifieddate:[1970-01-01T00:00:00.000Z..]"}
    if resources is not None:
        wanted = set(resources)
        if wanted & set(SHOP_CHILDREN):
            wanted.add("products")
        config["resources"] = [r for r in config["resources"] if r["name"] in wanted]
    return config


def validation_errors(config: dict[str, Any]) -> list[str]:
    """dlt's own validation of a rest_api config: [] if dlt accepts it, else its message
    (dlt stops at the first problem, and its messages for unions are long)."""
    from dlt.common.exceptions import DictValidationException  # noqa: PLC0415
    from dlt.sources.rest_api import _validate_config  # noqa: PLC0415

    try:
        _validate_config(config)
    except DictValidationException as exc:
        return [" ".join(str(exc).split())]
    return []


def invalid_keys(config: dict[str, Any]) -> list[str]:
    """Every key or ``type`` of a dict-form config that dlt's rest_api does not know, read
    off dlt's own typed dicts (so this follows the installed dlt version)."""
    from dlt.sources.rest_api import typing as rt  # noqa: PLC0415

    def keys(cls: Any) -> set[str]:
        return set(cls.__required_keys__) | set(cls.__optional_keys__)

    auths = {
        "bearer": rt.BearerTokenAuthConfig,
        "api_key": rt.ApiKeyAuthConfig,
        "http_basic": rt.HttpBasicAuthConfig,
        "oauth2_client_credentials": rt.OAuth2ClientCredentialsConfig,
    }
    paginators = {
        "json_link": rt.JSONLinkPaginatorConfig,
        "header_link": rt.HeaderLinkPaginatorConfig,
        "header_cursor": rt.HeaderCursorPaginatorConfig,
        "single_page": rt.PaginatorTypeConfig,
        "cursor": rt.JSONResponseCursorPaginatorConfig,
        "offset": rt.OffsetPaginatorConfig,
        "page_number": rt.PageNumberPaginatorConfig,
    }
    problems: list[str] = []

    def check(where: str, value: Any, allowed: set[str]) -> None:
        if isinstance(value, dict):
            problems.extend(f"{where}: unknown key '{k}'" for k in value if k not in allowed)

    meant = {"basic": "http_basic", "oauth2": "oauth2_client_credentials"}

    def typed(where: str, value: Any, table: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            return
        kind = value.get("type")
        if kind not in table:
            problems.append(f"{where}: unknown type '{kind}' (dlt has {', '.join(table)})")
            kind = meant.get(kind)
        if kind in table:
            check(where, value, keys(table[kind]) | {"type"})

    client = config.get("client", {})
    check("client", client, keys(rt.ClientConfig))
    typed("client.auth", client.get("auth"), auths)
    typed("client.paginator", client.get("paginator"), paginators)
    for resource in config.get("resources", []):
        name = resource.get("name", "?")
        check(f"resources[{name}]", resource, keys(rt.EndpointResource))
        endpoint = resource.get("endpoint")
        if isinstance(endpoint, dict):
            check(f"resources[{name}].endpoint", endpoint, keys(rt.Endpoint))
            typed(f"resources[{name}].endpoint.paginator", endpoint.get("paginator"), paginators)
            typed(f"resources[{name}].endpoint.auth", endpoint.get("auth"), auths)
            if "{{" in str(endpoint.get("path", "")):
                problems.append(
                    f"resources[{name}].endpoint.path: '{endpoint['path']}' is not a dlt "
                    "placeholder (dlt: '{resources.<parent>.<field>}')"
                )
    return problems


def main() -> int:
    os.environ.update(dlt_env())
    failed = False
    placeholder = {
        "base_url": "http://127.0.0.1:1/",
        "api_key": "k",
        "api_secret": "s",
        "username": "u",
        "password": "p",
        "client_id": "c",
        "client_secret": "s",
        "token_url": "http://127.0.0.1:1/token",
    }
    for api, seed in SEEDS.items():
        verdict = "accepted" if not validation_errors(seed) else "rejected"
        print(f"seed {api}: dlt's validation {verdict}")
        for problem in invalid_keys(seed):
            print(f"  - {problem}")
        fixed = fixed_config(api, placeholder)
        errors = validation_errors(fixed) + invalid_keys(fixed)
        print(f"  fixed config: {errors or 'valid'}")
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())


def baseline_run(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, dict, Path]:
    """What every dlt baseline starts with: ``parser`` with the arguments they share
    (``--config``: the tap's config file of the API, ``--workdir``, ``--result``) parsed,
    dlt's environment set in the work directory (before dlt is imported), and the tap's
    settings read. Returns the arguments, the settings and the work directory."""
    parser.add_argument("--config", required=True, help="the tap config of the API")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    prepare_environment(workdir)
    settings = json.loads(Path(args.config).read_text(encoding="utf-8"))
    return args, settings, workdir


def table_counts(metrics: dict[str, Any]) -> dict[str, int]:
    """Items per table (dlt's own ``_dlt`` tables aside) from a dlt step's load-package
    metrics (``ExtractInfo.metrics``, ``NormalizeInfo.metrics``)."""
    counts: dict[str, int] = {}
    for package in metrics.values():
        for step in package:
            for table, table_metrics in step["table_metrics"].items():
                if not table.startswith("_dlt"):
                    counts[table] = counts.get(table, 0) + table_metrics.items_count
    return counts


def prepare_environment(workdir: Path) -> None:
    """Set dlt's environment (`dlt_env`, its data and project directories in ``workdir``)
    for this process, before dlt is imported; what the caller set already wins."""
    for name, value in dlt_env().items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DLT_DATA_DIR", str(workdir / "data"))
    os.environ.setdefault("DLT_PROJECT_DIR", str(workdir))
