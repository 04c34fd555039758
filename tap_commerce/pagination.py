"""dlt's paginators, as singer-sdk paginators made from a definition (`make`).

Each paginator works out the next page's token from the page the stream already parsed
(`Page`, attached to the response by the request path, so a body is decoded once) and
puts a token into a page's request (`Paginator.apply`). The rules of each type are dlt's
(``json_link``, ``header_link``, ``cursor``, ``header_cursor``, ``offset``,
``page_number``, ``single_page``; ``auto`` detects one from the first response as dlt
does); the definition's extensions add the rules that save requests where the API allows
it (a short page is the last, a missing total is no error, a page without a next link is
the last) and the keyset variant of ``offset``.

A next-page link is followed only on base_url's origin: any other origin stops the sync
before anything is sent to it, since the request path would attach the credentials.
"""

from __future__ import annotations

import dataclasses
import sys
import typing as t
from urllib.parse import urljoin, urlsplit

from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.pagination import SinglePagePaginator as _SdkSinglePage

from tap_commerce.definition import PaginatorSpec
from tap_commerce.errors import BadResponseError
from tap_commerce.selector import compile_selector

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Record

    from tap_commerce.selector import Selector

__all__ = [
    "CursorPaginator",
    "KeysetPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
    "RequestParts",
    "SinglePagePaginator",
    "make",
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


@dataclasses.dataclass
class RequestParts:
    """A page's request while it is built: the paginator's token goes in here."""

    url: str
    params: dict[str, t.Any]
    json: t.Any = None
    #: the filter's lower bound for this page (a keyset token), instead of the window's
    start_value: t.Any = None


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (default ports made explicit)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def set_body_path(body: t.Any, path: str, value: t.Any) -> t.Any:
    """``body`` (an object, made if None) with ``value`` at a dotted path."""
    body = dict(body or {})
    node = body
    *heads, last = path.split(".")
    for head in heads:
        node[head] = dict(node.get(head) or {})
        node = node[head]
    node[last] = value
    return body


class Paginator(BaseAPIPaginator[t.Any]):
    """A singer-sdk paginator that also says how its token goes into a request."""

    stream = ""

    def apply(self, token: t.Any, parts: RequestParts) -> None:
        """Put ``token`` (the current value) into the page's request."""

    def records_left(self, page: Page, token: t.Any) -> int | None:  # noqa: ARG002 - the hook's arguments
        """How many records the API's total says are still to come, where it reports one."""
        return None

    def _fail(self, message: str) -> t.NoReturn:
        msg = f"stream '{self.stream}': {message}"
        raise BadResponseError(msg)


class SinglePagePaginator(_SdkSinglePage, Paginator):
    """One request (dlt's ``single_page``)."""


class NextUrlPaginator(Paginator):
    """``json_link`` (the link at a JSONPath of the body) or ``header_link`` (a ``Link``
    header): the link is followed as it is, resolved against the request's URL when
    relative, with no other parameter; an empty page does not end the list, a missing
    link does.
    """

    def __init__(self, spec: PaginatorSpec, *, base_url: str, stream: str) -> None:
        """The paginator of ``spec`` for ``stream``, held to ``base_url``'s origin."""
        super().__init__(None)
        self.spec = spec
        self.stream = stream
        self._origin = origin(base_url)

    @override
    def get_next(self, response: requests.Response) -> str | None:
        """The next-page URL, refused if it leaves the base URL's origin or repeats."""
        spec = self.spec
        if spec.type == "header_link":
            url = response.links.get(spec.links_next_key, {}).get("url")
        else:
            url = t.cast("Selector", spec.next_url_path).first(page_of(response).body)
        if not url:
            return None
        if not isinstance(url, str):
            self._fail(f"the API's next-page link is not a URL: {url!r}")
        if not urlsplit(url).scheme:
            url = urljoin(response.request.url or "", url)
        if origin(url) != self._origin:
            scheme, host, port = origin(url)
            own = self._origin
            self._fail(
                f"the API's next-page URL points to {scheme}://{host}:{port}, not to "
                f"base_url's origin {own[0]}://{own[1]}:{own[2]}; stopped without following it"
            )
        if url == self.current_value:
            self._fail("the API returned the same next-page URL twice; stopped")
        return url

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return True

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        if token:
            parts.url = token
            parts.params = {}


class CursorPaginator(Paginator):
    """``cursor`` (a value at a JSONPath of the body) or ``header_cursor`` (a header):
    the next request is the first one with the cursor added as ``cursor_param``.
    """

    def __init__(self, spec: PaginatorSpec, *, stream: str) -> None:
        """The paginator of ``spec`` for ``stream``."""
        super().__init__(None)
        self.spec = spec
        self.stream = stream

    @override
    def get_next(self, response: requests.Response) -> t.Any:
        spec = self.spec
        page = page_of(response)
        if spec.type == "header_cursor":
            return response.headers.get(spec.cursor_key) or None
        cursor = t.cast("Selector", spec.cursor_path).first(page.body)
        if not cursor or (spec.stop_after_empty_page and not page.records):
            return None
        if spec.has_more_path is not None and not _has_more(self, spec.has_more_path, page):
            return None
        if cursor == self.current_value:
            self._fail("the API returned the same next-page cursor twice; stopped")
        return cursor

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return not self.spec.stop_after_empty_page

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        if token is None:
            return
        if self.spec.cursor_body_path:
            parts.json = set_body_path(parts.json, self.spec.cursor_body_path, token)
        else:
            parts.params[self.spec.cursor_param] = token


def _has_more(paginator: Paginator, path: Selector, page: Page) -> bool:
    found = path.find(page.body)
    if not found or found[0] is None:
        paginator._fail(f"the body has no '{path.source}' (the paginator's has_more_path)")  # noqa: SLF001 - the same class family
    value = found[0]
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.lower() in {"true", "1", "yes"}
    if not isinstance(value, bool):
        paginator._fail(f"'{path.source}' is {value!r}, not true or false (has_more_path)")  # noqa: SLF001 - the same class family
    return value


class RangePaginator(Paginator):
    """``offset`` and ``page_number``: dlt's rules for the end of a list (an empty page
    with ``stop_after_empty_page``, ``total_path``, a maximum, ``has_more_path``), and the
    definition's (a short page, a missing next link) where it says so.
    """

    def __init__(self, spec: PaginatorSpec, *, stream: str, page_size: int | None) -> None:
        """The paginator of ``spec`` for ``stream``; ``page_size`` (the setting) replaces
        the definition's limit.
        """
        self.spec = spec
        self.stream = stream
        self.page_size = page_size or spec.limit
        super().__init__(self.first_value())

    def first_value(self) -> t.Any:
        """The token of the first page."""
        raise NotImplementedError

    @override
    def get_next(self, response: requests.Response) -> t.Any:
        page = page_of(response)
        if self.is_last(page, self.next_position(page)):
            return None
        return self.next_value(page)

    def step(self) -> int:
        """How far one page moves the token: one page."""
        return 1

    def next_position(self, page: Page) -> int:  # noqa: ARG002 - the hook's arguments
        """Where the next page starts, in the terms the total counts."""
        return t.cast("int", self.current_value) + self.step()

    def next_value(self, page: Page) -> t.Any:  # noqa: ARG002 - the hook's arguments
        """The token of the next page."""
        return self.current_value + self.step()

    def is_last(self, page: Page, position: int) -> bool:
        """Whether ``page`` ends the list, the next page starting at ``position``."""
        spec = self.spec
        records = page.records
        if spec.stop_after_empty_page and not records:
            return True
        if spec.stop_after_short_page and len(records) < t.cast("int", self.page_size):
            return True
        total = self.total(page)
        if total is not None and position >= total + spec.base_page:
            return True
        if spec.maximum_value is not None and position >= spec.maximum_value:
            return True
        if spec.has_more_path is not None and not _has_more(self, spec.has_more_path, page):
            return True
        if spec.next_url_path is not None and total is None:
            return not spec.next_url_path.first(page.body)
        return False

    def total(self, page: Page) -> int | None:
        """The total the page reports at ``total_path`` (None where the API gives none and
        the definition allows that).
        """
        path = self.spec.total_path
        if path is None:
            return None
        found = path.find(page.body)
        value = found[0] if found else None
        if value is None:
            if self.spec.optional_total or not page.records:
                return None
            self._fail(
                f"the body has no '{path.source}' (the paginator's total_path); set total_path: "
                "null if the API gives no total, or x-optional_total: true if it may"
            )
        if isinstance(value, bool) or not isinstance(value, int | str):
            self._fail(f"'{path.source}' is {value!r}, not a whole number (total_path)")
        try:
            return int(value)
        except ValueError:
            self._fail(f"'{path.source}' is {value!r}, not a whole number (total_path)")

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return not self.spec.stop_after_empty_page

    def _put(
        self, parts: RequestParts, param: str | None, body_path: str | None, value: t.Any
    ) -> None:
        if body_path:
            parts.json = set_body_path(parts.json, body_path, value)
        elif param:
            parts.params[param] = value


class OffsetPaginator(RangePaginator):
    """dlt's ``offset``: ``offset_param`` from ``offset`` by ``limit``."""

    @override
    def step(self) -> int:
        """How far one page moves the token: the page size."""
        return t.cast("int", self.page_size)

    @override
    def first_value(self) -> t.Any:
        return self.spec.offset

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        spec = self.spec
        self._put(parts, spec.offset_param, spec.offset_body_path, token)
        self._put(parts, spec.limit_param, spec.limit_body_path, self.page_size)

    @override
    def records_left(self, page: Page, token: t.Any) -> int | None:
        total = self.total(page) if self.spec.total_path else None
        if total is None or not isinstance(token, int):
            return None
        return max(total - token - len(page.records), 0)


class PageNumberPaginator(RangePaginator):
    """dlt's ``page_number``: ``page_param`` from ``page`` (or ``base_page``) by one,
    with the page size as ``x-limit_param`` where the definition gives one.
    """

    @override
    def first_value(self) -> t.Any:
        return self.spec.page

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        spec = self.spec
        self._put(parts, spec.page_param, spec.page_body_path, token)
        if spec.limit_param:
            parts.params[spec.limit_param] = self.page_size


class KeysetPaginator(OffsetPaginator):
    """``offset`` with ``x-keyset``: over a list sorted by the incremental cursor, each
    next page asks again from the last cursor value seen, skipping only the records of the
    page that share it.

    Plain offsets count positions in a list that may change under them: a record that is
    modified during the run leaves its place, everything after it moves up by one, and the
    record at the next page boundary is never read. Restarting from the last cursor value
    makes every page independent of what changed before it. The token is ``(cursor value
    or None for "the window's start", records to skip)``; there are exactly as many
    requests as with offsets. ``key(record)`` is the value to filter from, as the request
    spells it (None if the record has none: the page then counts as plain offsets).
    """

    def __init__(
        self,
        spec: PaginatorSpec,
        *,
        stream: str,
        page_size: int | None,
        key: t.Callable[[Record], t.Any],
    ) -> None:
        """The keyset paginator of ``spec``; ``key`` reads a record's cursor value."""
        self.key_of = key
        super().__init__(spec, stream=stream, page_size=page_size)

    @override
    def first_value(self) -> t.Any:
        return (None, self.spec.offset)

    @override
    def next_position(self, page: Page) -> int:
        return t.cast("int", self.current_value[1]) + len(page.records)

    @override
    def next_value(self, page: Page) -> tuple[t.Any, int]:
        records = page.records
        start, skip = self.current_value
        last = self.key_of(records[-1])
        if last is None or last == start:  # no key, or the whole page shares the last one
            return start, skip + len(records)
        same = 0
        for record in reversed(records):
            if self.key_of(record) != last:
                break
            same += 1
        return last, same

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        start, skip = token
        super().apply(skip, parts)
        if start is not None:
            parts.start_value = start

    @override
    def records_left(self, page: Page, token: t.Any) -> int | None:
        # the total counts the records from the filter's key on, the first `skip` read already
        return super().records_left(page, token[1])


class AutoPaginator(Paginator):
    """No paginator in the definition: detected from the first response, as dlt's
    ``auto`` does (a ``Link`` header, a next link in the body, a total of pages, a next
    cursor, else one page).
    """

    def __init__(self, *, base_url: str, stream: str) -> None:
        """Detect the paginator of ``stream`` (next links held to ``base_url``)."""
        super().__init__(None)
        self.stream = stream
        self._base_url = base_url
        self.inner: Paginator | None = None

    @override
    def get_next(self, response: requests.Response) -> t.Any:
        inner = self.inner
        if inner is None:
            inner = self.inner = self._detect(response)
        inner.advance(response)
        return None if inner.finished else inner.current_value

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return self.inner.continue_if_empty(response) if self.inner else False

    @override
    def apply(self, token: t.Any, parts: RequestParts) -> None:
        if self.inner is not None and token is not None:
            self.inner.apply(token, parts)

    def _detect(self, response: requests.Response) -> Paginator:
        base, stream = self._base_url, self.stream
        if response.links.get("next"):
            return NextUrlPaginator(PaginatorSpec("header_link"), base_url=base, stream=stream)
        body = page_of(response).body
        link = _find_next(body)
        if link is not None:
            path, value = link
            if isinstance(value, str) and value.startswith(("http", "/")):
                spec = PaginatorSpec("json_link", next_url_path=compile_selector(".".join(path)))
                return NextUrlPaginator(spec, base_url=base, stream=stream)
        total = _find_total_pages(body)
        if total is not None:
            spec = PaginatorSpec("page_number", total_path=compile_selector(".".join(total)))
            return PageNumberPaginator(spec, stream=stream, page_size=None)
        if link is not None:
            spec = PaginatorSpec("cursor", cursor_path=compile_selector(".".join(link[0])))
            return CursorPaginator(spec, stream=stream)
        return SinglePagePaginator()


def _find_next(body: t.Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], t.Any] | None:
    """Dlt's detector: a ``next`` key (or ``next.href``/``next.url``) at any depth."""
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if str(key).lower() == "next":
            if isinstance(value, dict):
                for inner, found in value.items():
                    if str(inner).lower() in {"href", "url"} and isinstance(
                        found, str | int | float
                    ):
                        return (*path, key, inner), found
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                return (*path, key), value
        if isinstance(value, dict):
            deeper = _find_next(value, (*path, key))
            if deeper is not None:
                return deeper
    return None


