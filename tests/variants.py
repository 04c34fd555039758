"""What the tap must emit for a sandbox variant (`tap_commerce_sandbox.apis.variants`),
worked out from the records as served, independently of the tap's own code.

A definition for each variant service is in ``tests/definitions/<service>.yml``, written
as a user would: dlt's keys, no Python, no schema file (schemas are inferred).
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import yaml
from tap_commerce_sandbox import Sandbox

from tests.harness import FAST

DEFINITIONS = Path(__file__).parent / "definitions"
UTC = timezone.utc

#: service -> {endpoint (the resource's name): the date-time fields the tap must declare}
DATETIMES: dict[str, dict[str, set[str]]] = {
    "orders-like": {"orders": {"creationDate", "lastModifiedDate"}},
    "storefront-like": {
        "inventory": set(),
        "orders": {"createdOn", "modifiedOn", "fulfilledOn"},
        "stock": set(),
        "profiles": {"createdOn"},
    },
    "payments-like": {
        "payments": {"paid_at", "created_at", "updated_at"},
        "products": {"created_at", "updated_at"},
    },
    "shop-like": {
        "products": {"createdAtUtc", "updatedAtUtc"},
        "orders": {"createdAtUtc"},
        "events": {"createdAtUtc"},
        "countries": set(),
    },
    "digital-like": {
        "products": {"created_at", "updated_at"},
        "orders": {"created_at", "updated_at"},
    },
}
#: service -> the definition file that reads it (the OAuth services share orders-like's)
FILES = {
    "orders-like": "orders-like.yml",
    "orders-like-refresh-form": "orders-like.yml",
    "orders-like-cc-basic": "orders-like.yml",
    "orders-like-cc-form": "orders-like.yml",
    "storefront-like": "storefront-like.yml",
    "payments-like": "payments-like.yml",
    "payments-like-query": "payments-like.yml",
    "shop-like": "shop-like.yml",
    "digital-like": "digital-like.yml",
}
_CLIENT = {
    "access_token_url": "{settings.token_url}",
    "client_id": "{settings.client_id}",
    "client_secret": "{settings.client_secret}",
}
_REFRESH = {"grant_type": "refresh_token", "refresh_token": "{settings.refresh_token}"}
#: service -> the auth that replaces its file's (the other three OAuth services, and
#: payments-like with its key in the query)
AUTHS = {
    "payments-like-query": {
        "type": "api_key",
        "name": "key",
        "api_key": "{settings.api_key}",
        "location": "query",
    },
    "orders-like-refresh-form": {
        "type": "oauth2_client_credentials",
        **_CLIENT,
        "access_token_request_data": _REFRESH,
    },
    "orders-like-cc-basic": {
        "type": "oauth2_client_credentials",
        **_CLIENT,
        "x-client_auth": "header",
    },
    "orders-like-cc-form": {"type": "oauth2_client_credentials", **_CLIENT},
}
#: resource -> (column, path) of a key inside an object
NESTED_KEYS = {("storefront-like", "stock"): ("variant__id", ("variant", "id"))}


def canonical(value: Any) -> str:
    """A date-time as the tap writes every one: UTC, ``+00:00``, the fraction of a second
    without trailing zeros. Read here with the standard library alone: ISO 8601, RFC 2822
    or UNIX seconds.
    """
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif value[:4].isdigit():
        moment = datetime.fromisoformat(value)
    else:
        moment = parsedate_to_datetime(value)
    text = moment.astimezone(UTC).isoformat()
    if "." in text:
        head, offset = text[:-6], text[-6:]
        text = head.rstrip("0").rstrip(".") + offset
    return text


def expected(sb: Sandbox, service: str, resource: str) -> list[dict[str, Any]]:
    """The records the tap must emit for a full read: as served, with every date-time in
    the canonical form, ``""`` in a date-time as null, a nested key copied to its column,
    and fields that were null in every record left out (an inferred schema has no type
    for them).
    """
    served = sb.variant_records(service, resource)
    dates = DATETIMES[service.split("-like", maxsplit=1)[0] + "-like"][resource]
    always_null = (
        {k for k in served[0] if all(r.get(k) is None for r in served)} if served else set()
    )
    out = []
    for record in copy.deepcopy(served):
        for name in dates:
            value = record.get(name)
            if value == "":
                record[name] = None
            elif value is not None:
                record[name] = canonical(value)
        nested = NESTED_KEYS.get((service, resource))
        if nested is not None:
            column, (outer, inner) = nested
            record[column] = record[outer][inner]
        for name in always_null:
            record.pop(name, None)
        out.append(record)
    return out


def definition(service: str) -> str | dict[str, Any]:
    """The definition that reads ``service``: its file, with the auth of `AUTHS` in
    place of the file's where the service has one there.
    """
    path = DEFINITIONS / FILES[service]
    if service not in AUTHS:
        return str(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["client"]["auth"] = AUTHS[service]
    return raw


def config(sb: Sandbox, service: str, **settings: Any) -> dict[str, Any]:
    """The tap config reading ``service`` with its definition."""
    return {**sb.variant_config(service), **FAST, "definition": definition(service), **settings}


def by_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in a stable order (by their text), to compare lists that differ in order."""
    return sorted(records, key=lambda r: repr(sorted(r.items(), key=lambda kv: kv[0])))
