"""Variants: the sandbox's data served the way real services of each kind differ from the
contract, so that a definition can be shown to read each difference.

Every *service* is mounted at ``/variants/<service>/`` with its own auth; each of its
*endpoints* serves one stream of the five APIs' data (``source``), reshaped by data, not
code: camelCase fields, date-times as RFC 2822 or UNIX seconds or with other fractions
and offsets, ``""`` for an unset date-time, flags as ``0``/``1``, ``null`` for some empty
arrays, a key moved into an object, zero-padded string ids, money with a currency symbol,
records wrapped one per object. Pages go by offset, page number (from 0 or 1) or cursor
token, with any parameter names, a next link in the body (absolute, root-relative or
relative) or in a ``Link`` header, a total at any path or none, and a page past the end
that answers 404 or an empty list. A server-side date filter reads ISO 8601, a date, UNIX
seconds or a template such as ``lastmodifieddate:[{start}..{end}]``.

`SERVICES` is the catalogue; `VariantApi.records` gives an endpoint's records exactly as
they are served, for tests to compare against.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from tap_commerce_sandbox.jsonenc import loads
from tap_commerce_sandbox.wire import ApiError, Request, Response, json_response

from .base import Api, int_param, page_response
from .orders import TokenStore

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tap_commerce_sandbox.data import Dataset, Table

UTC = timezone.utc
TOKEN_PATH = "/oauth/token"


@dataclasses.dataclass(frozen=True)
class Auth:
    """How a service checks its callers.

    ``kind``: ``bearer``, ``basic``, ``header`` (a key in header ``name``), ``query`` (a
    key in query parameter ``name``) or ``oauth`` (bearer tokens from the service's token
    endpoint, by the ``grant`` ``client_credentials`` or ``refresh_token``, the client's
    credentials in the form or, with ``client_in="basic"``, in a Basic header only).
    """

    kind: str
    name: str = ""
    grant: str = "client_credentials"
    client_in: str = "form"


@dataclasses.dataclass(frozen=True)
class Paging:
    """How an endpoint pages.

    ``kind``: ``offset`` (``offset_param``/``size_param``), ``page`` (``page_param`` from
    ``first_page``, ``size_param``) or ``cursor`` (an opaque token at ``cursor_path``, sent
    back as ``cursor_param``). ``link_path`` (a dotted body path) and ``link_header`` also
    advertise the next page's URL, in the ``link_form`` ``absolute``, ``root`` (``/…``) or
    ``relative`` (``name?…``). ``total_path``: where the body gives the total, if it
    does, of ``total_of`` (``records`` or ``pages``). ``past_end``: what a page past the last answers, ``empty`` or ``404``.
    """

    kind: str = "offset"
    offset_param: str = "offset"
    size_param: str = "limit"
    page_param: str = "page"
    first_page: int = 1
    default_size: int = 20
    max_size: int = 100
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    link_path: str | None = None
    link_header: bool = False
    link_form: str = "absolute"
    total_path: str | None = None
    total_of: str = "records"
    past_end: str = "empty"


@dataclasses.dataclass(frozen=True)
class Shape:
    """How an endpoint reshapes its source's records (in this order).

    ``dates``: source fields respelt in ``date_style`` (``iso3z``: milliseconds and ``Z``;
    ``iso6``: microseconds at ``+02:00``; ``mixed``: the two alternately, the second at
    ``+05:30``; ``rfc2822``; ``unix``: integer seconds); unset ones as ``""`` when
    ``blank_dates``. ``flags``: top-level booleans as ``0``/``1``. ``null_arrays``: every
    other record's empty top-level arrays as ``null``. ``padded_id``: ``id`` as a string
    zero-padded to that width. ``money``: fields prefixed with ``symbol``. ``drop``:
    fields removed. ``rename``: (old, new) names. ``nest``: (object, ((source field, name inside), ...)) moves fields
    into an object. ``camel``: every key in camelCase, at every depth.
    """

    dates: tuple[str, ...] = ()
    date_style: str = "iso3z"
    blank_dates: bool = False
    flags: bool = False
    null_arrays: bool = False
    padded_id: int = 0
    money: tuple[str, ...] = ()
    symbol: str = "£"
    drop: tuple[str, ...] = ()
    rename: tuple[tuple[str, str], ...] = ()
    nest: tuple[str, tuple[tuple[str, str], ...]] | None = None
    camel: bool = False


@dataclasses.dataclass(frozen=True)
class Filter:
    """A server-side filter on the source's date-time ``field``: records at or after the
    start, and before the end when one is given.

    ``style``: how the values are written, ``iso``, ``date`` (a UTC day; the end's day is
    excluded), ``unix`` (seconds) or ``template`` (``start_param`` holds ``template``, whose
    ``{start}`` and ``{end}`` are ISO 8601 and may be empty).
    """

    field: str
    start_param: str
    end_param: str | None = None
    style: str = "iso"
    template: str = ""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One list: ``path`` below the service, serving ``source`` = (api, stream)."""

    name: str
    path: str
    source: tuple[str, str]
    paging: Paging = Paging()
    records_at: str | None = "data"  # a dotted body path; None: the body is the array
    wrap: str | None = None  # each record as {wrap: record}
    shape: Shape = Shape()
    filter: Filter | None = None


