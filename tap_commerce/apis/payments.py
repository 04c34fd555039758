"""payments (contract §2.2): API key in the query, offset/limit with an optional total."""

from __future__ import annotations

import sys
import typing as t

from tap_commerce.auth import QueryKeyAuth
from tap_commerce.client import Endpoint, OffsetLimitStream
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from requests.auth import AuthBase


class PaymentsStream(OffsetLimitStream):
    """No server-side date filter: every run reads all pages, the window filters.
    ``total`` may be absent; a short or empty page ends a list either way.
    """


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

    @override
    def make_authenticator(self) -> AuthBase:
        """``api_key`` in the query string."""
        return QueryKeyAuth("api_key", self.config["api_key"])
