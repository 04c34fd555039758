"""shop (contract §2.3): basic auth, offset/limit, four per-product sub-resources."""

from __future__ import annotations

import sys
import typing as t

from requests.auth import HTTPBasicAuth

from tap_commerce.client import ChildStream, Endpoint, OffsetLimitStream
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from requests.auth import AuthBase


class ShopStream(OffsetLimitStream):
    """Lists answer ``{"data": [...]}`` or a bare array; no total, no date filter;
    countries is one page.
    """


class ShopChildStream(ChildStream, ShopStream):
    """A product sub-resource, paginated like every shop list."""


class Shop(TapCommerce):
    """shop API: catalogue, customers, orders, content, and product sub-resources."""

    profile = ApiProfile(
        api_id="shop",
        default_base_url="https://api.ecommerceapi.uk",
        required=("api_key", "api_secret"),
        default_page_size=20,
        max_page_size=100,
        default_requests_per_second=2,
    )
    credential_settings = "'api_key' and 'api_secret'"
    stream_base = ShopStream
    child_base = ShopChildStream
    endpoints = (
        #        name                  path                               selector key  replication key
        Endpoint("countries", "/v1/countries", "data", "id", paginated=False),
        Endpoint("pages", "/v1/pages", "data", "id", "created_at_utc"),
        Endpoint("products", "/v1/products", "data", "id", "updated_at_utc"),
        Endpoint(
            "products_images", "/v1/products/{prd_id}/images", "data", "id", parent="products"
        ),
        Endpoint("choice_sets", "/v1/choice-sets", "data", "id"),
        Endpoint(
            "products_reviews",
            "/v1/products/{prd_id}/reviews",
            "data",
            "id",
            "created_at_utc",
            parent="products",
        ),
        Endpoint(
            "product_options", "/v1/products/{prd_id}/options", "data", "id", parent="products"
        ),
        Endpoint(
            "products_variations",
            "/v1/products/{prd_id}/variations",
            "data",
            "id",
            parent="products",
        ),
        Endpoint("customers", "/v1/customers", "data", "id", "created_at_utc"),
        Endpoint("orders", "/v1/orders", "data", "id", "created_at_utc"),
        Endpoint("shipping_zones", "/v1/shipping-zones", "data", "uuid"),
        Endpoint("events", "/v1/events", "data", "id", "created_at_utc"),
        Endpoint("categories", "/v1/categories", "data", "id", "created_at_utc"),
        Endpoint("themes", "/v1/themes", "data", "id", "created_at_utc"),
    )

    @override
    def make_authenticator(self) -> AuthBase:
        """Basic auth with ``api_key`` and ``api_secret``."""
        return HTTPBasicAuth(self.config["api_key"], self.config["api_secret"])