def _find_total_pages(body: t.Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Dlt's detector: ``total_pages``, ``pages`` or ``totalpages`` at any depth."""
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if str(key).lower() in {"total_pages", "pages", "totalpages"} and isinstance(
            value, int | str
        ):
            try:
                int(value)
            except ValueError:
                continue
            return (*path, key)
        if isinstance(value, dict):
            deeper = _find_total_pages(value, (*path, key))
            if deeper is not None:
                return deeper
    return None


def make(
    spec: PaginatorSpec | None,
    *,
    stream: str,
    base_url: str,
    page_size: int | None,
    key: t.Callable[[Record], t.Any] | None = None,
) -> Paginator:
    """The paginator of a resource (``spec`` None: detected, dlt's ``auto``)."""
    if spec is None:
        return AutoPaginator(base_url=base_url, stream=stream)
    if spec.type in {"json_link", "header_link"}:
        return NextUrlPaginator(spec, base_url=base_url, stream=stream)
    if spec.type in {"cursor", "header_cursor"}:
        return CursorPaginator(spec, stream=stream)
    if spec.type == "offset" and spec.keyset:
        return KeysetPaginator(
            spec, stream=stream, page_size=page_size, key=t.cast("t.Callable[[Record], t.Any]", key)
        )
    if spec.type == "offset":
        return OffsetPaginator(spec, stream=stream, page_size=page_size)
    if spec.type == "page_number":
        return PageNumberPaginator(spec, stream=stream, page_size=page_size)
    return SinglePagePaginator()
