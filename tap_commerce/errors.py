"""Errors that end a sync, each carrying one readable line for the user."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


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


class ParentGoneError(Exception):
    """A child endpoint answered 404: its parent was deleted after it was listed."""
