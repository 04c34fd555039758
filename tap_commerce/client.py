"""The base stream of every API: a resource of a definition read as pages of records.

It owns, once for every definition: the page loop (each request built by
`RequestBuilder`, sent through the run's `Transport`: pacing, retries), response
validation and decoding, the records under ``data_selector``, date-time normalisation,
schema drift, the incremental window's client-side filter (`tap_commerce.window`), and
progress lines. The parent side of child streams is `tap_commerce.parents`; child streams
are `tap_commerce.children`. The tap makes a subclass per resource of a definition; no
class holds per-API code.
"""

from __future__ import annotations

import functools
import sys
import typing as t
from datetime import datetime, timezone
from http import HTTPStatus

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import RESTStream

from tap_commerce import window as windows
from tap_commerce.auth import OAuthClientCredentials
from tap_commerce.errors import ApiError, AuthError, BadResponseError, IgnoredResponseError
from tap_commerce.normalize import datetime_paths, normalize_datetimes, parse_datetime
from tap_commerce.pagination import Page, SinglePagePaginator, page_of
from tap_commerce.pagination import make as make_paginator
from tap_commerce.parents import ParentSide
from tap_commerce.progress import Progress
from tap_commerce.request import RequestBuilder
from tap_commerce.selector import MismatchError, Selector, detect_selector
from tap_commerce.settings import STORE_FIELD
from tap_commerce.store import keyed_by_store, with_store
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

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record, RequestFunc
    from singer_sdk.singerlib import Catalog

    from tap_commerce.definition import Resource
    from tap_commerce.pagination import Paginator
    from tap_commerce.run import RunContext
    from tap_commerce.window import Window


class _NoAuth(requests.auth.AuthBase):
    """A definition without auth."""

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_AUTH = _NoAuth()


