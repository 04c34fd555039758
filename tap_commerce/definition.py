"""API definitions as typed objects: what `tap_commerce.loader` makes of a definition.

A definition has dlt's ``rest_api`` shape (``client``, ``resource_defaults``,
``resources``), each key with the meaning it has in dlt 1.31; what a Singer tap needs
beyond dlt sits under keys that start with ``x-`` (`EXTENSIONS` lists them, with where
each may appear). The engine reads these objects, never the raw file: nothing is looked up
per record.
"""

from __future__ import annotations

import dataclasses
import typing as t

from tap_commerce.template import INCREMENTAL, SETTINGS, Template

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_commerce.selector import Selector

BUILTINS = ("storefront", "payments", "shop", "digital", "orders")
EXT = "x-"
#: joins the path of a key field inside an object into its column name, as dlt does
KEY_SEPARATOR = "__"

#: every extension key, where it may appear, and what it says
EXTENSIONS: dict[str, tuple[str, str]] = {
    "x-name": ("top level", "the API's name in messages (default: the file's name)"),
    "x-extends": ("top level", "a built-in API to start from; this file overrides parts of it"),
    "x-requests_per_second": ("top level", "default pacing (the setting wins); 0 = unpaced"),
    "x-wait_after_429": (
        "top level",
        "seconds to wait after a 429 that gives no Retry-After (default: backoff)",
    ),
    "x-schema": ("resource", "a JSON Schema file (relative to the definition), or 'infer'"),
    "x-include_from_parent": (
        "resource",
        "parent fields copied into each child record, as {field: column}",
    ),
    "x-fallback_selectors": (
        "endpoint",
        "JSONPaths tried in turn when data_selector is not in a body (e.g. '$' for a bare array)",
    ),
    "x-format": (
        "incremental",
        (
            "how a bound is written in a request: strftime, with %ms for milliseconds and %s "
            "for UNIX seconds (default: RFC 3339 in UTC)"
        ),
    ),
    "x-stop_after_short_page": (
        "offset and page_number paginators",
        "a page with fewer records than the page size is the last",
    ),
    "x-optional_total": (
        "offset and page_number paginators",
        "a body without total_path is no error",
    ),
    "x-next_url_path": (
        "offset and page_number paginators",
        "a page whose body has no value at this JSONPath is the last",
    ),
    "x-maximum_limit": (
        "offset and page_number paginators",
        "the API's largest page size (a larger page_size setting is refused)",
    ),
    "x-limit": ("page_number paginator", "the page size, sent as x-limit_param"),
    "x-limit_param": ("page_number paginator", "the query parameter of the page size"),
    "x-keyset": (
        "offset paginator",
        "each next page filters again from the last cursor value read (needs incremental)",
    ),
    "x-client_auth": (
        "oauth2_client_credentials auth",
        "'body' (dlt's: client_id and client_secret in the form) or 'header' (HTTP Basic)",
    ),
}


class DefinitionError(ValueError):
    """A definition that cannot be used: one line naming its source, key path and fault."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        """``source`` names the file; ``where`` is the key path (empty: the whole file)."""
        self.source, self.where, self.problem = source, where, problem
        at = f": {where}" if where else ""
        super().__init__(f"definition {source}{at}: {' '.join(problem.split())}")


# -- the typed definition ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AuthSpec:
    """``client.auth`` or an endpoint's ``auth``."""

    type: str
    #: token / api_key / username, password / client_id, client_secret, access_token_url…
    values: dict[str, Template]
    name: str = "Authorization"  # api_key
    location: str = "header"  # api_key
    client_auth: str = "body"  # oauth2_client_credentials
    token_request_data: dict[str, Template] = dataclasses.field(default_factory=dict)
    default_token_expiration: float = 3600
    where: str = "client.auth"

    def value(self, key: str) -> str:
        """A value once every placeholder is filled (see `bind`)."""
        return self.values[key].render({})


