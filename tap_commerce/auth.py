"""dlt's four auth types, as plain `requests.auth.AuthBase` objects (`make`).

singer-sdk's own authenticators rewrite the whole query string on every request (empty
values dropped, encodings changed), which would alter next-page URLs that must be
followed verbatim. These classes touch only what they add. One instance per auth of a
definition is shared by every stream and thread of a run (`RunContext.authenticator`).
"""

from __future__ import annotations

import sys
import threading
import time
import typing as t
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from singer_sdk.exceptions import RetriableAPIError

from tap_commerce.errors import AuthError
from tap_commerce.transport import (
    RETRYABLE_STATUSES,
    InvalidBodyError,
    decode_json,
    describe_response,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_commerce.definition import AuthSpec
    from tap_commerce.redact import Redactor
    from tap_commerce.settings import Settings
    from tap_commerce.transport import Transport

__all__ = [
    "BearerAuth",
    "HTTPBasicAuth",
    "HeaderKeyAuth",
    "OAuthClientCredentials",
    "QueryKeyAuth",
    "make",
]


def make(
    spec: AuthSpec,
    settings: Settings,
    transport: Transport,
    redactor: Redactor,
    check: str = "'client_id', 'client_secret' and 'token_url'",
) -> AuthBase:
    """The authenticator of a definition's auth (its settings already filled in);
    ``check``: the settings to name when the token endpoint refuses them.
    """
    if spec.type == "bearer":
        return BearerAuth(spec.value("token"))
    if spec.type == "api_key":
        if spec.location == "query":
            return QueryKeyAuth(spec.name, spec.value("api_key"))
        return HeaderKeyAuth(spec.name, spec.value("api_key"))
    if spec.type == "http_basic":
        return HTTPBasicAuth(spec.value("username"), spec.value("password"))
    data = {key: value.render({}) for key, value in spec.token_request_data.items()}
    if settings.oauth_scopes:
        data["scope"] = settings.oauth_scopes
    oauth = OAuthClientCredentials(
        token_url=settings.token_url or spec.value("access_token_url"),
        client_id=spec.value("client_id"),
        client_secret=spec.value("client_secret"),
        request_data=data,
        client_in_header=spec.client_auth == "header",
        default_lifetime=spec.default_token_expiration,
        post=_token_poster(settings, transport, check),
        on_token=redactor.add,
    )
    if "access_token" in spec.values:
        oauth.preset(spec.value("access_token"))
    return oauth


def _token_poster(
    settings: Settings, transport: Transport, check: str
) -> Callable[[str, dict[str, str], AuthBase | None], dict[str, t.Any]]:
    """How an OAuth token is requested: through the run's transport (paced, retried,
    with the User-Agent), the failure told in one line.
    """
    headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}

    def post(url: str, form: dict[str, str], client_auth: AuthBase | None) -> dict[str, t.Any]:
        def attempt() -> dict[str, t.Any]:
            request = requests.Request("POST", url, data=form, headers=headers, auth=client_auth)
            response = transport.send(request.prepare())
            if response.status_code in RETRYABLE_STATUSES:
                raise RetriableAPIError(describe_response(response), response)
            if response.status_code >= HTTPStatus.MULTIPLE_CHOICES:
                msg = (
                    f"the {settings.api} API's token endpoint refused the client credentials "
                    f"({describe_response(response)}); check settings {check}"
                )
                raise AuthError(msg)
            try:
                answer = decode_json(response.content)
            except ValueError as exc:
                raise InvalidBodyError(str(exc), response) from None
            return answer if isinstance(answer, dict) else {}

        return transport.call(attempt, label=f"{settings.api} token request")

    return post


class HeaderKeyAuth(AuthBase):
    """A key sent in a header of any name (dlt's ``api_key`` auth in a header)."""

    def __init__(self, name: str, value: str) -> None:
        """Send ``value`` in header ``name``."""
        self.name = name
        self.value = value

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the header."""
        request.headers[self.name] = self.value
        return request


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
    """OAuth2 client credentials (RFC 6749 §4.4), the client in the form (dlt's way) or
    in an HTTP Basic header (RFC 6749 §2.3.1).

    The token is fetched lazily, renewed shortly before it expires (``expires_in``, else
    the definition's ``default_token_expiration``), and renewed once more when the API
    answers 401 (`invalidate`). A lock makes threads share one token request. ``post`` is
    the tap's own request path, so the token request is paced, carries the User-Agent and
    is retried like any other request.
    """

    #: Renew this long before expiry (capped at a tenth of the lifetime for short tokens).
    MARGIN_SECONDS = 60.0

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        request_data: dict[str, str],
        client_in_header: bool,
        default_lifetime: float,
        post: Callable[[str, dict[str, str], AuthBase | None], dict[str, t.Any]],
        on_token: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``post(token_url, form, client_auth)`` sends the token request and returns the
        decoded answer; ``on_token`` is told each new token (to mask it in logs);
        ``request_data`` goes into the form (``scope``…).
        """
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.request_data = request_data
        self.client_in_header = client_in_header
        self.default_lifetime = default_lifetime
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

    def preset(self, token: str) -> None:
        """Start with a token given in the definition (dlt's ``access_token``)."""
        self._on_token(token)
        self._token, self._renew_at = token, float("inf")

    def _fetch(self) -> None:
        body = {"grant_type": "client_credentials", **self.request_data}
        client_auth: AuthBase | None = None
        if self.client_in_header:
            client_auth = HTTPBasicAuth(self.client_id, self.client_secret)
        else:
            body = {"client_id": self.client_id, "client_secret": self.client_secret, **body}
        started = self._clock()
        answer = self._post(self.token_url, body, client_auth)
        self.token_requests += 1
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            msg = "the token endpoint answered without an access_token"
            raise ValueError(msg)
        self._on_token(token)
        lifetime = _seconds(answer.get("expires_in"))
        if lifetime is None:  # dlt's default_token_expiration
            lifetime = self.default_lifetime
        self._token = token
        self._renew_at = started + lifetime - min(self.MARGIN_SECONDS, lifetime / 10)


def _seconds(value: object) -> float | None:
    """``expires_in`` as seconds (none below 0), if it is a number or a numeric string."""
    if not isinstance(value, str | t.SupportsFloat):
        return None
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None
