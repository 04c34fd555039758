"""The base stream every API's streams derive from.

It owns, once for all APIs: URL joining, headers, the request (through the run's
`Transport`: pacing, retries), response validation and decoding, envelopes, date-time
normalisation, schema drift, the incremental window and its client-side filter, and the
child-stream side of fan-out, and progress lines (`tap_commerce.progress`). An API module
only says what differs: its paginator, its query parameters and its server-side filter.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import sys
import typing as t
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from importlib import resources
from pathlib import Path

import requests
from singer_sdk import metrics
from singer_sdk.exceptions import (
    RetriableAPIError,
)
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import HTTPRequest, RESTStream

from tap_commerce import redact
from tap_commerce.auth import OAuthClientCredentials
from tap_commerce.errors import ApiError, AuthError, BadResponseError, ParentGoneError
from tap_commerce.normalize import (
    datetime_paths,
    floor_millis,
    format_datetime,
    normalize_datetimes,
    parse_datetime,
)
from tap_commerce.pagination import OffsetPaginator, Page, SinglePagePaginator, page_of
from tap_commerce.progress import Progress
from tap_commerce.stdout import StreamOutput
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
    from collections.abc import Iterable, Iterator
    from concurrent.futures import Future

    from singer_sdk.helpers.types import Context, Record, RequestFunc
    from singer_sdk.pagination import BaseAPIPaginator
    from singer_sdk.streams.rest import PageContext

    from tap_commerce.tap import TapCommerce

_Meter = t.TypeVar("_Meter", bound=metrics.Meter)


class Envelope(enum.Enum):
    """Where a response keeps its records."""

    #: ``{"<selector>": [...]}``; a bare top-level array is accepted too (shop deployments)
    KEY = "key"
    #: ``[{"<selector>": {...}}, ...]``, or ``{"<selector>": [...]}`` (digital deployments)
    WRAPPERS = "wrappers"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One row of an API's stream table in the contract."""

    name: str
    path: str
    selector: str
    key: str
    replication_key: str | None = None
    #: the stream whose records this one's path is filled from (child streams)
    parent: str | None = None
    #: False for lists the API answers in one page
    paginated: bool = True


@dataclasses.dataclass(frozen=True)
class Window:
    """The incremental window of one stream in one run (both bounds inclusive)."""

    lower: datetime | None
    upper: datetime
    lower_text: str | None
    upper_text: str

    def admits(self, value: str) -> bool:
        """Whether a canonical date-time string lies in the window."""
        return (self.lower_text is None or value >= self.lower_text) and value <= self.upper_text


def load_schema(api: str, stream: str) -> dict[str, t.Any]:
    """The JSON schema of a stream: inside the wheel, or at the repository's top level."""
    packaged = resources.files("tap_commerce") / "schemas" / api / f"{stream}.json"
    if not packaged.is_file():
        packaged = Path(__file__).resolve().parent.parent / "schemas" / api / f"{stream}.json"
    schema: dict[str, t.Any] = json.loads(packaged.read_text(encoding="utf-8"))
    return schema


