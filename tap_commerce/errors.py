"""Errors that end a sync, each carrying one readable line for the user."""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import FatalAPIError

if t.TYPE_CHECKING:
    import requests


class TapCommerceError(FatalAPIError):
    """A failure the user must act on; ``str(error)`` is the whole story in one line."""


class AuthError(TapCommerceError):
    """The API rejected the credentials (401/403)."""


class ApiError(TapCommerceError):
    """A request failed for good (a 4xx, or a retryable failure after the last try)."""


class BadResponseError(TapCommerceError):
    """A response the tap cannot read safely (missing selector, foreign next-page URL...)."""


class InputError(TapCommerceError):
    """A state or catalog file the run cannot use (missing, not JSON, the wrong shape, a
    stream the API does not have); the tap stops before any request.
    """


class IgnoredResponseError(Exception):
    """A response the definition's ``response_actions`` ignore (a child's 404: its parent
    was deleted after it was listed); the list ends there.
    """

    def __init__(self, response: requests.Response) -> None:
        """The ignored ``response``."""
        super().__init__(f"ignored: {response.status_code}")
        self.response = response
