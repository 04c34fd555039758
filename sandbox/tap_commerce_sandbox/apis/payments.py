"""payments (contract §2.2): ``api_key`` query parameter, ``offset``/``limit`` (max 100)
and an envelope whose ``total`` some deployments leave out.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from .base import Api, offset_page, page_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_commerce_sandbox.data import Dataset
    from tap_commerce_sandbox.wire import Request, Response

MAX_LIMIT = 100
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class PaymentsApi(Api):
    """payments (contract §2.2): the key in the query, offset/limit pages with a total."""

    name = "payments"
    prefix = "/payments"

    def __init__(
        self, dataset: Dataset, credentials: Mapping[str, str], *, include_total: bool = True
    ) -> None:
        """``include_total``: whether pages carry ``total``."""
        super().__init__(dataset, credentials)
        self.include_total = include_total
        for stream in ("order_payments", "products"):
            self.route("GET", f"/v1/{stream}", partial(self.page, stream=stream))

    @override
    def error_body(self, status: int, message: str, **_: Any) -> dict[str, Any]:
        return {"status_code": status, "message": _REASONS.get(status, "Error"), "details": message}

    @override
    def handle(self, request: Request) -> Response:
        if request.params().get("api_key") != self.credentials["api_key"]:
            return self.error(401, "Missing or invalid api_key query parameter")
        return super().handle(request)

    def page(self, request: Request, stream: str) -> Response:
        """``GET /v1/<stream>``: an offset/limit page."""
        page = offset_page(self, self.table(stream), request.params(), MAX_LIMIT, MAX_LIMIT)
        envelope: dict[str, Any] = {"data": page.records}
        if self.include_total:
            envelope["total"] = len(page.live)
        return page_response(envelope, page.warm_next)
