"""payments (contract §2.2): API key in the query, offset/limit with an optional total."""

from __future__ import annotations

import typing as t

from tap_commerce.auth import QueryKeyAuth
from tap_commerce.client import CommerceStream, Endpoint
from tap_commerce.pagination import OffsetPaginator
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context


def _total(body: t.Any) -> t.Any:  # noqa: ANN401
    return body.get("total") if isinstance(body, dict) else None


class PaymentsStream(CommerceStream):
    """No server-side date filter: every run reads all pages, the window filters."""

    def get_new_paginator(self) -> OffsetPaginator:  # noqa: D102
        return OffsetPaginator(t.cast("int", self._tap.settings.page_size), total=_total)

    def request_params(self, context: Context | None, token: t.Any) -> dict:  # noqa: ANN401, ARG002, D102
        return {"offset": token, "limit": self._tap.settings.page_size}


class Payments(TapCommerce):
    """payments API: order payments and products."""

    profile = ApiProfile(
        api_id="payments",
        default_base_url="https://api.example.com",
        required=("api_key",),
        default_page_size=100,
        max_page_size=100,
        default_requests_per_second=0,
    )
    credential_settings = "'api_key'"
    stream_base = PaymentsStream
    endpoints = (
        #        name               path                  selector key   replication key
        Endpoint("order_payments", "/v1/order_payments", "data", "id", "updated_at"),
        Endpoint("products", "/v1/products", "data", "id", "updated_at"),
    )

    def make_authenticator(self) -> AuthBase:  # noqa: D102
        return QueryKeyAuth("api_key", self.config["api_key"])
