"""storefront (contract §2.1): bearer token, absolute next-page URLs, a filter pair."""

from __future__ import annotations

import sys
import typing as t

from tap_commerce.auth import BearerAuth
from tap_commerce.client import CommerceStream, Endpoint
from tap_commerce.normalize import format_millis_z
from tap_commerce.pagination import NextUrlPaginator
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context


def _next_page_url(body: t.Any) -> t.Any:
    pagination = body.get("pagination") if isinstance(body, dict) else None
    return pagination.get("nextPageUrl") if isinstance(pagination, dict) else None


class StorefrontStream(CommerceStream):
    """The server fixes the page size; ``nextPageUrl`` is followed verbatim."""

    @override
    def get_new_paginator(self) -> NextUrlPaginator:
        """Follows ``pagination.nextPageUrl``."""
        return NextUrlPaginator(
            base_url=self._tap.settings.base_url, locate=_next_page_url, stream=self.name
        )

    @override
    def request_params(self, context: Context | None, token: t.Any) -> dict[str, t.Any]:
        """The window as ``modifiedAfter``/``modifiedBefore``, on the first page only."""
        # First page only (next pages carry their cursor and nothing else). Both bounds or
        # neither; with no lower bound the read is the full, unfiltered history.
        if not self.replication_key or self.window.lower is None:
            return {}
        return {
            "modifiedAfter": format_millis_z(self.window.lower),
            "modifiedBefore": format_millis_z(self.window.upper),
        }


class Storefront(TapCommerce):
    """storefront API: inventory, orders, store pages, products, transactions, profiles."""

    profile = ApiProfile(
        api_id="storefront",
        default_base_url="https://api.example.com/1.0/",
        required=("api_key",),
        default_page_size=None,
        max_page_size=None,
        default_requests_per_second=4.5,
    )
    credential_settings = "'api_key'"
    # a 429 here carries no Retry-After and locks the client out for 60 s
    wait_for_429_without_retry_after = 60.0
    stream_base = StorefrontStream
    endpoints = (
        #        name            path                      selector      key   replication key
        Endpoint("inventory", "/commerce/inventory", "inventory", "id"),
        Endpoint("orders", "/commerce/orders", "result", "id", "modifiedOn"),
        Endpoint("store_pages", "/commerce/store_pages", "storePages", "id"),
        Endpoint("products", "/commerce/products", "products", "id", "modifiedOn"),
        Endpoint("transactions", "/commerce/transactions", "documents", "id", "modifiedOn"),
        Endpoint("profiles", "/profiles", "profiles", "id"),
    )

    @override
    def make_authenticator(self) -> AuthBase:
        """Bearer ``api_key``."""
        return BearerAuth(self.config["api_key"])
