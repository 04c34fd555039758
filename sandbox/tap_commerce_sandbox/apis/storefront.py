"""storefront (contract §2.1): bearer auth, a mandatory User-Agent, server-fixed pages of
50 with an opaque cursor, and a strict ``modifiedAfter``/``modifiedBefore`` filter.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import sys
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import simplejson

from tap_commerce_sandbox.timefmt import parse_utc_millis_z
from tap_commerce_sandbox.wire import ApiError, Request, Response

from .base import Api, page_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_commerce_sandbox.data import Dataset, Table

PAGE_SIZE = 50

# path -> (stream, selector, accepts the modified filter)
ENDPOINTS = {
    "/commerce/inventory": ("inventory", "inventory", False),
    "/commerce/orders": ("orders", "result", True),
    "/commerce/store_pages": ("store_pages", "storePages", False),
    "/commerce/products": ("products", "products", True),
    "/commerce/transactions": ("transactions", "documents", True),
    "/profiles": ("profiles", "profiles", False),
}
_FILTER = ("modifiedAfter", "modifiedBefore")
_ERROR_TYPES = {
    400: "INVALID_REQUEST_ERROR",
    401: "AUTHORIZATION_ERROR",
    404: "NOT_FOUND",
    405: "INVALID_REQUEST_ERROR",
    429: "RATE_LIMIT_ERROR",
}


def encode_cursor(state: dict[str, Any]) -> str:
    """An opaque cursor carrying ``state`` (see `decode_cursor`)."""
    text = simplejson.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


_CURSOR_SHAPES = ({"s", "i"}, {"s", "a", "b", "m", "i"})


def decode_cursor(cursor: str, stream: str) -> dict[str, Any]:
    """The state a cursor from :func:`encode_cursor` carries; a forged, damaged or foreign
    cursor is a 400.
    """
    try:
        state = simplejson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        state = None
    if (
        isinstance(state, dict)
        and set(state) in _CURSOR_SHAPES
        and state["s"] == stream
        and all(isinstance(v, int) for k, v in state.items() if k != "s")
    ):
        return state
    raise ApiError(
        400, "The cursor is invalid or belongs to another endpoint", subtype="INVALID_CURSOR"
    )


class StorefrontApi(Api):
    """storefront (contract §2.1): bearer key, cursor pages, a modification-date filter."""

    name = "storefront"
    prefix = "/storefront/1.0"

    def __init__(self, dataset: Dataset, credentials: Mapping[str, str]) -> None:
        """Routes for every list endpoint."""
        super().__init__(dataset, credentials)
        for path, (stream, selector, filterable) in ENDPOINTS.items():
            self.route(
                "GET",
                path,
                partial(self.page, stream=stream, selector=selector, filterable=filterable),
            )

    @override
    def error_body(
        self, status: int, message: str, subtype: str | None = None, **_: Any
    ) -> dict[str, Any]:
        return {
            "type": _ERROR_TYPES.get(status, "INTERNAL_ERROR"),
            "subtype": subtype,
            "message": message,
            "details": None,
            "contextId": uuid.uuid4().hex[:20].upper(),
        }

    @override
    def handle(self, request: Request) -> Response:
        # Checked before routing, as the real gateway does: no User-Agent, no answer.
        if not request.headers.get("User-Agent"):
            return self.error(400, "A User-Agent header is required", subtype="MISSING_USER_AGENT")
        if request.bearer_token() != self.credentials["api_key"]:
            return self.error(401, "The Authorization header is missing or the API key is invalid")
        return super().handle(request)

    # Listing -----------------------------------------------------------------------------

    def _check_parameters(self, request: Request, *, filterable: bool) -> dict[str, str]:
        names = [name for name, _ in request.query]
        allowed = {"cursor", *_FILTER} if filterable else {"cursor"}
        unknown = sorted({n for n in names if n not in allowed})
        if unknown:
            raise ApiError(
                400,
                f"Unsupported query parameter(s) for this endpoint: {', '.join(unknown)}",
                subtype="INVALID_ARGUMENT",
            )
        if len(set(names)) != len(names):
            raise ApiError(
                400, "A query parameter was given more than once", subtype="INVALID_ARGUMENT"
            )
        if "cursor" in names and len(names) > 1:
            raise ApiError(
                400,
                "The cursor parameter cannot be combined with other parameters",
                subtype="INVALID_ARGUMENT",
            )
        return request.params()

    def _window(self, params: dict[str, str]) -> tuple[int, int] | None:
        given = [name for name in _FILTER if name in params]
        if not given:
            return None
        if len(given) == 1:
            raise ApiError(
                400,
                "modifiedAfter and modifiedBefore must be given together",
                subtype="INVALID_ARGUMENT",
            )
        after, before = (parse_utc_millis_z(params[name]) for name in _FILTER)
        if after is None or before is None:
            raise ApiError(
                400,
                "modifiedAfter and modifiedBefore must be UTC timestamps like "
                "2024-03-01T12:00:00.000Z",
                subtype="INVALID_ARGUMENT",
            )
        if after > before:
            raise ApiError(
                400,
                "modifiedAfter must not be later than modifiedBefore",
                subtype="INVALID_ARGUMENT",
            )
        return after, before

    def page(self, request: Request, stream: str, selector: str, *, filterable: bool) -> Response:
        """``GET <path>``: a page by cursor, oldest first, or newest first in a window."""
        params = self._check_parameters(request, filterable=filterable)
        if "cursor" in params:
            state = decode_cursor(params["cursor"], stream)
        else:
            window = self._window(params)
            state = (
                {"s": stream} if window is None else {"s": stream, "a": window[0], "b": window[1]}
            )
        table = self.table(stream)
        if "a" in state:
            indices, next_state = self._newest_first(table, state)
        else:
            indices, next_state = self._oldest_first(table, state)
        cursor = encode_cursor(next_state) if next_state else None
        return page_response(
            {
                selector: self.served_records(table, indices),
                "pagination": {
                    "hasNextPage": cursor is not None,
                    "nextPageCursor": cursor,
                    "nextPageUrl": f"{self._next_origin(request)}{self.prefix}{request.path}"
                    f"?cursor={cursor}"
                    if cursor
                    else None,
                },
            }
        )

    def _next_origin(self, request: Request) -> str:
        """Where ``nextPageUrl`` points: the origin the client addressed, unless a
        foreign-next-URL drill covers this path.
        """
        foreign = self.drift.foreign_next_url
        if foreign is not None and foreign.applies(self.prefix + request.path):
            try:
                port = urlsplit(request.origin).port
            except ValueError:  # a Host header with a malformed port
                port = None
            return foreign.origin_for(port)
        return request.origin

    @staticmethod
    def _oldest_first(
        table: Table, state: dict[str, Any]
    ) -> tuple[list[int], dict[str, Any] | None]:
        """Creation order; the cursor is the last index served (keyset, so records added or
        deleted meanwhile neither shift nor repeat the rest).
        """
        live = table.live()
        start = bisect.bisect_right(live, state["i"]) if "i" in state else 0
        window = list(live[start : start + PAGE_SIZE + 1])
        if len(window) <= PAGE_SIZE:
            return window, None
        page = window[:PAGE_SIZE]
        return page, {"s": state["s"], "i": page[-1]}

    @staticmethod
    def _newest_first(
        table: Table, state: dict[str, Any]
    ) -> tuple[list[int], dict[str, Any] | None]:
        """Filtered: descending (modifiedOn, index) inside the window; the cursor is the last
        (modifiedOn, index) served.
        """
        mods, idx = table.by_modified()
        lo = bisect.bisect_left(mods, state["a"])
        hi = bisect.bisect_right(mods, state["b"])
        if "m" in state:
            key = (state["m"], state["i"])
            hi = min(hi, bisect.bisect_left(range(len(mods)), key, key=lambda p: (mods[p], idx[p])))
        positions = range(hi - 1, max(lo, hi - PAGE_SIZE - 1) - 1, -1)
        page = [idx[p] for p in positions[:PAGE_SIZE]]
        if len(positions) <= PAGE_SIZE:
            return page, None
        last = positions[PAGE_SIZE - 1]
        return page, {
            "s": state["s"],
            "a": state["a"],
            "b": state["b"],
            "m": mods[last],
            "i": idx[last],
        }