class CommerceStream(ParentSide):
    """A resource of a definition; subclasses are made per resource (`stream_class`)."""

    resource: t.ClassVar[Resource]

    # Records are normalised here once; singer-sdk's recursive conformance would rebuild
    # every record (and drop nested keys of free-form objects) for nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # No API is assumed to sort under its filters (storefront filters newest-first), so
    # bookmarks advance when a stream completes: a run cut short restarts from the last
    # completed bookmark and loses nothing.
    is_sorted = False

    def __init__(
        self, tap: Tap, *, run: RunContext, schema: dict[str, t.Any], inferred: bool = False
    ) -> None:
        """The stream of the class's resource, with ``schema``, in the run ``run``
        (``inferred``: the schema was inferred from records, see `tap_commerce.infer`).
        """
        resource = self.resource
        self.run = run
        #: the ``store`` setting: added to every record, and first in every key
        self._store = run.store
        if self._store is not None:
            schema = with_store(schema, resource.name, declared=not inferred)
        super().__init__(tap, name=resource.name, schema=schema, path=resource.path.source)
        self.primary_keys = keyed_by_store(resource.key_properties, self._store)
        self.replication_key = resource.replication_key
        self.selected_by_default = resource.selected
        self.inferred_schema = inferred
        self._keys = resource.key_columns
        self._nested_keys = resource.nested_keys
        self._key_names = dict(zip(resource.key_columns, resource.primary_key, strict=True))
        self._datetime_tree = datetime_paths(self.schema)
        self._fields = frozenset(self.schema["properties"])
        self._reported: set[str] = set()
        self._window: Window | None = None
        self._progress: Progress | None = None
        self._selector: Selector | None = resource.selector
        self._builder: RequestBuilder | None = None
        #: the window goes into requests (a server-side filter), not only into the filter
        #: of what is emitted
        self._filtered = resource.server_filter
        #: the fields of a record that the child streams' requests and records take, each
        #: with its key in their contexts
        self.child_context: dict[str, str] = {}

    # -- request -----------------------------------------------------------------------

    @functools.cached_property
    def bound(self) -> Resource:
        """The resource with the run's settings filled in."""
        return self.run.definition.resource(self.name)

    @property
    @override
    def url_base(self) -> str:
        return self.run.settings.base_url

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        definition = self.run.definition
        headers = {"Accept": "application/json"}
        headers.update({k: v.render({}) for k, v in definition.headers.items()})
        headers.update({k: v.render({}) for k, v in self.bound.headers.items()})
        headers["User-Agent"] = self.run.settings.user_agent
        return headers

    @property
    @override
    def authenticator(self) -> requests.auth.AuthBase:
        auth = self.run.authenticator(self.bound.auth or self.run.definition.auth)
        return auth or _NO_AUTH

    @property
    @override
    def requests_session(self) -> requests.Session:
        return self.run.transport.session()

    @property
    @override
    def timeout(self) -> float:  # type: ignore[override]  # singer-sdk 0.54.9 says int; requests takes seconds as a float
        return self.run.settings.request_timeout

    @property
    @override
    def payload_as_json(self) -> bool:  # type: ignore[override]  # a class attribute in singer-sdk
        """A body from ``json`` goes as JSON; one from ``data`` as a form."""
        return self.resource.data is None

    @override
    def get_new_paginator(self) -> Paginator:
        """The resource's paginator (dlt's type and keys)."""
        settings = self.run.settings
        return make_paginator(
            self.bound.paginator,
            stream=self.name,
            base_url=settings.base_url,
            page_size=settings.page_size if settings.page_size_given else None,
            key=self._keyset_key,
        )

    def _keyset_key(self, record: Record) -> t.Any:
        """A record's cursor value as the filter spells it (the keyset paginator's key)."""
        incremental = self.resource.incremental
        value = record.get(self.replication_key or "")
        if incremental is None or not isinstance(value, str):
            return None
        return windows.format_bound(parse_datetime(value), incremental.value_format)

    @property
    def builder(self) -> RequestBuilder:
        """How this stream's requests are built (made once, on first use)."""
        builder = self._builder
        if builder is None:
            builder = self._builder = RequestBuilder(
                self.bound,
                base_url=self.run.settings.base_url,
                headers=self.http_headers,
                settings=self.run.settings,
            )
        return builder

    def prepare(self, context: Context | None, paginator: Paginator) -> requests.PreparedRequest:
        """The request of the paginator's current page."""
        window = self.window if self._filtered else None
        request = self.builder.build(
            context=context, token=paginator.current_value, paginator=paginator, window=window
        )
        payload = {"json": request.data} if self.payload_as_json else {"data": request.data}
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            **payload,
        )

    @override
    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        """Prepare a page's request without the session's merge, which costs as much as
        the rest of preparing: of what the session adds, its default headers are merged
        here, auth is applied on every attempt by `_request`, and its cookies (an API
        that sets some) still take the session's path.
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
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Retries happen in the run's one `Transport`, not in backoff decorators; it
        counts the requests (and 429s) in the stream's `progress`, whatever the thread.
        """
        label = f"stream '{self.name}'"

        def call(prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
            return self.run.transport.call(
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

        The one override of a singer-sdk private method on the reading side (see
        `tap_commerce.sdk_private`); it routes the attempt through the run's `Transport`
        (pacing) and renews an expired OAuth token once.
        """
        auth = self.authenticator
        renewed = False
        while True:
            auth(prepared_request)
            used = prepared_request.headers.get("Authorization")
            response = self.run.transport.send(prepared_request)
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
        """Sort a response into ignore, retry, fail, or decode (and attach its `Page`)."""
        status = response.status_code
        for action in self.resource.response_actions:
            if action.matches(status, lambda: response.text):
                raise IgnoredResponseError(response)
        if status in RETRYABLE_STATUSES:
            raise RetriableAPIError(describe_response(response), response)
        if status in (401, 403):
            raise AuthError(self.run.auth_failure(self.name, response))
        if status >= HTTPStatus.MULTIPLE_CHOICES:
            where = self.run.transport.where(response.request)
            msg = f"stream '{self.name}': {where} answered {describe_response(response)}"
            raise ApiError(msg)
        try:
            body = decode_json(response.content)
        except ValueError as exc:
            raise InvalidBodyError(str(exc), response) from None
        page = Page(body, self.extract_records(body, response))
        response.tap_page = page  # type: ignore[attr-defined]  # the decoded page travels with it (`page_of`)

    def extract_records(self, body: t.Any, response: requests.Response) -> list[Record]:
        """The records of a decoded body: under ``data_selector`` (detected from the first
        response when the definition gives none), else under each ``x-fallback_selectors``.
        """
        selector = self._selector
        if selector is None:
            selector = self._selector = detect_selector(body)
        try:
            records = selector.records(body)
            for fallback in self.resource.fallback_selectors:
                if records is not None:
                    break
                records = fallback.records(body)
        except MismatchError as exc:
            where = self.run.transport.where(response.request)
            msg = f"stream '{self.name}': {where} answered 200, but under '{selector.source}' {exc}"
            raise BadResponseError(msg) from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            where = self.run.transport.where(response.request)
            shape = f"keys {sorted(body)[:8]}" if isinstance(body, dict) else type(body).__name__
            msg = (
                f"stream '{self.name}': {where} answered 200 without a list of records under "
                f"'{selector.source}' (got {shape})"
            )
            raise BadResponseError(msg)
        for column, path in self._nested_keys:
            for record in records:
                value: t.Any = record
                for name in path:
                    value = value.get(name) if isinstance(value, dict) else None
                if value is not None:
                    record[column] = value
        return records

    @override
    def parse_response(self, response: requests.Response) -> Iterator[Record]:
        """The page's records with their date-times in canonical form."""
        records = page_of(response).records
        self._extracted_at = datetime.now(timezone.utc).isoformat()
        keys = self._keys
        tree = self._datetime_tree
        bad: list[str] = []
        store = self._store
        for record in records:
            if store is not None:
                if STORE_FIELD in record:
                    self._own_store_field(record, response)
                record[STORE_FIELD] = store
            for key in keys:
                if record.get(key) is None:
                    self._missing_key(record, key, response)
            if tree:
                normalize_datetimes(record, tree, bad)
                if bad:
                    self._unparseable_dates(record, bad, response)
                    bad = []
        if self.child_streams and not getattr(response, "tap_children_fetched", False):
            self._prefetch_children(records, self._pages_read)
        self._pages_read += 1
        return iter(records)

    def _own_store_field(self, record: Record, response: requests.Response) -> None:
        """A record with a ``store`` field of its own: the setting would overwrite it."""
        where = self.run.transport.where(response.request)
        msg = (
            f"stream '{self.name}': {where} returned a record with a field '{STORE_FIELD}' of "
            f"its own ({record[STORE_FIELD]!r}), which setting 'store' would overwrite"
        )
        raise BadResponseError(msg)

    @override
    def apply_catalog(self, catalog: Catalog) -> None:
        """singer-sdk's, then the store first in the key again: a catalog discovered
        without the ``store`` setting does not have it (the SCHEMA sent is the stream's,
        which has the field).
        """
        super().apply_catalog(catalog)
        if self._store is not None:
            keys = [k for k in self.primary_keys or () if k != STORE_FIELD]
            self.primary_keys = keyed_by_store(keys, self._store)

    def _missing_key(self, record: Record, key: str, response: requests.Response) -> None:
        """A record without its key cannot be merged or told apart: stop, naming it."""
        where = self.run.transport.where(response.request)
        shown = {k: record[k] for k in list(record)[:4]}
        key = self._key_names.get(key, key)
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
            where = self.run.transport.where(response.request)
            shown = ", ".join(f"{k}={record.get(k)!r}" for k in self._keys) or "a record"
            msg = (
                f"stream '{self.name}': {where} returned record {shown} whose replication key "
                f"'{key}' is not a date-time: {record.get(key)!r}"
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
        page's records. A response the definition's ``response_actions`` ignore ends the
        list there, with a warning.
        """
        paginator = self.get_new_paginator() or SinglePagePaginator()
        send = self.request_decorator(self._request)
        fanout = self.run.fanout
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
                    try:
                        if pending is None:
                            prepared = self.prepare(context, paginator)
                            response = send(prepared, context)
                        else:
                            (prepared, future), pending = pending, None
                            response = future.result()
                    except IgnoredResponseError as ignored:
                        self._ignored(ignored.response, context)
                        break
                    request_counter.increment()
                    self.update_sync_costs(prepared, response, context)
                    records = list(self.parse_response(response))
                    progress.read(len(records), paginator.records_left(page_of(response), token))
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
                        nxt = self.prepare(context, paginator)
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

    def _ignored(self, response: requests.Response, context: Context | None) -> None:  # noqa: ARG002 - a child stream names the parent from it
        """A response ``response_actions`` ignore: a warning, and the list ends there."""
        where = self.run.transport.where(response.request)
        status = f"{response.status_code} {response.reason or ''}".strip()
        self.logger.warning(
            "stream '%s': %s answered %s; ignored (response_actions), the list ends here",
            self.name,
            where,
            status,
        )

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
            self.run.fanout.close()

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

    @override
    def in_window(self, record: Record) -> bool:
        """Whether the incremental window admits a record (always, for full-table
        streams). A record without a replication-key value cannot be placed: the
        definition's ``on_cursor_value_missing`` says whether it is kept (``include``),
        left out (``exclude``) or stops the stream (``raise``, dlt's default).
        """
        key = self.replication_key
        if not key:
            return True
        value = record.get(key)
        if value is None:
            return self._cursor_missing(record, key)
        return self.window.admits(value)

    def _cursor_missing(self, record: Record, key: str) -> bool:
        incremental = self.resource.incremental
        action = incremental.on_cursor_value_missing if incremental else "include"
        if action == "include":
            return True
        if action == "exclude":
            return False
        shown = ", ".join(f"{k}={record.get(k)!r}" for k in self._keys) or "a record"
        msg = (
            f"stream '{self.name}': record {shown} has no value for its replication key "
            f"'{key}' (the definition's incremental.on_cursor_value_missing is 'raise')"
        )
        raise BadResponseError(msg)

    # -- progress ----------------------------------------------------------------------

    @property
    def progress(self) -> Progress:
        """This run's tracker of the stream (made at the start of its sync; for a child
        stream, of its parent's).
        """
        progress = self._progress
        if progress is None:
            progress = self._progress = Progress(self.name, self.run.logger)
        return progress

    @override
    def _start_progress(self) -> None:
        """A new tracker for the stream, and for the child streams it syncs: they run
        while it does. A child's window that goes into its requests is worked out now, on
        the main thread (its requests are sent from the fan-out pool's).
        """
        progress = self._progress = Progress(self.name, self.run.logger)
        for child in self._syncing_children():
            if child._filtered:  # noqa: SLF001 - the same class
                _ = child.window
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
    def _syncing_children(self) -> list[t.Any]:
        return [c for c in self.child_streams if c.selected or c.has_selected_descendents]

    @override
    def _page_written(self, records: int) -> None:
        """A page's records went out (``records`` of them emitted)."""
        self.progress.written(records)

    @override
    def _report_once(self, topic: str, message: str, *args: t.Any) -> None:
        if topic not in self._reported:
            self._reported.add(topic)
            self.logger.warning(message, *args)

    # -- incremental -------------------------------------------------------------------

    @property
    def window(self) -> Window:
        """This run's window (`tap_commerce.window`)."""
        if self._window is None:
            self._window = windows.compute(
                stream=self.name,
                replication_key=t.cast("str", self.replication_key),
                incremental=self.resource.incremental,
                state=self.stream_state,
                settings=self.run.settings,
                started_at=self.run.started_at,
                logger=self.logger,
            )
        return self._window
