"""Transport-neutral request and response values passed between the server and the APIs."""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .jsonenc import dump_bytes

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

JSON_TYPE = "application/json"


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping that keeps the names as sent."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        """The headers ``items`` (name, value); of a repeated name, the first is kept."""
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items.setdefault(name.lower(), (name, value))

    @override
    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    @override
    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    @override
    def __len__(self) -> int:
        return len(self._items)

    @override
    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


@dataclass
class Request:
    """One HTTP request, as an API handler sees it."""

    method: str
    path: str  # below the API's prefix, e.g. "/commerce/orders"
    query: list[tuple[str, str]]  # in order, repeated names kept
    headers: Headers
    body: bytes = b""
    origin: str = ""  # "http://host:port" as the client addressed the server

    def params(self) -> dict[str, str]:
        """Query parameters by name (the first value of a repeated name)."""
        out: dict[str, str] = {}
        for name, value in self.query:
            out.setdefault(name, value)
        return out

    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` from an ``Authorization: Basic`` header, if well-formed."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, if there is one."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@dataclass
class Response:
    """One HTTP response, as an API handler returns it."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Work to do once the response is sent (warming the next page while the client reads).
    after: Callable[[], None] | None = None


def json_response(status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A response with ``value`` as its JSON body."""
    return Response(status, dump_bytes(value), [("Content-Type", JSON_TYPE), *headers])


def raw_json_response(
    status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A response whose JSON body is already encoded."""
    return Response(status, body, [("Content-Type", JSON_TYPE), *headers])


class ApiError(Exception):
    """Raised by handlers to answer with the API's own error body."""

    def __init__(
        self, status: int, message: str, *, headers: Iterable[tuple[str, str]] = (), **extra: Any
    ) -> None:
        """Answer ``status`` with ``message`` (and ``extra`` fields, where the API has them)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)
        self.extra = extra
