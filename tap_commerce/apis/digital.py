"""digital (contract §2.4): basic auth, 1-based pages, single-key wrappers, a date filter."""

from __future__ import annotations

import sys
import typing as t

from requests.auth import HTTPBasicAuth

from tap_commerce.client import CommerceStream, Endpoint, Envelope
from tap_commerce.normalize import utc_date
from tap_commerce.pagination import PageNumberPaginator
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context

_EPOCH_DAY = "1970-01-01"


class DigitalStream(CommerceStream):
    """``[{"<wrapper>": {...}}, ...]`` or ``{"<wrapper>": [...]}``; pages until a short one."""

    envelope = Envelope.WRAPPERS

    @override
    def get_new_paginator(self) -> PageNumberPaginator:
        """1-based ``page``/``per_page``."""
        return PageNumberPaginator(t.cast("int", self._tap.settings.page_size))

    @override
    def request_params(self, context: Context | None, token: t.Any) -> dict[str, t.Any]:
        """The page, and the window as whole days (``from``/``to``) on every page."""
        params: dict[str, t.Any] = {"page": token, "per_page": self._tap.settings.page_size}
        window = self.window if self.replication_key else None
        if window is not None and (window.lower is not None or self._tap.settings.end_date):
            # whole days, on every page; the window then drops what the bookmark covers
            params["from"] = utc_date(window.lower).isoformat() if window.lower else _EPOCH_DAY
            params["to"] = utc_date(window.upper).isoformat()
        return params


class Digital(TapCommerce):
    """digital API: products, packages, orders, subscriptions."""

    profile = ApiProfile(
        api_id="digital",
        default_base_url="https://api.example.com/v1/",
        required=("username", "password"),
        default_page_size=50,
        max_page_size=50,
        default_requests_per_second=1,
    )
    credential_settings = "'username' and 'password'"
    stream_base = DigitalStream
    endpoints = (
        #        name             path              wrapper         key   replication key
        Endpoint("products", "/products", "product", "id"),
        Endpoint("packages", "/packages", "package", "id"),
        Endpoint("orders", "/orders", "order", "id", "created_at"),
        Endpoint("subscriptions", "/subscriptions", "subscription", "id"),
    )

    @override
    def make_authenticator(self) -> AuthBase:
        """Basic auth with ``username`` and ``password``."""
        return HTTPBasicAuth(self.config["username"], self.config["password"])
