"""What the five emulated APIs share: routing, parameter parsing, error responses and
page assembly from cached record fragments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tap_commerce_sandbox.data import ChildTable, Dataset, Table
from tap_commerce_sandbox.drift import Drift
from tap_commerce_sandbox.jsonenc import RawJSON, dump_bytes
from tap_commerce_sandbox.wire import ApiError, Request, Response, json_response, raw_json_response

Handler = Callable[..., Response]


class Api:
    """Base of one emulated API. Subclasses set ``name``/``prefix``, register routes and
    say how their errors look (:meth:`error_body`).
    """

    name: str = ""
    prefix: str = ""  # path prefix on the sandbox server, without trailing slash

    def __init__(self, dataset: Dataset, credentials: Mapping[str, str]) -> None:
        """The API over ``dataset``, accepting ``credentials`` (its settings' names)."""
        self.dataset = dataset
        self.credentials = dict(credentials)
        self.drift = Drift()  # the sandbox replaces it with the one all its APIs share
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    # Routing -------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` on paths matching ``pattern`` with ``handler(request, *groups)``."""
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def handle(self, request: Request) -> Response:
        """Answer one request whose path is already stripped of :attr:`prefix`."""
        try:
            return self._dispatch(request)
        except ApiError as exc:
            return self.error(exc.status, exc.message, headers=exc.headers, **exc.extra)

    def _dispatch(self, request: Request) -> Response:
        """The answer of the route that matches ``request`` (`ApiError` 404 or 405 if none)."""
        allowed = []
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            return handler(request, *match.groups())
        if allowed:
            raise ApiError(
                405,
                f"Method {request.method} not allowed",
                headers=[("Allow", ", ".join(allowed))],
            )
        raise ApiError(404, f"No such resource: {request.path}")

    # Errors --------------------------------------------------------------------------

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        """The API's own error body for ``status``."""
        raise NotImplementedError

    def error(
        self, status: int, message: str, *, headers: Iterable[tuple[str, str]] = (), **extra: Any
    ) -> Response:
        """An error response with the API's own body (`error_body`)."""
        return json_response(status, self.error_body(status, message, **extra), headers)

    def too_many_requests(self, headers: Iterable[tuple[str, str]] = ()) -> Response:
        """The API's 429."""
        return self.error(429, "Too many requests; slow down.", headers=headers)

    def internal_error(self) -> Response:
        """The API's 500."""
        return self.error(500, "Internal server error")

    # Helpers for handlers --------------------------------------------------------------

    def table(self, stream: str) -> Table:
        """The table of one of the API's top-level streams."""
        table = self.dataset.table(self.name, stream)
        if not isinstance(table, Table):
            msg = f"{self.name} stream {stream!r} is a child stream: it has no table of its own"
            raise TypeError(msg)
        return table

    def served(
        self,
        table: Table | ChildTable,
        fragments: Sequence[str],
        positions: Callable[[], Iterable[int]],
    ) -> list[RawJSON]:
        """Cached record texts of ``table`` as they go on the wire: with the extra fields
        of a schema-drift drill if one selects this stream, ready to embed in an envelope.
        ``positions`` gives each record's position (see :mod:`..drift`); it is called only
        when a drill from a position on selects this stream.
        """
        extra = self.drift.extra_fields
        if extra is not None and extra.selects(self.name, table.spec.name):
            return raw(extra.add_to(fragments, None if extra.uniform else positions()))
        return raw(fragments)

    def served_records(self, table: Table, indices: Sequence[int]) -> list[RawJSON]:
        """:meth:`served` for the records of ``table`` at live ``indices``."""
        return self.served(table, table.fragments(indices), lambda: table.positions(indices))


def int_param(
    params: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    """An integer query parameter; a malformed or out-of-range value is a 400."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ApiError(400, f"{name} must be at least {minimum}{upper}, got {value}")
    return value


class Page:
    """One page of a table read in creation order (``live`` sliced at ``start``), as
    ``api`` serves it.
    """

    def __init__(self, api: Api, table: Table, live: Sequence[int], start: int, size: int) -> None:
        """``size`` records of ``table`` from position ``start`` of ``live``, as ``api``
        serves them.
        """
        self.table, self.live, self.start, self.size = table, live, start, size
        self.records = api.served_records(table, live[start : start + size])

    def warm_next(self) -> None:
        """Generate the next page ahead of the client's request for it."""
        self.table.warm(self.live, self.start + self.size, self.size)


def offset_page(
    api: Api, table: Table, params: Mapping[str, str], default_limit: int, max_limit: int
) -> Page:
    """The page an ``offset``/``limit`` request selects, in creation order."""
    offset = int_param(params, "offset", 0, 0)
    limit = int_param(params, "limit", default_limit, 1, max_limit)
    return Page(api, table, table.live(), offset, limit)


def raw(fragments: Sequence[str]) -> list[RawJSON]:
    """Cached record texts, ready to embed in an envelope being encoded."""
    return [RawJSON(f) for f in fragments]


def page_response(envelope: Any, after: Callable[[], None] | None = None) -> Response:
    """A 200 with ``envelope`` as its JSON body, and ``after`` to run once it is sent."""
    response = raw_json_response(200, dump_bytes(envelope))
    response.after = after
    return response