@dataclasses.dataclass(frozen=True)
class PaginatorSpec:
    """A paginator: dlt's type and keys, and this tap's extensions."""

    type: str
    next_url_path: Selector | None = None  # json_link; x-next_url_path on range paginators
    links_next_key: str = "next"  # header_link
    cursor_path: Selector | None = None  # cursor
    cursor_param: str = "cursor"  # cursor, header_cursor
    cursor_body_path: str | None = None  # cursor
    cursor_key: str = "next"  # header_cursor
    limit: int | None = None  # offset; x-limit on page_number
    limit_param: str | None = None  # offset ("limit"); x-limit_param on page_number
    limit_body_path: str | None = None
    offset: int = 0
    offset_param: str = "offset"
    offset_body_path: str | None = None
    base_page: int = 0
    page: int | None = None
    page_param: str = "page"
    page_body_path: str | None = None
    total_path: Selector | None = None
    maximum_value: int | None = None  # maximum_offset / maximum_page
    stop_after_empty_page: bool = True
    has_more_path: Selector | None = None
    stop_after_short_page: bool = False
    optional_total: bool = False
    maximum_limit: int | None = None
    keyset: bool = False
    where: str = "client.paginator"


@dataclasses.dataclass(frozen=True)
class IncrementalSpec:
    """``endpoint.incremental``: the replication key and its server-side filter."""

    cursor_path: str
    initial_value: str | None = None
    end_value: str | None = None
    start_param: str | None = None
    end_param: str | None = None
    value_format: str | None = None
    lag: float | None = None
    on_cursor_value_missing: str = "raise"
    range_start: str = "closed"
    range_end: str = "closed"


@dataclasses.dataclass(frozen=True)
class ResponseAction:
    """One of ``response_actions``: which responses to ignore."""

    status_code: int | None
    content: str | None
    action: str

    def matches(self, status: int, text: t.Callable[[], str]) -> bool:
        """Whether a response with ``status`` (and body ``text()``) is this one's."""
        if self.status_code is not None and status != self.status_code:
            return False
        return self.content is None or self.content in text()


@dataclasses.dataclass(frozen=True)
class Parent:
    """A child resource's link to its parent: which parent fields fill its requests, and
    which it copies into each record (``{field: column}``).
    """

    resource: str
    #: the key path of the first placeholder naming the parent (for messages)
    where: str
    fields: tuple[str, ...]
    include: tuple[tuple[str, str], ...]

    @property
    def context(self) -> dict[str, str]:
        """The parent fields a child takes, each with its key in the child's context (the
        column it is copied into, if any, else its own name).
        """
        columns = dict(self.include)
        return {field: columns.get(field, field) for field in (*self.fields, *columns)}


@dataclasses.dataclass(frozen=True)
class Resource:
    """One resource: a stream."""

    name: str
    where: str
    path: Template
    method: str
    params: dict[str, Template | t.Any]
    json: t.Any
    data: t.Any
    headers: dict[str, Template]
    auth: AuthSpec | None
    paginator: PaginatorSpec | None  # None: detected from the first response (dlt's auto)
    selector: Selector | None  # None: detected from the first response
    fallback_selectors: tuple[Selector, ...]
    response_actions: tuple[ResponseAction, ...]
    incremental: IncrementalSpec | None
    primary_key: tuple[str, ...]
    write_disposition: str
    selected: bool
    #: a packaged or user schema file, "infer", or None (columns hints, then inference)
    schema: Path | str | None
    columns: dict[str, dict[str, t.Any]]
    parent: Parent | None

    @property
    def replication_key(self) -> str | None:
        """The Singer replication key: the incremental cursor field."""
        return self.incremental.cursor_path if self.incremental else None

    @property
    def server_filter(self) -> bool:
        """Whether the incremental window goes into requests (``start_param``,
        ``end_param`` or ``{incremental.…}`` in params), not only into what is emitted.
        """
        incremental = self.incremental
        if incremental is None:
            return False
        if incremental.start_param or incremental.end_param:
            return True
        return any(
            isinstance(v, Template) and any(f.context == INCREMENTAL for f in v.fields)
            for v in self.params.values()
        )

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key as record fields: a field inside an object (``variant.id``)
        is the top-level field ``variant__id`` the tap adds to each record (dlt's name for
        the nested column), the object staying as it came.
        """
        return tuple(KEY_SEPARATOR.join(key.split(".")) for key in self.primary_key)

    @property
    def nested_keys(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(column, path)`` of every key field inside an object."""
        return tuple(
            (KEY_SEPARATOR.join(parts), tuple(parts))
            for parts in (key.split(".") for key in self.primary_key)
            if len(parts) > 1
        )

    @property
    def key_properties(self) -> list[str]:
        """Singer key properties: the primary key, unless records are only appended."""
        return [] if self.write_disposition == "append" else list(self.key_columns)


