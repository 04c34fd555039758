"""orders (contract §2.5): OAuth2 client credentials, offset/limit, an always-sent filter."""

from __future__ import annotations

import sys
import typing as t
from http import HTTPStatus

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_commerce.auth import OAuthClientCredentials
from tap_commerce.client import Endpoint, OffsetLimitStream
from tap_commerce.errors import AuthError
from tap_commerce.normalize import format_millis_z, parse_datetime
from tap_commerce.pagination import KeysetPaginator, Page
from tap_commerce.settings import ApiProfile
from tap_commerce.tap import TapCommerce
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
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context, Record

# Without a filter the API returns only the last 90 days, so one is always sent.
_BEGINNING = "1970-01-01T00:00:00.000Z"


class OrdersStream(OffsetLimitStream):
    """Results in ascending ``last_modified_date`` within ``[from..to]``: paged by keyset
    (each page filters from the last modification date seen), so an order modified during
    the run cannot make a later page skip one.
    """

    @override
    def get_new_paginator(self) -> KeysetPaginator:
        """Keyset pages on the last modification date (see the class docstring)."""
        page_size = t.cast("int", self._tap.settings.page_size)
        return KeysetPaginator(page_size, self._filter_value, self.is_last_page)

    def _filter_value(self, record: Record) -> str | None:
        value = record.get(self.replication_key or "")
        return format_millis_z(parse_datetime(value)) if isinstance(value, str) else None

    @override
    def request_params(self, context: Context | None, token: t.Any) -> dict[str, t.Any]:
        """The window as ``filter`` from the keyset token's date on, and its skip."""
        start, skip = token or (None, 0)
        window = self.window
        lower = start or (format_millis_z(window.lower) if window.lower else _BEGINNING)
        return {
            "filter": f"lastmodifieddate:[{lower}..{format_millis_z(window.upper)}]",
            "offset": skip,
            "limit": self._tap.settings.page_size,
        }

    @override
    def is_last_page(self, page: Page, next_offset: int) -> bool:
        """``total`` when the body has one, else the absence of a ``next`` link."""
        # ``total`` decides when present; otherwise a page without a ``next`` link is the last
        if isinstance(page.body, dict) and "total" not in page.body:
            return not page.body.get("next")
        return super().is_last_page(page, next_offset)


class Orders(TapCommerce):
    """orders API: orders, incremental on their last modification."""

    profile = ApiProfile(
        api_id="orders",
        default_base_url="https://api.example.com",
        required=("client_id", "client_secret", "token_url"),
        default_page_size=200,
        max_page_size=200,
        default_requests_per_second=0,
    )
    credential_settings = "'client_id' and 'client_secret'"
    stream_base = OrdersStream
    endpoints = (
        #        name      path          selector  key         replication key
        Endpoint("orders", "/v1/orders", "orders", "order_id", "last_modified_date"),
    )

    @override
    def make_authenticator(self) -> AuthBase:
        """OAuth2 client credentials, the token requested through the run's transport."""
        return OAuthClientCredentials(
            token_url=self.config["token_url"],
            client_id=self.config["client_id"],
            client_secret=self.config["client_secret"],
            scopes=self.config.get("oauth_scopes") or None,
            post=self._request_token,
            on_token=self.redactor.add,
        )

    def _request_token(
        self, url: str, form: dict[str, str], client_auth: AuthBase
    ) -> dict[str, t.Any]:
        """POST the token request through the run's transport (paced, retried)."""
        headers = {"User-Agent": self.settings.user_agent, "Accept": "application/json"}

        def attempt() -> dict[str, t.Any]:
            request = requests.Request("POST", url, data=form, headers=headers, auth=client_auth)
            response = self.transport.send(request.prepare())
            if response.status_code in RETRYABLE_STATUSES:
                raise RetriableAPIError(describe_response(response), response)
            if response.status_code >= HTTPStatus.MULTIPLE_CHOICES:
                msg = (
                    f"the orders API's token endpoint refused the client credentials "
                    f"({describe_response(response)}); check settings 'client_id', "
                    "'client_secret' and 'token_url'"
                )
                raise AuthError(msg)
            try:
                answer = decode_json(response.content)
            except ValueError as exc:
                raise InvalidBodyError(str(exc), response) from None
            return answer if isinstance(answer, dict) else {}

        return self.transport.call(attempt, label="orders token request")
