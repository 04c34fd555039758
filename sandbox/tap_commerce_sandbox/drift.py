"""Contract-drift drills: answers that stray from the contract in ways a correct client must
either shrug off or refuse. Both are off by default, deterministic and cheap.

Unknown fields (schema drift)
    :class:`ExtraFields` appends top-level fields the contract does not list to the records
    of the chosen APIs/streams (child streams included), as an API does that ships new
    fields before its documentation. They are spliced into the encoded record text while a
    page is assembled, so the record cache never holds them: toggling the drill on or off
    works the same whether or not the cache is warm, and ``Sandbox.records()`` (what a
    correct tap emits, since it drops unknown fields) never shows them;
    ``Sandbox.records_with_extra_fields()`` shows what was served, drift fields included.

    By default every record carries the same fields. Two more shapes of drift hang on a
    record's *position*:

    * ``start``: a field that appears mid-list. Records at positions ``< start`` have no
      such field at all (absent, not null); records from ``start`` on carry the fields.
    * ``changed`` + ``change_at``: a field whose type changes mid-list. From position
      ``change_at`` (``>= start``) on, the fields named in ``changed`` carry those values
      instead (e.g. ``x_extra_number`` is ``42`` on ``[start, change_at)`` and
      ``"forty-two"`` from ``change_at`` on); fields not in ``changed`` keep their value.
      ``changed`` may only name fields of ``fields``; member order stays that of ``fields``.

    Position rule: top-level streams: the record's 0-based position in the stream's full,
    unfiltered list of live records in creation order (what an unfiltered oldest-first read
    serves, i.e. ``Sandbox.records()``), whatever the query, filter, sort or page size
    that served it — so a given record always has the same fields (storefront's
    newest-first ``modifiedAfter`` reads and orders' by-modification order included).
    Records added by a mutation go at the end; deleting a record moves the ones after it
    one position forward, as in the list itself. Child streams (shop product images,
    reviews, ...): the row's 0-based position among its own parent's live rows, oldest first
    (the list ``/products/{id}/<kind>`` serves), so each product's rows from ``start`` on
    carry the fields.

    Cost: without ``start``/``change_at`` one splice per record, as before; with them, one
    comparison more, and positions are computed only for the pages of selected streams
    (free unless records were deleted: then one binary search per record). With no drill,
    nothing at all.

Foreign next-page URL (storefront only)
    :class:`ForeignNextUrl` makes storefront pages carry a ``pagination.nextPageUrl`` on
    another origin — same path and cursor, other scheme/host/port — so a client test can
    prove the client never follows a link off its configured base URL. The default,
    ``http://127.0.0.2:{port}``, is an address nothing listens on while the sandbox listens
    on 127.0.0.1 (a follow is refused at once). To *see* a follow instead, point it at an
    origin that reaches the sandbox under another name (e.g. ``http://localhost:{port}``):
    such requests arrive with that ``Host`` and ``Sandbox.foreign_requests()`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .jsonenc import dumps

#: What ``set_extra_fields()`` adds when given no fields: an object, a string and a number.
DEFAULT_EXTRA_FIELDS: Mapping[str, Any] = {
    "x_extra_field": {"source": "sandbox-drift", "nested": {"level": 2, "tags": ["a", "b"]}},
    "x_extra_text": "a field the contract does not list",
    "x_extra_number": 42,
}
#: What ``set_foreign_next_url()`` uses when given no URL; ``{port}`` is the sandbox's port.
DEFAULT_FOREIGN_ORIGIN = "http://127.0.0.2:{port}"


@dataclass(frozen=True)
class ExtraFields:
    """Fields appended to the records of the selected streams.

    ``apis`` (``None``: all) and ``streams`` (``None``: all; each a stream name of any
    selected API, e.g. ``"products_images"``, or ``"api.stream"``) must both match.
    Records at positions ``< start`` get none of them; from ``change_at`` on, the fields in
    ``changed`` take those values (see the module docstring for what a position is).
    """

    fields: Mapping[str, Any]
    apis: frozenset[str] | None = None
    streams: frozenset[str] | None = None
    start: int = 0
    changed: Mapping[str, Any] | None = None
    change_at: int | None = None
    members: str = field(init=False, repr=False, compare=False)  # '"name":value,...' text
    #: The members from ``change_at`` on (``None``: no change).
    changed_members: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the drill and encode its members once."""
        if not isinstance(self.fields, Mapping) or not self.fields:
            msg = "extra fields must be a non-empty JSON object"
            raise TypeError(msg)
        if not all(isinstance(name, str) and name for name in self.fields):
            msg = "extra field names must be non-empty strings"
            raise TypeError(msg)
        _position("start", self.start)
        if (self.changed is None) != (self.change_at is None):
            msg = "extra fields: changed and change_at go together"
            raise ValueError(msg)
        changed_members = None
        if self.changed is not None:
            if not isinstance(self.changed, Mapping) or not self.changed:
                msg = "extra fields: changed must be a non-empty JSON object"
                raise TypeError(msg)
            unknown = sorted(set(self.changed) - set(self.fields), key=str)
            if unknown:
                msg = (
                    f"extra fields: changed names {', '.join(map(str, unknown))}, "
                    "which are not among the fields"
                )
                raise ValueError(msg)
            change_at = _position("change_at", self.change_at)
            if change_at < self.start:
                msg = (
                    f"extra fields: change_at ({self.change_at}) must not be before "
                    f"start ({self.start})"
                )
                raise ValueError(msg)
            object.__setattr__(self, "changed", dict(self.changed))
            changed_members = dumps({**self.fields, **self.changed})[1:-1]
        object.__setattr__(self, "fields", dict(self.fields))
        object.__setattr__(self, "members", dumps(self.fields)[1:-1])
        object.__setattr__(self, "changed_members", changed_members)

    @classmethod
    def of(
        cls,
        fields: Mapping[str, Any],
        apis: Iterable[str] | str | None,
        streams: Iterable[str] | str | None,
        catalog: Mapping[str, Iterable[str]],
        *,
        start: int = 0,
        changed: Mapping[str, Any] | None = None,
        change_at: int | None = None,
    ) -> ExtraFields:
        """Build and check a selection against ``catalog`` (``{api: stream names}``)."""
        chosen = _names(apis)
        names = _names(streams)
        for api in chosen or ():
            if api not in catalog:
                msg = f"extra fields: unknown api {api!r}; one of {', '.join(catalog)}"
                raise ValueError(msg)
        in_scope = {
            (api, stream)
            for api, api_streams in catalog.items()
            if chosen is None or api in chosen
            for stream in api_streams
        }
        for name in names or ():
            if not any(name in (stream, f"{api}.{stream}") for api, stream in in_scope):
                msg = f"extra fields: no selected api has a stream {name!r}"
                raise ValueError(msg)
        return cls(fields, chosen, names, start, changed, change_at)

    def selects(self, api: str, stream: str) -> bool:
        """Whether the drill covers ``api.stream``."""
        return (self.apis is None or api in self.apis) and (
            self.streams is None or stream in self.streams or f"{api}.{stream}" in self.streams
        )

    @property
    def uniform(self) -> bool:
        """True if every record gets the same fields (positions do not matter)."""
        return self.start == 0 and self.change_at is None

    def add_to(self, fragments: Sequence[str], positions: Iterable[int] | None = None) -> list[str]:
        """Encoded records (compact JSON objects) with the extra fields appended; the
        fragments themselves, cached or not, are left as they are. ``positions`` (one per
        fragment) is needed unless :attr:`uniform`.
        """
        members = self.members
        if self.uniform:
            return [f"{f[:-1]},{members}}}" if f != "{}" else f"{{{members}}}" for f in fragments]
        if positions is None:
            msg = "extra fields from a position on need the records' positions"
            raise ValueError(msg)
        start = self.start
        change_at = self.change_at if self.change_at is not None else -1
        later = self.changed_members
        out = []
        for f, position in zip(fragments, positions, strict=True):
            if position < start:
                out.append(f)
                continue
            m = later if 0 <= change_at <= position else members
            out.append(f"{f[:-1]},{m}}}" if f != "{}" else f"{{{m}}}")
        return out

    def to_json(self) -> dict[str, Any]:
        """The setting; ``start``/``changed``/``change_at`` only when given."""
        out: dict[str, Any] = {
            "fields": self.fields,
            "apis": sorted(self.apis) if self.apis is not None else None,
            "streams": sorted(self.streams) if self.streams is not None else None,
        }
        if self.start:
            out["start"] = self.start
        if self.change_at is not None:
            out["changed"] = self.changed
            out["change_at"] = self.change_at
        return out