@dataclasses.dataclass(frozen=True)
class Definition:
    """An API: the client and its resources."""

    name: str
    source: str
    base_url: Template
    headers: dict[str, Template]
    auth: AuthSpec | None
    requests_per_second: float
    wait_after_429: float | None
    resources: tuple[Resource, ...]
    builtin: str | None = None  # the built-in it is, or extends
    #: once bound (`bind`): the settings its auths took their credentials from
    bound_credentials: tuple[str, ...] | None = None

    def resource(self, name: str) -> Resource:
        """The resource called ``name``."""
        return next(r for r in self.resources if r.name == name)

    @property
    def stream_names(self) -> list[str]:
        """Every stream, in the definition's order."""
        return [r.name for r in self.resources]

    def settings_used(self) -> dict[str, str]:
        """Every ``{settings.NAME}`` of the definition, with the first key path using it."""
        used: dict[str, str] = {}
        for where, value in self._templates():
            for field in value.fields:
                if field.context == SETTINGS:
                    used.setdefault(field.name, where)
        return used

    def credential_settings(self) -> list[str]:
        """The settings that hold credentials (those used in an auth, not as its URL)."""
        if self.bound_credentials is not None:
            return list(self.bound_credentials)
        names: list[str] = []
        for auth in self.auths():
            values = [v for k, v in auth.values.items() if k != "access_token_url"]
            for value in (*values, *auth.token_request_data.values()):
                names += [f.name for f in value.fields if f.context == SETTINGS]
        return list(dict.fromkeys(names))

    def auths(self) -> list[AuthSpec]:
        """The client's auth and every endpoint's own."""
        return [a for a in (self.auth, *(r.auth for r in self.resources)) if a is not None]

    def _templates(self) -> t.Iterator[tuple[str, Template]]:
        yield "client.base_url", self.base_url
        for key, value in self.headers.items():
            yield f"client.headers.{key}", value
        for auth in self.auths():
            for key, value in {**auth.values, **auth.token_request_data}.items():
                yield f"{auth.where}.{key}", value
        for resource in self.resources:
            for key, value in resource.headers.items():
                yield f"{resource.where}.endpoint.headers.{key}", value
            for key, param in resource.params.items():
                if isinstance(param, Template):
                    yield f"{resource.where}.endpoint.params.{key}", param

    def bind(self, lookup: Callable[[str, str], str]) -> Definition:
        """This definition with every ``{settings.NAME}`` filled by ``lookup(NAME, where)``
        (which raises for a setting that is not set).
        """
        values = {name: lookup(name, where) for name, where in self.settings_used().items()}

        def fill(value: Template) -> Template:
            return value.fill(SETTINGS, values) if value.fields else value

        def fill_auth(auth: AuthSpec | None) -> AuthSpec | None:
            if auth is None:
                return None
            return dataclasses.replace(
                auth,
                values={k: fill(v) for k, v in auth.values.items()},
                token_request_data={k: fill(v) for k, v in auth.token_request_data.items()},
            )

        bound = [
            dataclasses.replace(
                r,
                headers={k: fill(v) for k, v in r.headers.items()},
                auth=fill_auth(r.auth),
                params={k: fill(v) if isinstance(v, Template) else v for k, v in r.params.items()},
            )
            for r in self.resources
        ]
        return dataclasses.replace(
            self,
            base_url=fill(self.base_url),
            headers={k: fill(v) for k, v in self.headers.items()},
            auth=fill_auth(self.auth),
            resources=tuple(bound),
            bound_credentials=tuple(self.credential_settings()),
        )
