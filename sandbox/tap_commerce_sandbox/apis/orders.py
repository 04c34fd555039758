"""orders (contract §2.5): OAuth2 client credentials (token endpoint included), bearer
tokens that expire, ``offset``/``limit`` (max 200), ``filter=lastmodifieddate:[from..to]``,
results ascending by ``last_modified_date``, and only the last 90 days without a filter.
"""

from __future__ import annotations

import bisect
import re
import secrets
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from tap_commerce_sandbox.timefmt import MS_PER_DAY, parse_utc_millis_z
from tap_commerce_sandbox.wire import ApiError, Request, Response, json_response

from .base import Api, int_param, page_response

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from tap_commerce_sandbox.data import Dataset

MAX_LIMIT = 200
DEFAULT_WINDOW_DAYS = 90
SCOPES = ("orders.read",)
TOKEN_PATH = "/oauth/token"

# errorId values; 1001 (expired or invalid token) and 1002 (missing) are the contract's.
ERROR_IDS = {400: 30700, 401: 1001, 404: 30404, 405: 30405, 429: 2001, 500: 10001}
MISSING_TOKEN = 1002

_FILTER = re.compile(r"^lastmodifieddate:\[(.*?)\.\.(.*)\]$")


class TokenStore:
    """Issued access tokens and their expiry (real seconds: ``time_scale`` does not apply,
    the lifetime is configured directly).
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Tokens valid ``ttl`` seconds of ``clock``."""
        self.ttl = ttl
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, prefix: str = "sandbox-orders") -> str:
        """A new token, valid from now."""
        token = f"{prefix}-{secrets.token_urlsafe(24)}"
        now = self._clock()
        with self._lock:
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}  # forget stale ones
            self._expiry[token] = now + self.ttl
            self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        """Whether ``token`` was issued and has not expired."""
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._clock() < expiry

    def expire_all(self) -> None:
        """Make every issued token expired now (forces the client's refresh path)."""
        with self._lock:
            now = self._clock()
            self._expiry = {t: min(e, now) for t, e in self._expiry.items()}

    def expires_in(self) -> float:
        """The lifetime as the token answer's ``expires_in`` (an integer when it is one)."""
        return int(self.ttl) if float(self.ttl).is_integer() else self.ttl


class OrdersApi(Api):
    """orders (contract §2.5): OAuth2 client credentials, offset/limit pages, a filter."""

    name = "orders"
    prefix = "/orders"

    def __init__(
        self, dataset: Dataset, credentials: Mapping[str, str], *, token_ttl: float = 3600
    ) -> None:
        """``token_ttl``: the lifetime of an access token, in seconds."""
        super().__init__(dataset, credentials)
        self.tokens = TokenStore(token_ttl)
        self.route("POST", TOKEN_PATH, self.token)
        self.route("GET", "/v1/orders", self.page)

    @override
    def error_body(
        self, status: int, message: str, error_id: int | None = None, **_: Any
    ) -> dict[str, Any]:
        error_id = error_id or ERROR_IDS.get(status, 10001)
        return {
            "errors": [
                {
                    "errorId": error_id,
                    "message": message.split(";", maxsplit=1)[0],
                    "longMessage": message,
                }
            ]
        }

    # OAuth ---------------------------------------------------------------------------

    @staticmethod
    def _oauth_error(
        status: int, error: str, description: str, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        return json_response(
            status,
            {"error": error, "error_description": description},
            [("Cache-Control", "no-store"), *headers],
        )

    def token(self, request: Request) -> Response:
        """RFC 6749 §4.4: client credentials in a basic header (§2.3.1), form body."""
        client = (self.credentials["client_id"], self.credentials["client_secret"])
        if request.basic_auth() != client:
            return self._oauth_error(
                401,
                "invalid_client",
                "Client authentication failed",
                [("WWW-Authenticate", 'Basic realm="sandbox"')],
            )
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return self._oauth_error(
                400, "invalid_request", "The body must be application/x-www-form-urlencoded"
            )
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if not grant:
            return self._oauth_error(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            return self._oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}"
            )
        scopes = form.get("scope", "").split()
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            return self._oauth_error(400, "invalid_scope", f"Unknown scope(s): {' '.join(unknown)}")
        body: dict[str, Any] = {
            "access_token": self.tokens.issue(),
            "token_type": "Bearer",
            "expires_in": self.tokens.expires_in(),
        }
        if scopes:
            body["scope"] = " ".join(scopes)
        return json_response(200, body, [("Cache-Control", "no-store")])

    # Orders --------------------------------------------------------------------------

    def _authorize(self, request: Request) -> None:
        token = request.bearer_token()
        if token is None:
            raise ApiError(
                401,
                "Missing access token; send Authorization: Bearer <token>",
                error_id=MISSING_TOKEN,
            )
        if not self.tokens.valid(token):
            raise ApiError(
                401,
                "Invalid access token; the token is expired or unknown",
                headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )

    @staticmethod
    def _window(raw_filter: str) -> tuple[int, int | None]:
        match = _FILTER.match(raw_filter)
        if match is None:
            raise ApiError(
                400,
                "Invalid filter; use lastmodifieddate:[<from>..] or "
                "lastmodifieddate:[<from>..<to>]",
            )
        start = parse_utc_millis_z(match.group(1))
        end = parse_utc_millis_z(match.group(2)) if match.group(2) else None
        if start is None or (match.group(2) and end is None):
            raise ApiError(400, "Invalid filter date; use UTC like 2024-03-01T12:00:00.000Z")
        if end is not None and start > end:
            raise ApiError(400, "Invalid filter; the range is inverted")
        return start, end

    def _matching(self, params: dict[str, str]) -> list[int]:
        """Indices of the orders a request selects, ascending by last_modified_date."""
        table = self.table("orders")
        mods, idx = table.by_modified()
        if "filter" in params:
            start, end = self._window(params["filter"])
            lo = bisect.bisect_left(mods, start)
            hi = len(mods) if end is None else bisect.bisect_right(mods, end)
            return idx[lo:hi]
        cutoff = self.dataset.now_ms() - DEFAULT_WINDOW_DAYS * MS_PER_DAY
        recent = set(table.created_between(cutoff, None))
        return [i for i in idx if i in recent]

    def page(self, request: Request) -> Response:
        """``GET /v1/orders``: an offset/limit page, in the filter's window (default: the last
        90 days).
        """
        self._authorize(request)
        params = request.params()
        offset = int_param(params, "offset", 0, 0)
        limit = int_param(params, "limit", MAX_LIMIT, 1, MAX_LIMIT)
        matching = self._matching(params)
        table = self.table("orders")

        def href(at: int) -> str:
            query: dict[str, Any] = {k: params[k] for k in ("filter",) if k in params}
            query.update(limit=limit, offset=at)
            return f"{request.origin}{self.prefix}/v1/orders?{urlencode(query)}"

        envelope: dict[str, Any] = {
            "href": href(offset),
            "orders": self.served_records(table, matching[offset : offset + limit]),
            "total": len(matching),
            "offset": offset,
            "limit": limit,
        }
        if offset + limit < len(matching):
            envelope["next"] = href(offset + limit)
        return page_response(envelope)