@dataclass(frozen=True)
class ForeignNextUrl:
    """``origin`` (``scheme://host[:port][/path]``; ``{port}`` stands for the port the
    client addressed) replaces the request's origin in storefront ``nextPageUrl`` links of
    requests whose full path ``path`` (a regular expression, ``None``: all) matches.
    """

    origin: str
    path: str | None = None

    def __post_init__(self) -> None:
        """Check the origin and the path pattern."""
        origin = str(self.origin).rstrip("/")
        try:
            parts = urlsplit(origin.replace("{port}", "1"))
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError as exc:
            msg = f"foreign next URL {self.origin!r}: {exc}"
            raise ValueError(msg) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"foreign next URL must look like http://host[:port], not {self.origin!r}"
            raise ValueError(msg)
        if parts.query or parts.fragment:
            msg = "foreign next URL must have no query or fragment"
            raise ValueError(msg)
        if self.path is not None:
            try:
                re.compile(self.path)  # fail early on a bad pattern
            except re.error as exc:
                msg = f"foreign next URL path {self.path!r}: {exc}"
                raise ValueError(msg) from None
        object.__setattr__(self, "origin", origin)

    def applies(self, path: str) -> bool:
        """Whether the drill covers a request's full ``path``."""
        return self.path is None or re.search(self.path, path) is not None

    def origin_for(self, port: int | None) -> str:
        """The foreign origin with ``{port}`` filled in."""
        return self.origin.replace("{port}", str(port or 80))

    def to_json(self) -> dict[str, Any]:
        """The drill as the admin endpoint shows it."""
        return {"url": self.origin, "path": self.path}


class Drift:
    """The drills in force, shared by every API. Settings are immutable values swapped in
    whole, so request threads read them without a lock.
    """

    def __init__(self) -> None:
        """No drill in force."""
        self.extra_fields: ExtraFields | None = None
        self.foreign_next_url: ForeignNextUrl | None = None


def _position(name: str, value: object) -> int:
    """``value``, checked to be a position: an integer ≥ 0."""
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"extra fields: {name} must be an integer, not {value!r}"
        raise TypeError(msg)
    if value < 0:
        msg = f"extra fields: {name} must not be negative, got {value}"
        raise ValueError(msg)
    return value


def _names(values: Iterable[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return frozenset(str(v) for v in values)
