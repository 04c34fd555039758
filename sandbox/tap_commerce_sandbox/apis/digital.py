"""digital (contract §2.4): basic auth, ``Accept: application/json`` or 406, ``page`` /
``per_page`` (silently clamped to 50), records wrapped one per object — or, as some
deployments answer, one object holding the list — and a day-granular ``from``/``to``
filter on orders.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from tap_commerce_sandbox.timefmt import date_start_ms, parse_date
from tap_commerce_sandbox.wire import ApiError, Request, Response

from .base import Api, Page, int_param, page_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_commerce_sandbox.data import Dataset

MAX_PER_PAGE = 50
ENVELOPES = ("array", "object")

# path -> (stream, wrapper key)
ENDPOINTS = {
    "/products": ("products", "product"),
    "/packages": ("packages", "package"),
    "/orders": ("orders", "order"),
    "/subscriptions": ("subscriptions", "subscription"),
}
_FILTERED = "orders"


def accepts_json(accept: str) -> bool:
    """True if the Accept header lists ``application/json`` itself (with q > 0). The API
    is strict: a wildcard such as ``*/*`` is not enough.
    """
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != "application/json":
            continue
        q = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


class DigitalApi(Api):
    """digital (contract §2.4): basic auth, JSON only, 1-based pages of single-key wrappers."""

    name = "digital"
    prefix = "/digital/v1"

    def __init__(
        self, dataset: Dataset, credentials: Mapping[str, str], *, envelope: str = "array"
    ) -> None:
        """``envelope``: ``array`` of wrappers, or ``object`` (one list per wrapper key)."""
        super().__init__(dataset, credentials)
        if envelope not in ENVELOPES:
            msg = f"digital_envelope must be one of {ENVELOPES}, not {envelope!r}"
            raise ValueError(msg)
        self.envelope = envelope
        for path, (stream, wrapper) in ENDPOINTS.items():
            self.route("GET", path, partial(self.page, stream=stream, wrapper=wrapper))

    @override
    def error_body(self, status: int, message: str, **_: Any) -> dict[str, Any]:
        return {"error": message}

    @override
    def handle(self, request: Request) -> Response:
        if request.basic_auth() != (self.credentials["username"], self.credentials["password"]):
            return self.error(401, "Invalid username or password")
        if not accepts_json(request.headers.get("Accept", "")):
            return self.error(406, "Not Acceptable: send Accept: application/json")
        return super().handle(request)

    def _created_window(self, params: dict[str, str]) -> tuple[int | None, int | None]:
        """``from``/``to`` dates as inclusive millisecond bounds on ``created_at``."""
        bounds = []
        for name in ("from", "to"):
            raw_value = params.get(name)
            day = None if raw_value is None else parse_date(raw_value)
            if raw_value is not None and day is None:
                raise ApiError(400, f"{name} must be a date like 2024-03-01, got {raw_value!r}")
            bounds.append(day)
        start, end = bounds
        if start and end and start > end:
            raise ApiError(400, "from must not be later than to")
        return (
            date_start_ms(start) if start else None,
            date_start_ms(end + timedelta(days=1)) - 1 if end else None,
        )

    def page(self, request: Request, stream: str, wrapper: str) -> Response:
        """``GET /<stream>``: ``page``/``per_page``, filtered by ``from``/``to`` dates."""
        params = request.params()
        page = int_param(params, "page", 1, 1)
        per_page = min(int_param(params, "per_page", MAX_PER_PAGE, 1), MAX_PER_PAGE)
        table = self.table(stream)
        if stream == _FILTERED:
            indices = table.created_between(*self._created_window(params))
        else:
            indices = table.live()
        chunk = Page(self, table, indices, (page - 1) * per_page, per_page)
        if self.envelope == "object":
            return page_response({wrapper: chunk.records}, chunk.warm_next)
        return page_response([{wrapper: r} for r in chunk.records], chunk.warm_next)
