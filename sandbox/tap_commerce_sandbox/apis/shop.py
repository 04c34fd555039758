"""shop (contract §2.3): basic auth, ``offset``/``limit`` (max 100) everywhere but the
one-page countries list, ``{"data": [...]}`` or — as some deployments answer — a bare
array, and product sub-resources that 404 for an unknown product.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from tap_commerce_sandbox.data import ChildTable
from tap_commerce_sandbox.wire import ApiError, Request, Response

from .base import Api, int_param, offset_page, page_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tap_commerce_sandbox.data import Dataset

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
ENVELOPES = ("object", "bare")

# path -> stream, for the paged top-level lists
ENDPOINTS = {
    "/v1/pages": "pages",
    "/v1/products": "products",
    "/v1/choice-sets": "choice_sets",
    "/v1/customers": "customers",
    "/v1/orders": "orders",
    "/v1/shipping-zones": "shipping_zones",
    "/v1/events": "events",
    "/v1/categories": "categories",
    "/v1/themes": "themes",
}
CHILDREN = {
    "images": "products_images",
    "reviews": "products_reviews",
    "options": "product_options",
    "variations": "products_variations",
}
# The API's error codes; 2 (bad credentials) is the one the contract names.
ERROR_CODES = {400: 3, 401: 2, 404: 4, 405: 3, 429: 5}


class ShopApi(Api):
    """shop (contract §2.3): basic auth, offset/limit pages, product sub-resources."""

    name = "shop"
    prefix = "/shop"

    def __init__(
        self, dataset: Dataset, credentials: Mapping[str, str], *, envelope: str = "object"
    ) -> None:
        """``envelope``: ``object`` (``{"data": [...]}``) or ``bare`` (a top-level list)."""
        super().__init__(dataset, credentials)
        if envelope not in ENVELOPES:
            msg = f"shop_envelope must be one of {ENVELOPES}, not {envelope!r}"
            raise ValueError(msg)
        self.envelope = envelope
        self.route("GET", "/v1/countries", self.countries)
        for path, stream in ENDPOINTS.items():
            self.route("GET", path, partial(self.page, stream=stream))
        self.route("GET", f"/v1/products/([^/]+)/({'|'.join(CHILDREN)})", self.children)

    @override
    def error_body(self, status: int, message: str, **_: Any) -> dict[str, Any]:
        return {"code": ERROR_CODES.get(status, 1), "message": message}

    @override
    def handle(self, request: Request) -> Response:
        user = self.credentials["api_key"], self.credentials["api_secret"]
        if request.basic_auth() != user:
            return self.error(401, "Invalid API credentials")
        return super().handle(request)

    def _page(self, records: list[Any], after: Callable[[], None] | None = None) -> Response:
        return page_response(records if self.envelope == "bare" else {"data": records}, after)

    def countries(self, _request: Request) -> Response:
        """Reference data: always the whole list in one page."""
        table = self.table("countries")
        return self._page(self.served_records(table, table.live()))

    def page(self, request: Request, stream: str) -> Response:
        """``GET /v1/<stream>``: an offset/limit page."""
        page = offset_page(self, self.table(stream), request.params(), DEFAULT_LIMIT, MAX_LIMIT)
        return self._page(page.records, page.warm_next)

    def children(self, request: Request, product_id: str, kind: str) -> Response:
        """``GET /v1/products/<id>/<kind>``: a page of one product's sub-resources."""
        products = self.table("products")
        index = products.index_of(int(product_id)) if product_id.isdigit() else None
        if index is None:
            raise ApiError(404, f"Product {product_id} not found")
        params = request.params()
        offset = int_param(params, "offset", 0, 0)
        limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        table = self.dataset.table(self.name, CHILDREN[kind])
        if not isinstance(table, ChildTable):
            msg = f"shop stream {CHILDREN[kind]!r} is not a child stream"
            raise TypeError(msg)
        fragments = table.fragments(index, offset, limit)
        # Child rows' positions count within their parent's rows (see drift.py).
        positions = partial(range, offset, offset + len(fragments))
        return self._page(self.served(table, fragments, positions))
