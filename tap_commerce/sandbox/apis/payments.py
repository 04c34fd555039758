"""payments (contract §2.2): ``api_key`` query parameter, ``offset``/``limit`` (max 100)
and an envelope whose ``total`` some deployments leave out."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..wire import Request, Response
from .base import Api, offset_page, page_response

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
    name = "payments"
    prefix = "/payments"

    def __init__(self, dataset, credentials, *, include_total: bool = True) -> None:
        super().__init__(dataset, credentials)
        self.include_total = include_total
        for stream in ("order_payments", "products"):
            self.route("GET", f"/v1/{stream}", partial(self.page, stream=stream))

    def error_body(self, status: int, message: str, **_: Any) -> dict:
        return {"status_code": status, "message": _REASONS.get(status, "Error"), "details": message}

    def handle(self, request: Request) -> Response:
        if request.params().get("api_key") != self.credentials["api_key"]:
            return self.error(401, "Missing or invalid api_key query parameter")
        return super().handle(request)

    def page(self, request: Request, stream: str) -> Response:
        page = offset_page(self, self.table(stream), request.params(), MAX_LIMIT, MAX_LIMIT)
        envelope: dict[str, Any] = {"data": page.records}
        if self.include_total:
            envelope["total"] = len(page.live)
        return page_response(envelope, page.warm_next)