class CommerceStream(StreamOutput):
    """A stream of one of the five APIs; subclasses are generated from `Endpoint` rows."""

    endpoint: t.ClassVar[Endpoint]
    envelope: t.ClassVar[Envelope] = Envelope.KEY

    # Records are normalised here once; singer-sdk's recursive conformance would rebuild
    # every record (and drop nested keys of free-form objects) for nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # None of the APIs guarantees ascending order under its filters (storefront filters
    # newest-first), so bookmarks advance when a stream completes: a run cut short
    # restarts from the last completed bookmark and loses nothing.
    is_sorted = False

    _tap: TapCommerce

    def __init__(self, tap: TapCommerce) -> None:
        """The stream of the class's `Endpoint` row, with the schema of its API."""
        endpoint = self.endpoint
        super().__init__(
            tap,
            name=endpoint.name,
            schema=load_schema(tap.api_id, endpoint.name),
            path=endpoint.path,
        )
        self.primary_keys = [endpoint.key]
        self.replication_key = endpoint.replication_key
        self._datetime_tree = datetime_paths(self.schema)
        self._fields = frozenset(self.schema["properties"])
        self._reported: set[str] = set()
        self._window: Window | None = None
        self._progress: Progress | None = None

    # -- request -----------------------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        # paths start with "/": joining keeps the base URL's own path, without "//"
        return self._tap.settings.base_url.rstrip("/")

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        return {"User-Agent": self._tap.settings.user_agent, "Accept": "application/json"}

    @property
    @override
    def authenticator(self) -> requests.auth.AuthBase:
        return self._tap.authenticator

    @property
    @override
    def requests_session(self) -> requests.Session:
        return self._tap.transport.session()

    @property
    @override
    def timeout(self) -> float:  # type: ignore[override]  # singer-sdk 0.54.9 says int; requests takes seconds as a float
        return self._tap.settings.request_timeout

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any]:
        """The API's paginator; every API's stream class defines it."""
        raise NotImplementedError

    def request_params(self, context: Context | None, token: t.Any) -> dict[str, t.Any]:  # noqa: ARG002 - the hook's arguments, for the APIs' overrides
        """Query parameters of a page (pagination and filters); overridden per API."""
        return {}

    @override
    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        """Prepare a page's request without the session's merge, which costs as much as
        the rest of preparing: of what the session adds, its default headers are merged
        here, auth is applied on every attempt by `_request`, and its cookies (none of
        these APIs sets any) still take the session's path when there are some.
        """
        session = self.requests_session
        if session.cookies:
            return super().build_prepared_request(*args, **kwargs)
        request = requests.Request(*args, **kwargs)
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=request.method,
            url=request.url,
            headers={**session.headers, **request.headers},
            params=request.params,
            data=request.data,
            json=request.json,
        )
        return prepared

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build a page's request; a next-page URL from the API is used verbatim."""
        token = page.next_page_token
        if isinstance(token, str):
            return HTTPRequest(url=token, method=self.http_method, headers=self.http_headers)
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            method=self.http_method,
            headers=self.http_headers,
            params=self.request_params(page.stream_context, token),
        )

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Retries happen in the run's one `Transport`, not in backoff decorators; it
        counts the requests (and 429s) in the stream's `progress`, whatever the thread.
        """
        label = f"stream '{self.name}'"

        def call(prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
            return self._tap.transport.call(
                lambda: func(prepared, context), label=label, progress=self.progress
            )

        return call

    @override
    def _request(
        self,
        prepared_request: requests.PreparedRequest,
        context: Context | None,
    ) -> requests.Response:
        """One attempt: authenticate, send (paced), validate; one token renewal on 401.

        The one override of a singer-sdk private method on the reading side (0.54.9:
        ``RESTStream._request`` is where an attempt is sent); it routes the attempt through
        the run's `Transport` (pacing) and renews an expired OAuth token once. The writing
        side's overrides are in `tap_commerce.stdout`.
        """
        auth = self.authenticator
        renewed = False
        while True:
            auth(prepared_request)
            used = prepared_request.headers.get("Authorization")
            response = self._tap.transport.send(prepared_request)
            self._write_request_duration_log(
                endpoint=self.path, response=response, context=context, extra_tags=None
            )
            if (
                response.status_code == HTTPStatus.UNAUTHORIZED
                and isinstance(auth, OAuthClientCredentials)
                and not renewed
            ):
                token = used.removeprefix("Bearer ") if used else None
                auth.invalidate(token)
                renewed = True
                continue
            self.validate_response(response)
            return response

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Sort a response into retry, fail, skip, or decode (and attach its `Page`)."""
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            raise RetriableAPIError(describe_response(response), response)
        if status in (401, 403):
            raise AuthError(self._tap.auth_failure(self.name, response))
        if status == HTTPStatus.NOT_FOUND and self.endpoint.parent:
            raise ParentGoneError
        if status >= HTTPStatus.MULTIPLE_CHOICES:
            where = self._tap.transport.where(response.request)
            msg = f"stream '{self.name}': {where} answered {describe_response(response)}"
            raise ApiError(msg)
        try:
            body = decode_json(response.content)
        except ValueError as exc:
            raise InvalidBodyError(str(exc), response) from None
        page = Page(body, self.extract_records(body, response))
        response.tap_page = page  # type: ignore[attr-defined]  # the decoded page travels with it (`page_of`)

    def extract_records(self, body: t.Any, response: requests.Response) -> list[Record]:
        """The records of a decoded body, by the stream's envelope."""
        selector = self.endpoint.selector
        if self.envelope is Envelope.WRAPPERS:
            if isinstance(body, list):
                records = [item.get(selector) if isinstance(item, dict) else item for item in body]
            elif isinstance(body, dict) and isinstance(body.get(selector), list):
                records = body[selector]
            else:
                records = None
        elif isinstance(body, dict) and selector in body:
            records = body[selector]
            records = [] if records is None else records
        elif isinstance(body, list):
            records = body
        else:
            records = None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            where = self._tap.transport.where(response.request)
            shape = f"keys {sorted(body)[:8]}" if isinstance(body, dict) else type(body).__name__
            msg = (
                f"stream '{self.name}': {where} answered 200 without a list of records under "
                f"'{selector}' (got {shape})"
            )
            raise BadResponseError(msg)
        return records

    @override
    def parse_response(self, response: requests.Response) -> Iterator[Record]:
        """The page's records with their date-times in canonical form."""
        records = page_of(response).records
        self._extracted_at = datetime.now(timezone.utc).isoformat()
        key = self.primary_keys[0]
        tree = self._datetime_tree
        bad: list[str] = []
        for record in records:
            if record.get(key) is None:
                self._missing_key(record, response)
            if tree:
                normalize_datetimes(record, tree, bad)
                if bad:
                    self._unparseable_dates(record, bad, response)
                    bad = []
        if self.child_streams and not getattr(response, "tap_children_fetched", False):
            self._prefetch_children(records, self._pages_read)
        self._pages_read += 1
        return iter(records)

    def _missing_key(self, record: Record, response: requests.Response) -> None:
        """A record without its key cannot be merged or told apart: stop, naming it."""
        key = self.primary_keys[0]
        where = self._tap.transport.where(response.request)
        shown = {k: record[k] for k in list(record)[:4]}
        msg = f"stream '{self.name}': {where} returned a record without its key '{key}': {shown!r}"
        raise BadResponseError(msg)

    def _unparseable_dates(
        self, record: Record, paths: list[str], response: requests.Response
    ) -> None:
        """A replication key that is not a date-time stops the stream; another field is
        kept as it came, with a warning once.
        """
        key = self.replication_key
        if key in paths:
            where = self._tap.transport.where(response.request)
            msg = (
                f"stream '{self.name}': {where} returned record {self.primary_keys[0]}="
                f"{record.get(self.primary_keys[0])!r} whose replication key '{key}' is not a "
                f"date-time: {record.get(key)!r}"
            )
            raise BadResponseError(msg)
        for path in paths:
            self._report_once(
                f"date:{path}",
                "stream '%s': field '%s' holds a value that is not a date-time (%r); kept as it came",
                self.name,
                path,
                record.get(path, "…"),
            )

    @override
    def _whole_pages(self) -> bool:
        """Whether `_sync_pages` may stand in for singer-sdk's record loop: a selected
        stream with no partitions and no child streams, records passing through
        unchanged (`_passes_through`), no record limit, and no override of the per-record
        hooks the loop would call.
        """
        cls = type(self)
        return (
            self.selected
            and not self.partitions
            and not self.child_streams
            and self.ABORT_AT_RECORD_COUNT is None
            and cls.post_process is RESTStream.post_process
            and cls.get_records is CommerceStream.get_records
            and cls._process_record is RESTStream._process_record  # noqa: SLF001 - this class's own hook
            and self._passes_through()
        )

    @override
    def fetch_pages(self, context: Context | None) -> Iterable[list[Record]]:
        """The pages of records the API returns for a context; overridden by children."""
        return self.request_pages(context)

    def request_pages(self, context: Context | None) -> Iterator[list[Record]]:
        """singer-sdk's page loop (`RESTStream.request_records`), a page at a time: the
        same requests, metrics and end-of-list rules, each page's records as one list.

        A stream whose child lists are fetched by the fan-out pool asks the pool for its
        next page too, as soon as the current one is read, so the parent's round trip
        overlaps its children's instead of following them. The requests are the same; a
        paginator failure (a foreign next-page URL, a loop) is raised after the current
        page's records.
        """
        paginator = self.get_new_paginator() or SinglePagePaginator()
        send = self.request_decorator(self._request)
        fanout = self._tap.fanout
        ahead = fanout.workers > 1 and any(
            c.selected or c.has_selected_descendents for c in self.child_streams
        )
        pages = 0
        pending: tuple[requests.PreparedRequest, Future[requests.Response]] | None = None
        progress = self.progress
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            try:
                while not paginator.finished:
                    token = paginator.current_value
                    if pending is None:
                        prepared = self._prepare_request(context=context, page=paginator)
                        response = send(prepared, context)
                    else:
                        (prepared, future), pending = pending, None
                        response = future.result()
                    request_counter.increment()
                    self.update_sync_costs(prepared, response, context)
                    records = list(self.parse_response(response))
                    progress.read(len(records), self.records_left(page_of(response), token))
                    if not records:
                        if paginator.continue_if_empty(response):
                            paginator.advance(response)
                            continue
                        self.log(
                            "Pagination stopped after %d pages because no records were "
                            "found in the last response",
                            pages,
                        )
                        break
                    # the next page is worked out now; a failure to do so is raised after
                    # this page's records, as it would be if it were worked out then
                    failure = None
                    try:
                        paginator.advance(response)
                    except Exception as exc:  # noqa: BLE001 - raised below, after this page's records
                        failure = exc
                    if ahead and failure is None and not paginator.finished:
                        nxt = self._prepare_request(context=context, page=paginator)
                        future = fanout.submit(send, nxt, context)
                        page_number = self._pages_read
                        future.add_done_callback(
                            functools.partial(self._prefetch_on_arrival, page=page_number)
                        )
                        pending = (nxt, future)
                    yield records
                    pages += 1
                    if failure is not None:
                        raise failure
            finally:
                if pending is not None:
                    pending[1].cancel()  # queued: never sent; in flight: its answer is dropped

    @override
    def request_records(self, context: Context | None) -> Iterator[Record]:
        """The records of every page (see `request_pages`)."""
        for page in self.request_pages(context):
            yield from page

    @override
    def get_records(self, context: Context | None) -> Iterator[Record]:
        """Records to emit: unknown fields dropped, the incremental window applied.

        Emitted records are counted in `progress` a page at a time; a parent's one at a
        time instead, as it goes (`_parent_records`).
        """
        if self.child_streams:
            yield from self._parent_records(context)
            return
        admitted = self._admitted
        selected = self.selected
        for page in self.fetch_pages(context):
            kept = len(page)  # only the records kept out cost a step
            for record in page:
                if admitted(record):
                    yield record
                else:
                    kept -= 1
                    self.outside_window(record, context)
            # the SDK's loop has written the page's records
            self._page_written(kept if selected else 0)

    def _parent_records(self, context: Context | None) -> Iterator[Record]:
        """`get_records` of a stream with child streams. The SDK writes each record after
        its children, whose lists take a request each: its records are counted one by one,
        so that a progress line due meanwhile (see `ChildStream._page_written`) counts
        the records written until then, not those of the last whole page.
        """
        admitted = self._admitted
        progress = self.progress
        count = 1 if self.selected else 0
        try:
            for page in self.fetch_pages(context):
                for record in page:
                    if admitted(record):
                        yield record
                        progress.written(count)  # the SDK has written it (and its children)
                    else:
                        self.outside_window(record, context)
                progress.check()
        finally:
            # every child list of this parent has been taken (or never will be)
            self._tap.fanout.close()

    @override
    def _admitted(self, record: Record) -> bool:
        """Fields the schema does not know dropped or kept (`admit_fields`); then whether
        the window admits the record (both record loops ask this of every record).
        """
        if not self._fields.issuperset(record):
            self.admit_fields(record, self._fields)
        if self.in_window(record):
            return True
        self._held_back += 1
        return False

    def in_window(self, record: Record) -> bool:
        """Whether the incremental window admits a record (always, for full-table streams
        and for a record whose replication key is null: it cannot be placed, so it is kept).
        """
        key = self.replication_key
        value = record.get(key) if key else None
        return value is None or self.window.admits(value)

    # -- progress ----------------------------------------------------------------------

    @property
    def progress(self) -> Progress:
        """This run's tracker of the stream (made at the start of its sync; for a child
        stream, of its parent's).
        """
        progress = self._progress
        if progress is None:
            progress = self._progress = Progress(self.name, self._tap.logger)
        return progress

    @override
    def _start_progress(self) -> None:
        """A new tracker for the stream, and for the child streams it syncs: they run
        while it does.
        """
        progress = self._progress = Progress(self.name, self._tap.logger)
        for child in self._syncing_children():
            child.follow(progress)

    @override
    def _finish_progress(self, outcome: str | None) -> None:
        """The stream's summary line, then its children's: they finished with its last
        page (each child list is synced right after its parent record).
        """
        self.progress.finish(outcome)
        for child in self._syncing_children():
            child.log_summary(outcome)

    @override
    def _syncing_children(self) -> list[ChildStream]:
        return [
            c for c in self.child_streams
            if isinstance(c, ChildStream) and (c.selected or c.has_selected_descendents)
        ]  # fmt: skip

    @override
    def _page_written(self, records: int) -> None:
        """A page's records went out (``records`` of them emitted)."""
        self.progress.written(records)

    def records_left(self, page: Page, token: t.Any) -> int | None:  # noqa: ARG002 - the hook's arguments, for the APIs' overrides
        """How many records the API's total says are still to come after ``page`` (read
        with paginator token ``token``); None where the API reports no total.
        """
        return None

    # -- parent side of child streams ------------------------------------------------

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """singer-sdk asks for (and copies) a child context for every record, children or
        not; a stream without child streams has none to give.
        """
        if not self.child_streams:
            return ()
        return super().generate_child_contexts(record, context)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> dict[str, t.Any]:
        """The parent's key: what a child stream's path is filled from."""
        return {ChildStream.parent_key: record[self.primary_keys[0]]}

    def _children_of_every_record(self) -> bool:
        """``child_sync: all``: children of records the window keeps out are read too, so
        a new review of an unchanged product still arrives.
        """
        return self._tap.settings.child_sync == "all" or not self.replication_key

    def outside_window(self, record: Record, context: Context | None) -> None:
        """A record the window keeps out is not emitted; its children may still be."""
        if self.child_streams and self._children_of_every_record():
            self._process_record(record, child_context=context)

    _pages_read = 0

    def _prefetch_children(self, records: list[Record], page: int) -> None:
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        if not children:
            return
        if not self._children_of_every_record():
            records = [r for r in records if self.in_window(r)]
        contexts = [self.get_child_context(r, None) for r in records]
        self._tap.fanout.prefetch(t.cast("list[ChildStream]", children), contexts, page)

    def _prefetch_on_arrival(self, future: Future[requests.Response], page: int) -> None:
        """A parent's next page, fetched ahead by the pool, submits its children's fetches
        the moment it arrives (on the worker thread), so the pool does not drain while the
        main thread finishes the current page. Under ``child_sync: changed`` the window
        needs canonical date-times first: the main thread submits them (`parse_response`).
        """
        if future.cancelled() or future.exception() is not None:
            return
        if not self._children_of_every_record():
            return
        response = future.result()
        records = page_of(response).records
        key = self.primary_keys[0]
        if any(record.get(key) is None for record in records):
            return  # the main thread stops the stream on it
        self._prefetch_children(records, page)
        response.tap_children_fetched = True  # type: ignore[attr-defined]  # read in parse_response

    @override
    def _report_once(self, topic: str, message: str, *args: t.Any) -> None:
        if topic not in self._reported:
            self._reported.add(topic)
            self.logger.warning(message, *args)

    # -- incremental -------------------------------------------------------------------

    @property
    def window(self) -> Window:
        """This run's window: from bookmark − lookback (else start_date, else the
        beginning) to end_date (else the moment the sync started).
        """
        if self._window is None:
            self._window = self._compute_window()
        return self._window

    def _compute_window(self) -> Window:
        settings = self._tap.settings
        upper = floor_millis(settings.end_date or self._tap.started_at)
        state = self.stream_state
        bookmark = state.get("replication_key_value")
        if bookmark and state.get("replication_key") == self.replication_key:
            lower: datetime | None = _parse_bookmark(bookmark, self.name) - timedelta(
                seconds=settings.lookback_window
            )
            # Progress markers start empty each run; seeding them with the bookmark keeps
            # the bookmark from moving backwards when only look-back records arrive.
            markers = state.setdefault("progress_markers", {})
            markers.setdefault("Note", "Progress is not resumable if interrupted.")
            markers.setdefault("replication_key", self.replication_key)
            markers.setdefault("replication_key_value", bookmark)
        else:
            lower = settings.start_date
        if lower is not None and lower > upper:
            lower = upper
        self.logger.info(
            "stream '%s': incremental window %s .. %s",
            self.name,
            format_datetime(lower) if lower else "(beginning)",
            format_datetime(upper),
        )
        return Window(
            lower=lower,
            upper=upper,
            lower_text=format_datetime(lower) if lower else None,
            upper_text=format_datetime(upper),
        )


