"""The four pagination kinds of the contract, each ending a list without an extra request.

Every paginator reads the page the stream already parsed (`Page`, attached to the
response by the request path), so a body is decoded once. A page is the last when it is
short, empty, reaches ``total``, or has no next link; only a list whose last page is
exactly full and that gives neither ``total`` nor a link costs one empty-page request.
"""

from __future__ import annotations

import dataclasses
import sys
import typing as t
from urllib.parse import urlsplit

from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator

from tap_commerce.errors import BadResponseError

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Record

__all__ = [
    "KeysetPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "SinglePagePaginator",
    "page_of",
]


@dataclasses.dataclass
class Page:
    """One decoded response: the whole body and the records the selector found in it."""

    body: t.Any
    records: list[Record]


def page_of(response: requests.Response) -> Page:
    """The `Page` the request path attached to ``response``."""
    return t.cast("Page", response.tap_page)  # type: ignore[attr-defined]  # set by CommerceStream.validate_response


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (default ports made explicit)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class NextUrlPaginator(BaseAPIPaginator[str | None]):
    """Follows an absolute next-page URL verbatim, only on the base URL's origin.

    A URL on any other origin stops the sync before anything is sent to it: the request
    path would otherwise attach the credentials to it.
    """

    def __init__(self, *, base_url: str, locate: t.Callable[[t.Any], t.Any], stream: str) -> None:
        """``locate(body)`` finds the next-page URL in a decoded body (None: the end);
        ``stream`` names the stream in messages.
        """
        super().__init__(None)
        self._origin = origin(base_url)
        self._locate = locate
        self._stream = stream

    @override
    def get_next(self, response: requests.Response) -> str | None:
        """The next-page URL, refused if it leaves the base URL's origin or repeats."""
        url = self._locate(page_of(response).body)
        if not url:
            return None
        if not isinstance(url, str) or origin(url) != self._origin:
            scheme, host, port = origin(str(url))
            msg = (
                f"stream '{self._stream}': the API's next-page URL points to {scheme}://{host}:{port}, "
                f"not to base_url's origin {self._origin[0]}://{self._origin[1]}:{self._origin[2]}; "
                "stopped without following it"
            )
            raise BadResponseError(msg)
        if url == self.current_value:
            msg = f"stream '{self._stream}': the API returned the same next-page URL twice; stopped"
            raise BadResponseError(msg)
        return url


class OffsetPaginator(BaseAPIPaginator[int]):
    """``offset``/``limit``: the next offset, or the end on a short page or when the stream
    says the page was the last (``is_last(page, next_offset)``: a total reached, no link).
    """

    def __init__(self, page_size: int, is_last: t.Callable[[Page, int], bool]) -> None:
        """Pages of ``page_size`` from offset 0."""
        super().__init__(0)
        self.page_size = page_size
        self._is_last = is_last

    @override
    def get_next(self, response: requests.Response) -> int | None:
        """The offset after this page's records, or None at the end."""
        page = page_of(response)
        offset = self.current_value + len(page.records)
        if len(page.records) < self.page_size or self._is_last(page, offset):
            return None
        return offset


class KeysetPaginator(BaseAPIPaginator[tuple[t.Any, int]]):
    """Offset/limit over a list sorted by a key the API can filter on (orders: ascending
    ``last_modified_date`` under ``[from..to]``): each next page asks again from the last
    key seen, skipping only the records of the page that share it.

    Plain offsets count positions in a list that may change under them: a record that is
    modified during the run leaves its place, everything after it moves up by one, and the
    record at the next page boundary is never read. Restarting from the last key value
    makes every page independent of what changed before it. The token is ``(key value or
    None for "the window's start", records to skip)``; there are exactly as many requests
    as with offsets. ``key(record)`` returns the value to filter from (None if the record
    has none: then the page counts as plain offsets).
    """

    def __init__(
        self,
        page_size: int,
        key: t.Callable[[Record], t.Any],
        is_last: t.Callable[[Page, int], bool],
    ) -> None:
        """Pages of ``page_size`` from the window's start (token ``(None, 0)``)."""
        super().__init__((None, 0))
        self.page_size = page_size
        self._key = key
        self._is_last = is_last

    @override
    def get_next(self, response: requests.Response) -> tuple[t.Any, int] | None:
        """The last key seen and the records of this page that share it, or None at the end."""
        records = page_of(response).records
        start, skip = self.current_value
        if len(records) < self.page_size or self._is_last(page_of(response), skip + len(records)):
            return None
        last = self._key(records[-1])
        if last is None or last == start:  # no key, or the whole page shares the last one
            return start, skip + len(records)
        same = 0
        for record in reversed(records):
            if self._key(record) != last:
                break
            same += 1
        return last, same


class PageNumberPaginator(BaseAPIPaginator[int]):
    """1-based ``page``/``per_page``: the next page number, or the end on a short page."""

    def __init__(self, page_size: int) -> None:
        """Pages of ``page_size`` from page 1."""
        super().__init__(1)
        self.page_size = page_size

    @override
    def get_next(self, response: requests.Response) -> int | None:
        """The next page number, or None after a short page."""
        if len(page_of(response).records) < self.page_size:
            return None
        return self.current_value + 1