@dataclasses.dataclass(frozen=True)
class Service:
    """A service: its auth and endpoints, at ``/variants/<name>/``."""

    name: str
    auth: Auth
    endpoints: tuple[Endpoint, ...]

    def credentials(self) -> dict[str, str]:
        """The service's fixed, obviously fake credentials, by the settings' names."""
        kind, stem = self.auth.kind, f"sandbox-{self.name}"
        if kind == "bearer":
            return {"api_key": f"{stem}-token"}
        if kind == "basic":
            return {"username": f"{stem}-user", "password": f"{stem}-password"}
        if kind in {"header", "query"}:
            return {"api_key": f"{stem}-key"}
        creds = {"client_id": f"{stem}-client", "client_secret": f"{stem}-secret"}
        if self.auth.grant == "refresh_token":
            creds["refresh_token"] = f"{stem}-refresh"
        return creds

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``."""
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        msg = f"variant service {self.name!r} has no endpoint {name!r}"
        raise ValueError(msg)


# The catalogue -----------------------------------------------------------------------------

_ORDERS_LIKE = (
    Endpoint(
        "orders",
        "/sell/fulfillment/v1/order",
        ("orders", "orders"),
        Paging("offset", default_size=50, max_size=200, total_path="total"),
        records_at="orders",
        shape=Shape(camel=True),
        filter=Filter(
            "last_modified_date",
            "filter",
            style="template",
            template="lastmodifieddate:[{start}..{end}]",
        ),
    ),
)
_STOREFRONT_LIKE = (
    Endpoint(
        "inventory",
        "/1.0/commerce/inventory",
        ("storefront", "inventory"),
        Paging(
            default_size=50, max_size=50, link_path="pagination.nextPageUrl", link_form="relative"
        ),
        records_at="inventory",
        # keyed by the variant: each record's own id, under the name variantId
        shape=Shape(drop=("variantId",), rename=(("id", "variantId"),)),
    ),
    Endpoint(
        "orders",
        "/1.0/commerce/orders",
        ("storefront", "orders"),
        Paging(default_size=50, max_size=50, link_path="pagination.nextPageUrl", link_form="root"),
        records_at="result",
        shape=Shape(
            dates=("createdOn", "modifiedOn", "fulfilledOn"), date_style="mixed", null_arrays=True
        ),
        filter=Filter("modifiedOn", "modifiedAfter", "modifiedBefore"),
    ),
    Endpoint(
        "stock",
        "/1.0/commerce/stock",
        ("storefront", "inventory"),
        Paging(default_size=25, max_size=50, link_header=True),
        records_at="stock",
        shape=Shape(
            drop=("variantId",),
            rename=(("id", "variantId"),),
            nest=("variant", (("variantId", "id"), ("sku", "sku"))),
        ),
    ),
    Endpoint(
        "profiles",
        "/1.0/profiles",
        ("storefront", "profiles"),
        Paging("cursor", default_size=25, cursor_path="pagination.nextCursor"),
        records_at="profiles",
        shape=Shape(dates=("createdOn",), date_style="iso6"),
    ),
)
_PAYMENTS_LIKE = (
    Endpoint(
        "payments",
        "/v2/payments",
        ("payments", "order_payments"),
        Paging(
            "page",
            size_param="count",
            default_size=50,
            max_size=100,
            total_path="total_count",
            link_path="next_page",
            past_end="404",
        ),
        records_at="payments",
        shape=Shape(dates=("paid_at", "created_at", "updated_at"), blank_dates=True, flags=True),
        filter=Filter("updated_at", "updated_since", style="date"),
    ),
    Endpoint(
        "products",
        "/v2/products",
        ("payments", "products"),
        Paging(
            "page",
            size_param="size",
            first_page=0,
            total_path="pagination.total_pages",
            total_of="pages",
        ),
        records_at="products",
        shape=Shape(flags=True, drop=("id",)),
        filter=Filter("updated_at", "updated_at", style="template", template="gt:{start}"),
    ),
)
_SHOP_LIKE = (
    Endpoint(
        "products",
        "/v2/products",
        ("shop", "products"),
        Paging(size_param="count", default_size=20, max_size=100, total_path="meta.total"),
        shape=Shape(dates=("created_at_utc", "updated_at_utc"), date_style="rfc2822", camel=True),
        filter=Filter("updated_at_utc", "from", "to", style="unix"),
    ),
    Endpoint(
        "orders",
        "/v2/orders",
        ("shop", "orders"),
        Paging(size_param="count", default_size=20, max_size=100, total_path="meta.total"),
        shape=Shape(dates=("created_at_utc",), date_style="rfc2822", camel=True),
        filter=Filter("created_at_utc", "from", "to", style="unix"),
    ),
    Endpoint(
        "events",
        "/v2/events",
        ("shop", "events"),
        Paging(size_param="count", default_size=20, max_size=100),
        shape=Shape(dates=("created_at_utc",), date_style="rfc2822", drop=("id",), camel=True),
        filter=Filter("created_at_utc", "from", "to", style="unix"),
    ),
    Endpoint(
        "countries",
        "/v2/countries",
        ("shop", "countries"),
        Paging(size_param="count", default_size=20, max_size=100),
        records_at=None,
        shape=Shape(camel=True),
    ),
)
_DIGITAL_LIKE = (
    Endpoint(
        "products",
        "/v1/products",
        ("digital", "products"),
        Paging("page", size_param="per_page", default_size=5, max_size=50, link_header=True),
        records_at=None,
        wrap="product",
        shape=Shape(
            dates=("created_at", "updated_at"), date_style="unix", padded_id=10, money=("price",)
        ),
    ),
    Endpoint(
        "orders",
        "/v1/orders",
        ("digital", "orders"),
        Paging(
            "page",
            size_param="per_page",
            default_size=20,
            max_size=50,
            total_path="data.total_pages",
            total_of="pages",
        ),
        records_at="data.items",
        shape=Shape(padded_id=10, money=("price_at_checkout", "settled_gross")),
        filter=Filter("updated_at", "from", "to", style="date"),
    ),
)


def _oauth(grant: str, client_in: str) -> Auth:
    return Auth("oauth", grant=grant, client_in=client_in)


#: Every service, by name.
SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service("orders-like", _oauth("refresh_token", "basic"), _ORDERS_LIKE),
        Service("orders-like-refresh-form", _oauth("refresh_token", "form"), _ORDERS_LIKE),
        Service("orders-like-cc-basic", _oauth("client_credentials", "basic"), _ORDERS_LIKE),
        Service("orders-like-cc-form", _oauth("client_credentials", "form"), _ORDERS_LIKE),
        Service("storefront-like", Auth("bearer"), _STOREFRONT_LIKE),
        Service("payments-like", Auth("header", "X-Payments-Auth-Token"), _PAYMENTS_LIKE),
        Service("payments-like-query", Auth("query", "key"), _PAYMENTS_LIKE),
        Service("shop-like", Auth("header", "X-Api-Key"), _SHOP_LIKE),
        Service("digital-like", Auth("basic"), _DIGITAL_LIKE),
    )
}


# Reshaping ---------------------------------------------------------------------------------

_SNAKE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``last_modified_date`` → ``lastModifiedDate``."""
    return _SNAKE.sub(lambda m: m[1].upper(), name)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def instant(text: str) -> datetime:
    """A source date-time (ISO 8601; naive ones are UTC) as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_PLUS_2 = timezone(timedelta(hours=2))
_PLUS_530 = timezone(timedelta(hours=5, minutes=30))


def _respell(text: str, style: str, position: int) -> Any:
    moment = instant(text)
    if style == "mixed":
        style = "iso3z" if position % 2 == 0 else "iso6+0530"
    if style == "iso3z":
        utc = moment.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if style == "iso6":
        return moment.astimezone(_PLUS_2).isoformat(timespec="microseconds")
    if style == "iso6+0530":
        return moment.astimezone(_PLUS_530).isoformat(timespec="microseconds")
    if style == "rfc2822":
        return format_datetime(moment.astimezone(UTC))
    if style == "unix":
        return int(moment.timestamp())
    msg = f"unknown date style {style!r}"
    raise ValueError(msg)


def reshape(record: dict[str, Any], shape: Shape, position: int) -> dict[str, Any]:
    """One source record (a fresh copy, changed in place) as the endpoint serves it;
    ``position`` (its index in the table) picks the alternatives of ``mixed`` date-times
    and ``null_arrays``.
    """
    for name in shape.dates:
        if name in record:
            value = record[name]
            if value is None:
                record[name] = "" if shape.blank_dates else None
            else:
                record[name] = _respell(value, shape.date_style, position)
    if shape.flags:
        for name, value in record.items():
            if isinstance(value, bool):
                record[name] = int(value)
    if shape.null_arrays and position % 2:
        for name, value in record.items():
            if value == []:
                record[name] = None
    if shape.padded_id:
        record["id"] = str(record["id"]).zfill(shape.padded_id)
    for name in shape.money:
        if record.get(name) is not None:
            record[name] = f"{shape.symbol}{record[name]}"
    for name in shape.drop:
        record.pop(name, None)
    for old, new in shape.rename:
        record[new] = record.pop(old)
    if shape.nest is not None:
        holder, moves = shape.nest
        record[holder] = {inside: record.pop(source, None) for source, inside in moves}
    return _camel_keys(record) if shape.camel else record


# Filters -----------------------------------------------------------------------------------


def _bound(value: str, style: str, name: str, *, end: bool) -> datetime | None:
    """One filter value read in ``style`` (None when empty)."""
    if value == "":
        return None
    try:
        if style == "unix":
            return datetime.fromtimestamp(int(value), UTC)
        if style == "date":
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        return instant(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name}: cannot read {value!r} as {style}") from None


def _range(request: Request, spec: Filter) -> tuple[datetime | None, datetime | None]:
    """The (start, end) a request asks for."""
    params = request.params()
    if spec.style == "template":
        raw = params.get(spec.start_param)
        if raw is None:
            return None, None
        pattern = re.escape(spec.template)
        for part in ("start", "end"):
            pattern = pattern.replace(re.escape(f"{{{part}}}"), f"(?P<{part}>.*?)")
        match = re.fullmatch(pattern, raw)
        if match is None:
            raise ApiError(400, f"{spec.start_param} must read {spec.template}, got {raw!r}")
        found = match.groupdict()
        return (
            _bound(found.get("start") or "", "iso", spec.start_param, end=False),
            _bound(found.get("end") or "", "iso", spec.start_param, end=True),
        )
    start = params.get(spec.start_param)
    end = params.get(spec.end_param) if spec.end_param else None
    return (
        None if start is None else _bound(start, spec.style, spec.start_param, end=False),
        None if end is None else _bound(end, spec.style, str(spec.end_param), end=True),
    )


# The API -----------------------------------------------------------------------------------


class VariantApi(Api):
    """Every service of `SERVICES`, under ``/variants/<service>/``."""

    name = "variants"
    prefix = "/variants"

    def __init__(
        self,
        dataset: Dataset,
        services: Mapping[str, Service] | None = None,
        *,
        token_ttl: float = 3600,
    ) -> None:
        """Serve ``services`` (default `SERVICES`) over ``dataset``."""
        self.services = dict(SERVICES if services is None else services)
        creds = {
            f"{s}.{k}": v for s, svc in self.services.items() for k, v in svc.credentials().items()
        }
        super().__init__(dataset, creds)
        self.tokens = TokenStore(token_ttl)
        for service in self.services.values():
            if service.auth.kind == "oauth":
                self.route(
                    "POST", f"/{re.escape(service.name)}{TOKEN_PATH}", partial(self.token, service)
                )
            for endpoint in service.endpoints:
                self.route(
                    "GET",
                    f"/{re.escape(service.name)}{re.escape(endpoint.path)}",
                    partial(self.page, service, endpoint),
                )

    @override
    def error_body(self, status: int, message: str, **_: Any) -> dict[str, Any]:
        return {"error": {"code": status, "message": message}}

    def service_of(self, request: Request) -> Service | None:
        """The service a request's path names."""
        return self.services.get(request.path.split("/", 2)[1] if request.path.count("/") else "")

    @override
    def handle(self, request: Request) -> Response:
        service = self.service_of(request)
        if service is not None and not request.path.endswith(TOKEN_PATH):
            refusal = self._refusal(service, request)
            if refusal is not None:
                return self.error(401, refusal)
        return super().handle(request)

    def _refusal(self, service: Service, request: Request) -> str | None:
        """Why a request's credentials are refused (None: accepted)."""
        auth, creds = service.auth, service.credentials()
        if auth.kind == "bearer":
            return (
                None
                if request.bearer_token() == creds["api_key"]
                else "bad or missing bearer token"
            )
        if auth.kind == "basic":
            ok = request.basic_auth() == (creds["username"], creds["password"])
            return None if ok else "bad or missing basic credentials"
        if auth.kind == "header":
            ok = request.headers.get(auth.name) == creds["api_key"]
            return None if ok else f"bad or missing {auth.name} header"
        if auth.kind == "query":
            ok = request.params().get(auth.name) == creds["api_key"]
            return None if ok else f"bad or missing {auth.name} parameter"
        token = request.bearer_token()
        return None if token and self.tokens.valid(token) else "expired or invalid access token"

    # OAuth -----------------------------------------------------------------------------

    def token(self, service: Service, request: Request) -> Response:
        """``POST /<service>/oauth/token``: the service's one grant, its client one way."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        creds, auth = service.credentials(), service.auth
        client = (creds["client_id"], creds["client_secret"])
        if auth.client_in == "basic":
            ok = request.basic_auth() == client and "client_secret" not in form
        else:
            ok = (form.get("client_id"), form.get("client_secret")) == client
        if not ok:
            where = "an HTTP Basic header" if auth.client_in == "basic" else "the form"
            return json_response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": f"client credentials go in {where}",
                },
            )
        if form.get("grant_type") != auth.grant:
            return json_response(
                400, {"error": "unsupported_grant_type", "error_description": f"use {auth.grant}"}
            )
        if auth.grant == "refresh_token" and form.get("refresh_token") != creds["refresh_token"]:
            return json_response(
                400, {"error": "invalid_grant", "error_description": "bad refresh_token"}
            )
        answer: dict[str, Any] = {
            "access_token": self.tokens.issue(f"sandbox-{service.name}"),
            "token_type": "Bearer",
            "expires_in": self.tokens.expires_in(),
        }
        return json_response(200, answer)

    # Pages -----------------------------------------------------------------------------

    def source_table(self, endpoint: Endpoint) -> Table:
        """The table an endpoint serves."""
        api, stream = endpoint.source
        return self.dataset.tables[api][stream]  # type: ignore[return-value]  # top-level streams only

    def selected(self, endpoint: Endpoint, request: Request | None) -> Sequence[int]:
        """The live indices an endpoint lists for ``request`` (all of them without one)."""
        table = self.source_table(endpoint)
        live = table.live()
        spec = endpoint.filter
        if spec is None or request is None:
            return live
        start, end = _range(request, spec)
        if start is None and end is None:
            return live
        kept = []
        for index, record in zip(live, table.records(live), strict=True):
            value = record.get(spec.field)
            if value is None:
                continue
            moment = instant(value)
            if (start is None or moment >= start) and (end is None or moment < end):
                kept.append(index)
        return kept

    def shaped(self, endpoint: Endpoint, indices: Sequence[int]) -> list[Any]:
        """The records at ``indices`` as served (each shaped by its index in the table, so
        a record reads the same whatever the filter or page that lists it).
        """
        table = self.source_table(endpoint)
        fresh: list[dict[str, Any]] = loads("[" + ",".join(table.fragments(indices)) + "]")
        out: list[Any] = []
        for index, record in zip(indices, fresh, strict=True):
            shaped = reshape(record, endpoint.shape, index)
            out.append({endpoint.wrap: shaped} if endpoint.wrap else shaped)
        return out

    def records(self, service: str, endpoint: str) -> list[dict[str, Any]]:
        """Every record an endpoint lists now, exactly as served (unwrapped)."""
        spec = self.services[service].endpoint(endpoint)
        served = self.shaped(spec, self.selected(spec, None))
        return [r[spec.wrap] for r in served] if spec.wrap else served

    def page(self, service: Service, endpoint: Endpoint, request: Request) -> Response:
        """``GET /<service><path>``: one page."""
        paging, params = endpoint.paging, request.params()
        size = int_param(params, paging.size_param, paging.default_size, 1, paging.max_size)
        if paging.kind == "offset":
            start = int_param(params, paging.offset_param, 0, 0)
            after = {paging.offset_param: str(start + size), paging.size_param: str(size)}
        elif paging.kind == "page":
            number = int_param(params, paging.page_param, paging.first_page, paging.first_page)
            start = (number - paging.first_page) * size
            after = {paging.page_param: str(number + 1), paging.size_param: str(size)}
        else:
            start = _cursor_position(params.get(paging.cursor_param), paging.cursor_param)
            after = {paging.cursor_param: _cursor(start + size)}
        listed = self.selected(endpoint, request)
        if start >= len(listed) and start > 0 and paging.past_end == "404":
            raise ApiError(404, f"no page at {start}: the list has {len(listed)} records")
        records = self.shaped(endpoint, listed[start : start + size])
        more = start + size < len(listed)
        link = self._link(service, endpoint, request, after) if more else None
        body: Any = records
        if endpoint.records_at is not None:
            body = {}
            _put(body, endpoint.records_at, records)
            if paging.total_path:
                total = len(listed) if paging.total_of == "records" else -(-len(listed) // size)
                _put(body, paging.total_path, total)
            if paging.link_path:
                _put(body, paging.link_path, link)
            if paging.kind == "cursor":
                _put(body, paging.cursor_path, after[paging.cursor_param] if more else None)
        response = page_response(body)
        if paging.link_header and link is not None:
            absolute = self._link(service, endpoint, request, after, form="absolute")
            response.headers.append(("Link", f'<{absolute}>; rel="next"'))
        return response

    def _link(
        self,
        service: Service,
        endpoint: Endpoint,
        request: Request,
        after: Mapping[str, str],
        form: str | None = None,
    ) -> str:
        """The next page's URL: the request's with the paging parameters moved on."""
        query = [(k, v) for k, v in request.query if k not in after]
        query += list(after.items())
        path = f"{self.prefix}/{service.name}{endpoint.path}"
        form = form or endpoint.paging.link_form
        if form == "relative":
            return f"{path.rsplit('/', 1)[1]}?{urlencode(query)}"
        if form == "root":
            return f"{path}?{urlencode(query)}"
        return f"{request.origin}{path}?{urlencode(query)}"


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted ``path`` of ``body``, making the objects on the way."""
    *parents, last = path.split(".")
    for name in parents:
        body = body.setdefault(name, {})
    body[last] = value


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"at:{position}".encode()).decode().rstrip("=")


def _cursor_position(token: str | None, name: str) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text.startswith("at:"):
            return max(int(text[3:]), 0)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, f"{name}: not a cursor this API issued: {token!r}")