class OffsetLimitStream(CommerceStream):
    """``offset``/``limit`` lists (payments, shop, orders): pages of ``page_size``."""

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any]:
        if not self.endpoint.paginated:
            return SinglePagePaginator()
        return OffsetPaginator(t.cast("int", self._tap.settings.page_size), self.is_last_page)

    @override
    def request_params(self, context: Context | None, token: t.Any) -> dict[str, t.Any]:
        if not self.endpoint.paginated:
            return {}
        return {**self.filter_params(), "offset": token, "limit": self._tap.settings.page_size}

    def filter_params(self) -> dict[str, t.Any]:
        """The API's server-side date filter, sent on every page (none by default)."""
        return {}

    def is_last_page(self, page: Page, next_offset: int) -> bool:
        """A full page is the last when the body's ``total`` says so."""
        total = _total(page)
        return total is not None and next_offset >= total

    @override
    def records_left(self, page: Page, token: t.Any) -> int | None:
        total = _total(page)
        if total is None:
            return None
        # an offset; or a keyset token (key, skip): the total then counts the records from
        # the filter's key on, of which the first `skip` were read already
        offset = token[1] if isinstance(token, tuple) else token
        if not isinstance(offset, int):
            return None
        return max(total - offset - len(page.records), 0)


def _total(page: Page) -> int | None:
    """The ``total`` a page's envelope reports, if it is an integer."""
    total = page.body.get("total") if isinstance(page.body, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _parse_bookmark(value: t.Any, stream: str) -> datetime:
    try:
        return parse_datetime(str(value))
    except ValueError:
        msg = f"stream '{stream}': the state's bookmark {value!r} is not a date-time; fix or drop the state"
        raise BadResponseError(msg) from None


class ChildStream(CommerceStream):
    """A sub-resource fetched once per parent record (``{prd_id}`` in its path).

    State is one bookmark for the whole stream (``state_partitioning_keys = []``), so it
    does not grow with the number of parents. Records may have been fetched ahead by the
    run's fan-out pool; a 404 (parent deleted since it was listed) skips the parent.
    """

    state_partitioning_keys: t.ClassVar[list[str]] = []
    parent_key: t.ClassVar[str] = "prd_id"
    _parents_read = 0  # parents whose children were read, and how many children in all
    _rows_read = 0
    _parent_progress: Progress | None = None  # the parent's tracker (see _start_progress)
    #: this stream's METRIC lines, one set per parent: DEBUG lines (see PerParentFilter)
    _metrics_logger = redact.PerParentMetrics(metrics.get_metrics_logger())

    def __init__(self, tap: TapCommerce) -> None:
        """`CommerceStream`'s, with singer-sdk's per-parent INFO lines at DEBUG only."""
        super().__init__(tap)
        redact.quiet_child_logger(self.logger, tap.logger)

    def _per_parent(self, meter: _Meter) -> _Meter:
        """``meter``, logging its lines as this stream's per-parent ones."""
        meter.logger = self._metrics_logger
        return meter

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = metrics.DEFAULT_LOG_INTERVAL,
    ) -> metrics.Counter:
        """singer-sdk's, counting one parent's records: its line is a per-parent one."""
        return self._per_parent(
            super().get_record_counter(endpoint=endpoint, log_interval=log_interval)
        )

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """singer-sdk's, timing one parent's sync: its line is a per-parent one."""
        return self._per_parent(super().get_sync_timer())

    @override
    def get_http_request_counter(self) -> metrics.Counter:
        """singer-sdk's, counting one parent's requests: its line is a per-parent one."""
        return self._per_parent(super().get_http_request_counter())

    @override
    def _log_metric(self, point: metrics.Point[t.Any]) -> None:
        """A request's timer, for one parent: a per-parent line."""
        metrics.log(self._metrics_logger, point=point)

    def fetch(self, context: Context) -> list[Record]:
        """All records of one parent (safe to call from a fan-out worker thread)."""
        try:
            records = list(self.request_records(context))
        except ParentGoneError:
            self.logger.warning(
                "stream '%s': product %s answered 404 (deleted after it was listed); skipped",
                self.name,
                context[self.parent_key],
            )
            return []
        parent_id = context[self.parent_key]
        for record in records:
            record[self.parent_key] = parent_id
        return records

    @override
    def fetch_pages(self, context: Context | None) -> Iterable[list[Record]]:
        """The parent's list: taken from the fan-out pool, else fetched now."""
        if context is None:
            msg = f"stream '{self.name}': a child stream is synced for a parent, with its context"
            raise TypeError(msg)
        fetched = self._tap.fanout.take(self, context)
        records = self.fetch(context) if fetched is None else fetched
        self._parents_read += 1
        self._rows_read += len(records)
        return [records]

    @override
    def _page_written(self, records: int) -> None:
        """A parent's children went out; the parent's progress line may be due too: its
        own pages come only once all the children of a page are written.
        """
        parent = self._parent_progress
        if parent is not None:
            parent.check()
        super()._page_written(records)

    def follow(self, parent: Progress) -> None:
        """A new tracker of its own for this run, and the parent's (see `_start_progress`)."""
        self._progress = Progress(self.name, self._tap.logger, every=parent.every)
        self._parent_progress = parent

    def log_summary(self, outcome: str | None = None) -> None:
        """The stream's one summary line for the whole run, after its parent's (its
        per-parent lines are at DEBUG, see `redact.PerParentFilter`), on the tap's
        logger: ``done`` (or how it stopped, ``outcome``) and the parents read.
        """
        self.progress.finish(
            outcome,
            f"; {self._rows_read:,} records read for {self._parents_read:,} {self.endpoint.parent}",
        )
