"""A minimal singer-sdk tap for the payments API, written the way the SDK's template
writes one: a `RESTStream` with the SDK's defaults and none of tap-commerce's work.

* the SDK's default message writer (``SingerWriter``, stdlib ``json``);
* the SDK's default type conformance (``RECURSIVE``);
* the SDK's own ``OffsetPaginator`` (it stops on an empty page) and its default
  ``parse_response`` (``response.json(parse_float=Decimal)`` + JSONPath);
* the SDK's ``APIKeyAuthenticator`` in the query string, its default request path
  (backoff decorator, metrics), its incremental state handling on ``updated_at``.

The schema is the same JSON schema file tap-commerce uses, so both emit the same records.

    python plain_sdk_tap.py --config payments.json [--catalog catalog.json]
"""

from __future__ import annotations

import json
from pathlib import Path

from singer_sdk import RESTStream, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.pagination import OffsetPaginator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "payments"
PAGE_SIZE = 100


class PaymentsStream(RESTStream):
    """One offset/limit list of the payments API."""

    records_jsonpath = "$.data[*]"
    primary_keys = ("id",)
    replication_key = "updated_at"

    @property
    def url_base(self) -> str:
        return self.config["base_url"].rstrip("/")

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        return APIKeyAuthenticator(key="api_key", value=self.config["api_key"], location="params")

    def get_new_paginator(self) -> OffsetPaginator:
        return OffsetPaginator(start_value=0, page_size=PAGE_SIZE)

    def get_url_params(self, context, next_page_token) -> dict:  # noqa: ANN001, ARG002 - the SDK hook's signature
        return {"offset": next_page_token or 0, "limit": PAGE_SIZE}


class OrderPaymentsStream(PaymentsStream):
    name = "order_payments"
    path = "/v1/order_payments"
    schema = json.loads((SCHEMAS / "order_payments.json").read_text(encoding="utf-8"))


class ProductsStream(PaymentsStream):
    name = "products"
    path = "/v1/products"
    schema = json.loads((SCHEMAS / "products.json").read_text(encoding="utf-8"))


class TapPlainPayments(Tap):
    """The payments API through singer-sdk's defaults."""

    name = "tap-plain-payments"
    config_jsonschema = th.PropertiesList(
        th.Property("base_url", th.StringType, required=True),
        th.Property("api_key", th.StringType, required=True, secret=True),
    ).to_dict()

    def discover_streams(self) -> list[PaymentsStream]:
        return [OrderPaymentsStream(self), ProductsStream(self)]


if __name__ == "__main__":
    TapPlainPayments.cli()
