"""The four auth kinds, as plain `requests.auth.AuthBase` objects.

singer-sdk's own authenticators rewrite the whole query string on every request (empty
values dropped, encodings changed), which would alter storefront's next-page URLs that
must be followed verbatim. These classes touch only what they add. One instance per run
is shared by every stream and thread.
"""

from __future__ import annotations

import sys
import threading
import time
import typing as t
from urllib.parse import urlencode, urlsplit, urlunsplit

from requests.auth import AuthBase, HTTPBasicAuth

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests

__all__ = ["BearerAuth", "HTTPBasicAuth", "OAuthClientCredentials", "QueryKeyAuth"]


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        """Send ``token``."""
        self.token = token

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the ``Authorization`` header."""
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class QueryKeyAuth(AuthBase):
    """A key sent as a query parameter on every request, next pages included.

    Any value of the same parameter already in the URL (an API echoing it into a next
    link) is replaced rather than duplicated; every other parameter is kept as it was.
    """

    def __init__(self, name: str, value: str) -> None:
        """Send ``value`` as query parameter ``name``."""
        self.name = name
        self.value = value

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Put the key in the URL's query, in place of any value it had there."""
        parts = urlsplit(request.url or "")
        kept = [
            pair for pair in parts.query.split("&") if pair and pair.split("=", 1)[0] != self.name
        ]
        kept.append(urlencode({self.name: self.value}))
        request.url = urlunsplit(parts._replace(query="&".join(kept)))
        return request


class OAuthClientCredentials(AuthBase):
    """OAuth2 client credentials (RFC 6749 §4.4) with the client in a basic header.

    The token is fetched lazily, renewed shortly before it expires, and renewed once more
    when the API answers 401 (`invalidate`). A lock makes threads share one token request.
    ``post`` is the tap's own request path, so the token request is paced, carries the
    User-Agent and is retried like any other request.
    """

    #: Renew this long before expiry (capped at a tenth of the lifetime for short tokens).
    MARGIN_SECONDS = 60.0

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: str | None,
        post: Callable[[str, dict[str, str], AuthBase], dict[str, t.Any]],
        on_token: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``post(token_url, form, client_auth)`` sends the token request and returns the
        decoded answer; ``on_token`` is told each new token (to mask it in logs).
        """
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self._post = post
        self._on_token = on_token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.token_requests = 0

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the ``Authorization`` header to a current token."""
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request

    def access_token(self) -> str:
        """A token that is valid for a while yet, fetching one if needed."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            return t.cast("str", self._token)

    def invalidate(self, token_used: str | None = None) -> None:
        """Forget the token (after a 401), unless another thread already renewed it."""
        with self._lock:
            if token_used is None or token_used == self._token:
                self._token = None

    def _fetch(self) -> None:
        body = {"grant_type": "client_credentials"}
        if self.scopes:
            body["scope"] = self.scopes
        started = self._clock()
        answer = self._post(self.token_url, body, HTTPBasicAuth(self.client_id, self.client_secret))
        self.token_requests += 1
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            msg = "the token endpoint answered without an access_token"
            raise ValueError(msg)
        self._on_token(token)
        lifetime = _seconds(answer.get("expires_in"))
        self._token = token
        if lifetime is None:  # no expires_in: valid until the API says otherwise (401)
            self._renew_at = float("inf")
        else:
            self._renew_at = started + lifetime - min(self.MARGIN_SECONDS, lifetime / 10)


def _seconds(value: object) -> float | None:
    """``expires_in`` as seconds (none below 0), if it is a number or a numeric string."""
    if not isinstance(value, str | t.SupportsFloat):
        return None
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None
