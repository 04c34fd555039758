"""Reading a definition: a file, an object (the ``definition`` setting) or a built-in,
into a `tap_commerce.definition.Definition`.

`load` reads YAML or JSON (with the safe loader: no tag builds a Python object, no
string is ever evaluated), merges it over the built-in it ``x-extends``, applies dlt's
``resource_defaults``, and checks every key, type and reference, turning each part into
its typed object once. Every fault is one `DefinitionError` line naming the source, the
key path and what is wrong; nothing is sent before a definition has loaded.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import re
import string
import sys
import typing as t
from importlib import resources as package_files
from pathlib import Path, PurePosixPath

import yaml

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

from tap_commerce import template
from tap_commerce.definition import (
    BUILTINS,
    EXT,
    EXTENSIONS,
    AuthSpec,
    Definition,
    DefinitionError,
    IncrementalSpec,
    PaginatorSpec,
    Parent,
    Resource,
    ResponseAction,
)
from tap_commerce.normalize import parse_datetime
from tap_commerce.selector import Selector, SelectorError, compile_selector
from tap_commerce.template import INCREMENTAL, RESOURCES, SETTINGS, Template, TemplateError

if t.TYPE_CHECKING:
    from collections.abc import Mapping

PAGINATOR_TYPES = (
    "json_link",
    "json_response",
    "header_link",
    "header_cursor",
    "auto",
    "single_page",
    "cursor",
    "offset",
    "page_number",
)
AUTH_TYPES = ("bearer", "api_key", "http_basic", "oauth2_client_credentials")
WRITE_DISPOSITIONS = ("append", "replace", "merge", "skip")
#: dlt's column data types, as JSON Schema
COLUMN_TYPES: dict[str, dict[str, t.Any]] = {
    "text": {"type": ["string"]},
    "double": {"type": ["number"]},
    "decimal": {"type": ["number"]},
    "wei": {"type": ["number"]},
    "bigint": {"type": ["integer"]},
    "bool": {"type": ["boolean"]},
    "timestamp": {"type": ["string"], "format": "date-time"},
    "date": {"type": ["string"], "format": "date"},
    "time": {"type": ["string"], "format": "time"},
    "binary": {"type": ["string"]},
    "json": {"type": ["object", "array", "string", "number", "boolean"]},
    "complex": {"type": ["object", "array", "string", "number", "boolean"]},
}
#: dlt resource hints about the destination: accepted, the target's business in Singer
DESTINATION_HINTS = (
    "max_table_nesting",
    "table_format",
    "file_format",
    "schema_contract",
    "merge_key",
    "references",
    "nested_hints",
    "parent_table_name",
    "parallelized",
)


# -- reading ---------------------------------------------------------------------------


def definitions_dir() -> Path:
    """Where the built-in definitions are (inside the package)."""
    return Path(str(package_files.files("tap_commerce") / "definitions"))


def schemas_dir() -> Path:
    """Where the built-in schemas are: inside the wheel, or at the repository's top."""
    packaged = Path(str(package_files.files("tap_commerce") / "schemas"))
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "schemas"


def load(value: str | Path | Mapping[str, t.Any], *, api: str | None = None) -> Definition:
    """Load a definition: a file path, an object, or (``value`` None-like and ``api``
    given) a built-in.

    Raises:
        DefinitionError: one line naming the source, the key path and the fault.
    """
    if isinstance(value, (str, Path)):
        path = Path(value)
        source = f"'{value}'"
        raw = _read_file(path, source)
        base_dir: Path | None = path.resolve().parent
        default_name = path.stem
    else:
        source = "in setting 'definition'"
        raw = copy.deepcopy(dict(value))
        base_dir = None
        default_name = "api"
    return _build(raw, source, base_dir, default_name, api=api)


@t.overload
def builtin(api: str) -> Definition: ...


@t.overload
def builtin(api: str, *, raw: t.Literal[True]) -> dict[str, t.Any]: ...


def builtin(api: str, *, raw: bool = False) -> Definition | dict[str, t.Any]:
    """A built-in definition (``raw``: as the file holds it)."""
    path = definitions_dir() / f"{api}.yml"
    source = f"built-in '{api}'"
    data = _read_file(path, source)
    if raw:
        return data
    return _build(data, source, None, api, own=api)


def _read_file(path: Path, source: str) -> dict[str, t.Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(source, "", "the file does not exist") from None
    except IsADirectoryError:
        raise DefinitionError(source, "", "is a directory, not a YAML or JSON file") from None
    except UnicodeDecodeError as exc:
        msg = f"is not YAML or JSON (not UTF-8 text: {exc.reason} at byte {exc.start})"
        raise DefinitionError(source, "", msg) from None
    except OSError as exc:
        raise DefinitionError(source, "", f"cannot be read ({exc.strerror or exc})") from None
    return parse_text(text, source)


def parse_text(text: str, source: str) -> dict[str, t.Any]:
    """The object a YAML or JSON text holds (JSON is YAML), read safely.

    Raises:
        DefinitionError: not YAML/JSON, a tag that would build a Python object, or no object.
    """
    if not text.strip():
        raise DefinitionError(
            source, "", "is empty; a definition is an object with 'client' and 'resources'"
        )
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - _SafeLoader is yaml.SafeLoader, refusing every Python tag
    except yaml.constructor.ConstructorError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        msg = (
            f"holds a YAML tag that would build a Python object{where}: {exc.problem}; "
            "a definition is plain data"
        )
        raise DefinitionError(source, "", msg) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"is not YAML or JSON ({problem}{where})"
        raise DefinitionError(source, "", msg) from None
    if not isinstance(data, dict):
        msg = f"holds {_kind(data)}; a definition is an object with 'client' and 'resources'"
        raise DefinitionError(source, "", msg)
    return data


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (it refuses every ``!!python/…`` tag), with timestamps and
    dates read as the strings they are written as: a definition's values are passed on
    as written (``initial_value: 2024-01-01`` is that text, not a Python date).
    """


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return f"a Python {type(value).__name__}"


# -- merging ---------------------------------------------------------------------------


def merge(base: dict[str, t.Any], override: dict[str, t.Any]) -> dict[str, t.Any]:
    """``override`` over ``base``: objects merge key by key, except that an object whose
    ``type`` changes (an auth, a paginator) is replaced whole; ``resources`` merge by
    ``name`` (a new name is added at the end); anything else is replaced.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if key == "resources" and isinstance(old, list) and isinstance(value, list):
            merged[key] = _merge_resources(old, value)
        elif (
            isinstance(old, dict)
            and isinstance(value, dict)
            and ("type" not in value or old.get("type") == value.get("type"))
        ):
            merged[key] = merge(old, value)
        else:
            merged[key] = value
    return merged


def _merge_resources(base: list[t.Any], override: list[t.Any]) -> list[t.Any]:
    def name(resource: t.Any) -> t.Any:
        return resource if isinstance(resource, str) else (resource or {}).get("name")

    merged = list(base)
    for resource in override:
        at = next((i for i, old in enumerate(merged) if name(old) == name(resource)), None)
        if at is None:
            merged.append(resource)
        elif isinstance(merged[at], dict) and isinstance(resource, dict):
            merged[at] = merge(merged[at], resource)
        else:
            merged[at] = resource
    return merged


# -- validation -------------------------------------------------------------------------


class _Checker:
    """Walks a raw definition, refusing what is wrong with its key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> t.NoReturn:
        raise DefinitionError(self.source, where, problem)

    def keys(
        self,
        where: str,
        value: dict[str, t.Any],
        allowed: t.Collection[str],
        ext: t.Collection[str] = (),
    ) -> None:
        for key in value:
            if not isinstance(key, str):
                self.fail(where, f"key {key!r} is not a string")
            if key.startswith(EXT):
                if key not in ext:
                    known = f"; here: {', '.join(sorted(ext))}" if ext else "; none is read here"
                    close = difflib.get_close_matches(key, list(EXTENSIONS), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.fail(_join(where, key), f"unknown extension key{hint}{known}")
                continue
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                self.fail(
                    _join(where, key),
                    f"unknown key ({hint}allowed here: {', '.join(sorted(allowed))})",
                )

    def obj(self, where: str, value: t.Any) -> dict[str, t.Any]:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, got {_kind(value)}")
        return value

    def string(self, where: str, value: t.Any) -> str:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_kind(value)}")
        return value

    def integer(self, where: str, value: t.Any, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"must be a whole number, got {_kind(value)} {value!r}")
        if minimum is not None and value < minimum:
            self.fail(where, f"must be at least {minimum}, got {value}")
        return value

    def number(self, where: str, value: t.Any, minimum: float = 0) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(where, f"must be a number ≥ {minimum:g}, got {value!r}")
        return float(value)

    def boolean(self, where: str, value: t.Any) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, got {_kind(value)}")
        return value

    def choice(self, where: str, value: t.Any, allowed: t.Sequence[str]) -> str:
        if value not in allowed:
            self.fail(where, f"is {value!r}: must be one of {', '.join(map(repr, allowed))}")
        return t.cast("str", value)

    def selector(self, where: str, value: t.Any) -> Selector:
        try:
            return compile_selector(self.string(where, value))
        except SelectorError as exc:
            self.fail(where, str(exc))

    def template(self, where: str, value: t.Any, allowed: t.Collection[str]) -> Template:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        try:
            return template.parse(self.string(where, value), allowed)
        except TemplateError as exc:
            self.fail(where, str(exc))

    def python_only(self, where: str, what: str) -> t.NoReturn:
        self.fail(
            where,
            f"{what} is Python-only in dlt (a function or an object); a definition is plain data",
        )


class _DefaultsChecker(_Checker):
    """Checks ``resource_defaults`` as if it were a resource, without a resource's own
    needs (a name, a path of its own, a parent).
    """

    @override
    def template(self, where: str, value: t.Any, allowed: t.Collection[str]) -> Template:
        return super().template(where, value, (*allowed, SETTINGS, RESOURCES, INCREMENTAL))


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


_CLIENT_KEYS = ("base_url", "headers", "auth", "paginator", "session")
_RESOURCE_KEYS = (
    "name",
    "endpoint",
    "include_from_parent",
    "selected",
    "processing_steps",
    "primary_key",
    "write_disposition",
    "columns",
    "table_name",
    *DESTINATION_HINTS,
)
_ENDPOINT_KEYS = (
    "path",
    "method",
    "params",
    "json",
    "data",
    "paginator",
    "data_selector",
    "response_actions",
    "incremental",
    "auth",
    "headers",
)
_INCREMENTAL_KEYS = (
    "cursor_path",
    "initial_value",
    "last_value_func",
    "primary_key",
    "end_value",
    "row_order",
    "allow_external_schedulers",
    "lag",
    "on_cursor_value_missing",
    "range_start",
    "range_end",
    "convert",
    "transform",
    "start_param",
    "end_param",
)
_PAGINATOR_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "json_link": (("next_url_path",), ()),
    "json_response": (("next_url_path",), ()),
    "header_link": (("links_next_key",), ()),
    "header_cursor": (("cursor_key", "cursor_param"), ()),
    "cursor": (
        (
            "cursor_path",
            "cursor_param",
            "cursor_body_path",
            "stop_after_empty_page",
            "has_more_path",
        ),
        (),
    ),
    "offset": (
        (
            "limit",
            "offset",
            "offset_param",
            "offset_body_path",
            "limit_param",
            "limit_body_path",
            "total_path",
            "maximum_offset",
            "stop_after_empty_page",
            "has_more_path",
        ),
        (
            "x-stop_after_short_page",
            "x-optional_total",
            "x-next_url_path",
            "x-maximum_limit",
            "x-keyset",
        ),
    ),
    "page_number": (
        (
            "base_page",
            "page",
            "page_param",
            "total_path",
            "maximum_page",
            "stop_after_empty_page",
            "has_more_path",
            "page_body_path",
        ),
        (
            "x-stop_after_short_page",
            "x-optional_total",
            "x-next_url_path",
            "x-maximum_limit",
            "x-limit",
            "x-limit_param",
        ),
    ),
    "single_page": ((), ()),
    "auto": ((), ()),
}
_AUTH_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # type: (keys, required keys, extension keys)
    "bearer": (("token",), ("token",), ()),
    "api_key": (("name", "api_key", "location"), ("api_key",), ()),
    "http_basic": (("username", "password"), ("username", "password"), ()),
    "oauth2_client_credentials": (
        (
            "access_token",
            "access_token_url",
            "client_id",
            "client_secret",
            "access_token_request_data",
            "default_token_expiration",
            "session",
        ),
        ("access_token_url", "client_id", "client_secret"),
        ("x-client_auth",),
    ),
}
_AUTH_SETTINGS = (SETTINGS,)


def _build(
    raw: dict[str, t.Any],
    source: str,
    base_dir: Path | None,
    default_name: str,
    *,
    api: str | None = None,
    own: str | None = None,
) -> Definition:
    """A definition from its raw data: ``own`` is the built-in it is; ``api`` (the
    setting) the built-in a user's definition starts from when it names none itself.
    """
    check = _Checker(source)
    extends = raw.get("x-extends")
    base_name = own
    if own is not None and extends is not None:
        check.fail("x-extends", "a built-in extends nothing")
    if own is None and (extends is not None or api is not None):
        base_name = check.choice("x-extends", extends or api, BUILTINS)
        if api is not None and api != base_name:
            check.fail("x-extends", f"extends '{base_name}', but setting 'api' is '{api}'")
        raw = merge(
            builtin(base_name, raw=True), {k: v for k, v in raw.items() if k != "x-extends"}
        )
    check.keys(
        "",
        raw,
        ("client", "resources", "resource_defaults"),
        ("x-name", "x-extends", "x-requests_per_second", "x-wait_after_429"),
    )
    if "client" not in raw:
        check.fail("client", "is required (dlt: the client with at least its base_url)")
    if "resources" not in raw:
        check.fail("resources", "is required (dlt: the list of resources)")
    client = check.obj("client", raw["client"])
    check.keys("client", client, _CLIENT_KEYS)
    if "session" in client:
        check.python_only("client.session", "a requests Session")
    if "base_url" not in client:
        check.fail("client.base_url", "is required")
    base_url = check.template("client.base_url", client["base_url"], (SETTINGS,))
    literal = base_url.constant
    if literal is not None and not re.match(r"https?://[^/\s]+", literal):
        check.fail(
            "client.base_url",
            f"is {literal!r}: expected an http(s) URL such as https://api.example.com/",
        )
    headers = _headers(check, "client.headers", client.get("headers"))
    auth = (
        _auth(check, "client.auth", client.get("auth")) if client.get("auth") is not None else None
    )
    client_paginator = client.get("paginator")
    name = raw.get("x-name", own or base_name or default_name)
    name = check.string("x-name", name)
    rps = raw.get("x-requests_per_second", 0)
    wait_429 = raw.get("x-wait_after_429")

    defaults = raw.get("resource_defaults") or {}
    defaults = check.obj("resource_defaults", defaults)
    check.keys(
        "resource_defaults",
        defaults,
        [k for k in _RESOURCE_KEYS if k != "name"],
        ("x-schema", "x-include_from_parent"),
    )
    if "endpoint" in defaults:
        endpoint_defaults = defaults["endpoint"]
        if isinstance(endpoint_defaults, str):
            check.fail("resource_defaults.endpoint", "must be an object (a path is per resource)")
        check.obj("resource_defaults.endpoint", endpoint_defaults)

    if defaults:
        # its faults are told at its own key paths, not at the first resource's
        probe = {**defaults, "name": "resource_defaults"}
        probe["endpoint"] = {"path": "resource_defaults", **(defaults.get("endpoint") or {})}
        _resource(
            _DefaultsChecker(source),
            "resource_defaults",
            probe,
            client_paginator=None,
            base_dir=base_dir,
            builtin_name=None,
        )
    listed = raw["resources"]
    if not isinstance(listed, list) or not listed:
        check.fail("resources", f"must be a non-empty list, got {_kind(listed)}")
    merged: list[tuple[str, dict[str, t.Any]]] = []
    for number, item in enumerate(listed):
        where = f"resources[{number}]"
        entry = {"name": item, "endpoint": {"path": item}} if isinstance(item, str) else item
        entry = check.obj(where, entry)
        merged.append((where, _with_defaults(check, where, defaults, entry)))

    names: dict[str, str] = {}
    for where, item in merged:
        if "name" not in item:
            check.fail(where, "has no 'name'")
        resource_name = check.string(_join(where, "name"), item["name"])
        stream = item.get("table_name", resource_name)
        stream = check.string(_join(where, "table_name"), stream)
        for label in {resource_name, stream}:
            if label in names:
                check.fail(
                    _join(where, "name"),
                    f"the stream name '{label}' is used twice (also by {names[label]})",
                )
            names[label] = where

    built = [
        _resource(
            check,
            where,
            item,
            client_paginator=client_paginator,
            base_dir=base_dir,
            builtin_name=base_name,
        )
        for where, item in merged
    ]
    by_name = {r.name: r for r in built}
    resource_names = {
        check.string(_join(w, "name"), i["name"]): r.name
        for (w, i), r in zip(merged, built, strict=True)
    }
    linked: list[Resource] = []
    for resource in built:
        parent = resource.parent
        if parent is not None:
            if parent.resource not in resource_names:
                check.fail(
                    parent.where,
                    f"names resource '{parent.resource}', which the definition does not have "
                    f"(its resources: {', '.join(resource_names)})",
                )
            parent_stream = by_name[resource_names[parent.resource]]
            if parent_stream.name == resource.name:
                check.fail(parent.where, "a resource cannot be its own parent")
            if parent_stream.parent is not None:
                check.fail(
                    parent.where,
                    f"the parent '{parent.resource}' is itself a child; a child's parent "
                    "must be a top-level resource",
                )
            linked.append(
                dataclasses.replace(
                    resource, parent=dataclasses.replace(parent, resource=parent_stream.name)
                )
            )
        else:
            linked.append(resource)
    return Definition(
        name=name,
        source=source,
        base_url=base_url,
        headers=headers,
        auth=auth,
        requests_per_second=check.number("x-requests_per_second", rps),
        wait_after_429=None if wait_429 is None else check.number("x-wait_after_429", wait_429),
        resources=tuple(linked),
        builtin=base_name,
    )


def _with_defaults(
    check: _Checker, where: str, defaults: dict[str, t.Any], item: dict[str, t.Any]
) -> dict[str, t.Any]:
    """Dlt's merge of ``resource_defaults`` into a resource: resource keys replace the
    defaults', except the endpoint, whose ``params`` and ``json`` merge key by key.
    """
    item = dict(item)
    endpoint = item.get("endpoint", {})
    if isinstance(endpoint, str):
        endpoint = {"path": endpoint}
    endpoint = dict(check.obj(_join(where, "endpoint"), endpoint))
    if "path" not in endpoint and isinstance(item.get("name"), str):
        endpoint["path"] = item["name"]
    default_endpoint = dict(defaults.get("endpoint") or {})
    merged_endpoint = {
        **default_endpoint,
        **{k: v for k, v in endpoint.items() if k not in ("json", "params")},
    }
    for key in ("json", "params"):
        if key in endpoint:
            merged_endpoint[key] = {**(default_endpoint.get(key) or {}), **(endpoint[key] or {})}
    merged = {**defaults, **item, "endpoint": merged_endpoint}
    if isinstance(defaults.get("columns"), dict) and isinstance(item.get("columns"), dict):
        merged["columns"] = merge(defaults["columns"], item["columns"])
    return merged


def _headers(check: _Checker, where: str, value: t.Any) -> dict[str, Template]:
    if value is None:
        return {}
    value = check.obj(where, value)
    return {
        check.string(_join(where, str(k)), k): check.template(_join(where, k), v, (SETTINGS,))
        for k, v in value.items()
    }


def _auth(check: _Checker, where: str, value: t.Any) -> AuthSpec:
    if isinstance(value, str):
        check.choice(_join(where, "type"), value, AUTH_TYPES)
        check.fail(
            where, f"auth type '{value}' needs its values; write it as an object with 'type'"
        )
    value = check.obj(where, value)
    kind = value.get("type", "bearer")
    if kind in {"basic", "oauth2"}:
        better = "http_basic" if kind == "basic" else "oauth2_client_credentials"
        check.fail(_join(where, "type"), f"is {kind!r}, which dlt does not know; write {better!r}")
    kind = check.choice(_join(where, "type"), kind, AUTH_TYPES)
    keys, required, ext = _AUTH_KEYS[kind]
    check.keys(where, value, ("type", *keys), ext)
    if "session" in value:
        check.python_only(_join(where, "session"), "a requests Session")
    if kind == "oauth2_client_credentials" and "token_url" in value:
        check.fail(_join(where, "token_url"), "unknown key; dlt calls it 'access_token_url'")
    for key in required:
        if key not in value:
            check.fail(_join(where, key), f"is required for auth type '{kind}'")
    values = {
        key: check.template(_join(where, key), value[key], _AUTH_SETTINGS)
        for key in keys
        if key in value
        and key not in {"name", "location", "access_token_request_data", "default_token_expiration"}
    }
    spec = AuthSpec(type=kind, values=values, where=where)
    if kind == "api_key":
        location = check.choice(
            _join(where, "location"),
            value.get("location", "header"),
            ("header", "query", "param", "cookie"),
        )
        if location == "cookie":
            check.fail(
                _join(where, "location"),
                "'cookie' is not supported (dlt 1.31 does not send it either)",
            )
        name = check.string(_join(where, "name"), value.get("name", "Authorization"))
        spec = dataclasses.replace(
            spec, name=name, location="query" if location == "param" else location
        )
    if kind == "oauth2_client_credentials":
        data = value.get("access_token_request_data") or {}
        data = check.obj(_join(where, "access_token_request_data"), data)
        spec = dataclasses.replace(
            spec,
            client_auth=check.choice(
                _join(where, "x-client_auth"),
                value.get("x-client_auth", "body"),
                ("body", "header"),
            ),
            token_request_data={
                str(k): check.template(
                    _join(_join(where, "access_token_request_data"), str(k)), v, _AUTH_SETTINGS
                )
                for k, v in data.items()
            },
            default_token_expiration=check.number(
                _join(where, "default_token_expiration"),
                value.get("default_token_expiration", 3600),
            ),
        )
    return spec


@dataclasses.dataclass
class _Keys:
    """The keys of one object of a definition, read with their key paths."""

    check: _Checker
    where: str
    value: dict[str, t.Any]

    def at(self, key: str) -> str:
        return _join(self.where, key)

    def text(self, key: str, default: str | None = None) -> str | None:
        got = self.value.get(key, default)
        return None if got is None else self.check.string(self.at(key), got)

    def selector(self, key: str, default: str | None = None) -> Selector | None:
        got = self.value.get(key, default)
        # dlt reads an empty path as none (`compile_path(p) if p else None`)
        return None if got is None or got == "" else self.check.selector(self.at(key), got)

    def integer(self, key: str, minimum: int | None = None) -> int | None:
        got = self.value.get(key)
        return None if got is None else self.check.integer(self.at(key), got, minimum)

    def flag(self, key: str, *, default: bool) -> bool:
        got = self.value.get(key, default)
        return default if got is None else self.check.boolean(self.at(key), got)


def _paginator(check: _Checker, where: str, value: t.Any) -> PaginatorSpec | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"type": value}
    value = check.obj(where, value)
    kind = check.choice(_join(where, "type"), value.get("type", "auto"), PAGINATOR_TYPES)
    if "stop_condition" in value:
        check.fail(
            _join(where, "stop_condition"),
            "unknown key (an Airbyte key; dlt's paginators stop by themselves)",
        )
    keys, ext = _PAGINATOR_KEYS[kind]
    check.keys(where, value, ("type", *keys), ext)
    if kind == "auto":
        return None
    if kind == "json_response":
        kind = "json_link"
    spec = PaginatorSpec(type=kind, where=where)
    read = _Keys(check, where, value)
    if kind == "json_link":
        return dataclasses.replace(spec, next_url_path=read.selector("next_url_path", "next"))
    if kind == "header_link":
        return dataclasses.replace(
            spec, links_next_key=read.text("links_next_key", "next") or "next"
        )
    if kind == "header_cursor":
        return dataclasses.replace(
            spec,
            cursor_key=read.text("cursor_key", "next") or "next",
            cursor_param=read.text("cursor_param", "cursor") or "cursor",
        )
    if kind == "cursor":
        body_path = read.text("cursor_body_path")
        param = read.text("cursor_param")
        if body_path and param:
            check.fail(where, "give 'cursor_param' or 'cursor_body_path', not both")
        return dataclasses.replace(
            spec,
            cursor_path=read.selector("cursor_path", "cursors.next"),
            cursor_param=param or "cursor",
            cursor_body_path=body_path,
            stop_after_empty_page=read.flag("stop_after_empty_page", default=False),
            has_more_path=read.selector("has_more_path"),
        )
    if kind in {"offset", "page_number"}:
        return _range(read, spec)
    return spec


def _range(read: _Keys, spec: PaginatorSpec) -> PaginatorSpec:
    check, where, value = read.check, read.where, read.value
    offset = spec.type == "offset"
    if offset and "limit" not in value:
        check.fail(_join(where, "limit"), "is required for an offset paginator")
    limit = read.integer("limit" if offset else "x-limit", 1)
    limit_param = read.text(
        "limit_param" if offset else "x-limit_param", "limit" if offset else None
    )
    if not offset and (limit is None) != (limit_param is None):
        check.fail(
            where, "give 'x-limit' and 'x-limit_param' together (the page size and its parameter)"
        )
    maximum = read.integer("maximum_offset" if offset else "maximum_page")
    total_path = read.selector("total_path", "total")
    has_more = read.selector("has_more_path")
    stop_empty = read.flag("stop_after_empty_page", default=True)
    if total_path is None and maximum is None and has_more is None and not stop_empty:
        check.fail(
            where,
            "the paginator could never stop: give total_path, a maximum, has_more_path or "
            "stop_after_empty_page: true",
        )
    for param, body in (
        ("offset_param", "offset_body_path"),
        ("page_param", "page_body_path"),
        ("limit_param", "limit_body_path"),
    ):
        if param in value and body in value:
            check.fail(where, f"give '{param}' or '{body}', not both")
    short = read.flag("x-stop_after_short_page", default=False)
    if short and limit is None:
        check.fail(
            _join(where, "x-stop_after_short_page"),
            "needs a page size ('x-limit' on a page_number paginator)",
        )
    replaced = dataclasses.replace(
        spec,
        limit=limit,
        limit_param=limit_param,
        limit_body_path=read.text("limit_body_path"),
        total_path=total_path,
        maximum_value=maximum,
        stop_after_empty_page=stop_empty,
        has_more_path=has_more,
        stop_after_short_page=short,
        optional_total=read.flag("x-optional_total", default=False),
        next_url_path=read.selector("x-next_url_path"),
        maximum_limit=read.integer("x-maximum_limit", 1),
        keyset=read.flag("x-keyset", default=False),
    )
    if offset:
        return dataclasses.replace(
            replaced,
            offset=read.integer("offset", 0) or 0,
            offset_param=read.text("offset_param", "offset") or "offset",
            offset_body_path=read.text("offset_body_path"),
        )
    base = read.integer("base_page", 0) or 0
    first = read.integer("page", 0)
    return dataclasses.replace(
        replaced,
        base_page=base,
        page=base if first is None else first,
        page_param=read.text("page_param", "page") or "page",
        page_body_path=read.text("page_body_path"),
    )


def _incremental(check: _Checker, where: str, value: t.Any) -> IncrementalSpec:
    value = check.obj(where, value)
    check.keys(where, value, _INCREMENTAL_KEYS, ("x-format",))
    for key in ("convert", "transform"):
        if key in value:
            check.python_only(_join(where, key), f"'{key}'")
    if "cursor_path" not in value:
        check.fail(_join(where, "cursor_path"), "is required")
    cursor = check.string(_join(where, "cursor_path"), value["cursor_path"])
    compiled = check.selector(_join(where, "cursor_path"), cursor)
    if compiled.top_level_field is None:
        check.fail(
            _join(where, "cursor_path"),
            f"is {cursor!r}: the replication key of a Singer stream is a top-level field",
        )
    func = value.get("last_value_func", "max")
    if func != "max":
        if not isinstance(func, str):
            check.python_only(_join(where, "last_value_func"), "a function")
        check.fail(
            _join(where, "last_value_func"),
            f"is {func!r}: a Singer bookmark keeps the largest value ('max')",
        )

    def optional_text(key: str) -> str | None:
        got = value.get(key)
        if got is None:
            return None
        if isinstance(got, int | float) and not isinstance(got, bool):
            return str(got)
        return check.string(_join(where, key), got)

    def moment(key: str) -> str | None:
        text = optional_text(key)
        if text is not None:
            try:
                parse_datetime(text)
            except ValueError:
                check.fail(
                    _join(where, key),
                    f"is {text!r}: the replication key is a date-time, so this is an RFC 3339 "
                    "date-time such as 2024-01-01T00:00:00Z",
                )
        return text

    lag = value.get("lag")
    return IncrementalSpec(
        cursor_path=compiled.top_level_field,
        initial_value=moment("initial_value"),
        end_value=moment("end_value"),
        start_param=optional_text("start_param"),
        end_param=optional_text("end_param"),
        value_format=optional_text("x-format"),
        lag=None if lag is None else check.number(_join(where, "lag"), lag),
        on_cursor_value_missing=check.choice(
            _join(where, "on_cursor_value_missing"),
            value.get("on_cursor_value_missing", "raise"),
            ("raise", "include", "exclude"),
        ),
        range_start=check.choice(
            _join(where, "range_start"), value.get("range_start", "closed"), ("open", "closed")
        ),
        range_end=check.choice(
            _join(where, "range_end"), value.get("range_end", "closed"), ("open", "closed")
        ),
    )


def _response_actions(check: _Checker, where: str, value: t.Any) -> tuple[ResponseAction, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail(where, f"must be a list, got {_kind(value)}")
    actions = []
    for number, item in enumerate(value):
        at = _join(where, number)
        entry = check.obj(at, item)
        check.keys(at, entry, ("status_code", "content", "action"))
        action = entry.get("action")
        if not isinstance(action, str):
            check.python_only(_join(at, "action"), "a function as an action")
        check.choice(_join(at, "action"), action, ("ignore",))
        status = entry.get("status_code")
        content = entry.get("content")
        if status is None and content is None:
            check.fail(at, "give status_code, content or both: which responses to ignore")
        actions.append(
            ResponseAction(
                None if status is None else check.integer(_join(at, "status_code"), status, 100),
                None if content is None else check.string(_join(at, "content"), content),
                action,
            )
        )
    return tuple(actions)


_PATH_CONTEXTS = (RESOURCES, INCREMENTAL)
_PARAM_CONTEXTS = (SETTINGS, RESOURCES, INCREMENTAL)


def _resource(
    check: _Checker,
    where: str,
    item: dict[str, t.Any],
    *,
    client_paginator: t.Any,
    base_dir: Path | None,
    builtin_name: str | None,
) -> Resource:
    check.keys(where, item, _RESOURCE_KEYS, ("x-schema", "x-include_from_parent"))
    if "processing_steps" in item:
        check.python_only(_join(where, "processing_steps"), "'processing_steps'")
    name = check.string(_join(where, "name"), item["name"])
    stream = check.string(_join(where, "table_name"), item.get("table_name", name))
    endpoint_where = _join(where, "endpoint")
    endpoint = item["endpoint"]
    check.keys(endpoint_where, endpoint, _ENDPOINT_KEYS, ("x-fallback_selectors",))
    incremental = None
    if endpoint.get("incremental") is not None:
        incremental = _incremental(
            check, _join(endpoint_where, "incremental"), endpoint["incremental"]
        )
    endpoint = _bind_path_params(check, endpoint_where, endpoint)
    params, param_incremental = _params(
        check, _join(endpoint_where, "params"), endpoint.get("params")
    )
    if param_incremental is not None:
        if incremental is not None:
            check.fail(
                _join(endpoint_where, "params"),
                "an incremental param and endpoint.incremental: give one",
            )
        incremental = param_incremental
    contexts = _PATH_CONTEXTS if incremental else (RESOURCES,)
    path = check.template(_join(endpoint_where, "path"), endpoint["path"], contexts)
    param_contexts = _PARAM_CONTEXTS if incremental else (SETTINGS, RESOURCES)
    for key, param in params.items():
        if isinstance(param, Template):
            for field in param.fields:
                if field.context not in param_contexts:
                    check.fail(
                        _join(_join(endpoint_where, "params"), key),
                        f"placeholder {field} needs endpoint.incremental",
                    )
    method = check.choice(
        _join(endpoint_where, "method"), str(endpoint.get("method", "GET")).upper(), ("GET", "POST")
    )
    body_json = _body(check, _join(endpoint_where, "json"), endpoint.get("json"), contexts)
    body_data = _body(check, _join(endpoint_where, "data"), endpoint.get("data"), contexts)
    paginator_value = endpoint.get("paginator", client_paginator)
    selector_value = endpoint.get("data_selector")
    if _single_entity(path) and "paginator" not in endpoint and client_paginator is None:
        paginator_value = "single_page"
    if _single_entity(path) and selector_value is None:
        selector_value = "$"
    paginator_where = (
        _join(endpoint_where, "paginator") if "paginator" in endpoint else "client.paginator"
    )
    paginator = _paginator(check, paginator_where, paginator_value)
    if paginator is not None:
        paginator = dataclasses.replace(paginator, where=paginator_where)
    if (
        paginator is not None
        and paginator.keyset
        and incremental is None
        and not isinstance(check, _DefaultsChecker)  # each resource says its incremental
    ):
        check.fail(
            _join(paginator_where, "x-keyset"), "needs endpoint.incremental (the key to page by)"
        )
    fallbacks = endpoint.get("x-fallback_selectors") or []
    if not isinstance(fallbacks, list):
        check.fail(
            _join(endpoint_where, "x-fallback_selectors"), f"must be a list, got {_kind(fallbacks)}"
        )
    primary = item.get("primary_key", ())
    if isinstance(primary, str):
        primary = (primary,)
    if not isinstance(primary, list | tuple) or not all(isinstance(k, str) for k in primary):
        check.fail(_join(where, "primary_key"), "must be a field name or a list of field names")
    disposition = item.get("write_disposition", "append")
    if isinstance(disposition, dict):
        disposition = disposition.get("disposition", "append")
    disposition = check.choice(_join(where, "write_disposition"), disposition, WRITE_DISPOSITIONS)
    selected = item.get("selected", True)
    selected = check.boolean(_join(where, "selected"), selected) and disposition != "skip"
    parent = _parent(check, where, item, path=path, params=params, body=body_json)
    return Resource(
        name=stream,
        where=where,
        path=path,
        method=method,
        params=params,
        json=body_json,
        data=body_data,
        headers=_headers(check, _join(endpoint_where, "headers"), endpoint.get("headers")),
        auth=_auth(check, _join(endpoint_where, "auth"), endpoint["auth"])
        if endpoint.get("auth")
        else None,
        paginator=paginator,
        selector=None
        if selector_value is None
        else check.selector(_join(endpoint_where, "data_selector"), selector_value),
        fallback_selectors=tuple(
            check.selector(_join(_join(endpoint_where, "x-fallback_selectors"), n), s)
            for n, s in enumerate(fallbacks)
        ),
        response_actions=_response_actions(
            check, _join(endpoint_where, "response_actions"), endpoint.get("response_actions")
        ),
        incremental=incremental,
        primary_key=tuple(primary),
        write_disposition=disposition,
        selected=selected,
        schema=_schema_source(check, where, item, base_dir=base_dir, builtin_name=builtin_name),
        columns=_columns(check, _join(where, "columns"), item.get("columns")),
        parent=parent,
    )


def _bind_path_params(check: _Checker, where: str, endpoint: dict[str, t.Any]) -> dict[str, t.Any]:
    """Dlt's binding of ``{name}`` in a path to ``params.name``: a ``resolve`` param stays a
    placeholder of its parent's field, any other value is written into the path and leaves
    the params.
    """
    path = endpoint.get("path")
    if not isinstance(path, str):
        return endpoint
    params = dict(endpoint.get("params") or {})
    try:
        pieces = list(string.Formatter().parse(path))
    except ValueError:
        return endpoint  # the template check says what is wrong
    out: list[str] = []
    for literal, name, _, _ in pieces:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if "." in name:
            out.append(f"{{{name}}}")
            continue
        if name not in params:
            check.fail(
                _join(where, "path"),
                f"{{{name}}} needs a param '{name}' in endpoint.params (a value, or "
                "{type: resolve, resource, field}); a parent's field is "
                "{resources.<parent>.<field>}",
            )
        value = params[name]
        if isinstance(value, dict) and value.get("type") == "resolve":
            out.append(f"{{resources.{value.get('resource')}.{value.get('field')}}}")
        elif isinstance(value, dict):
            check.fail(_join(_join(where, "params"), name), "only a resolve param can fill a path")
        else:
            out.append(str(value).replace("{", "{{").replace("}", "}}"))
        del params[name]
    return {**endpoint, "path": "".join(out), "params": params}


def _single_entity(path: Template) -> bool:
    """Dlt's guess that a path whose last segment holds a placeholder returns one object."""
    return re.search(r"\{([a-zA-Z0-9\.\-_]+)\}", PurePosixPath(path.source).name) is not None


def _params(
    check: _Checker, where: str, value: t.Any
) -> tuple[dict[str, Template | t.Any], IncrementalSpec | None]:
    if value is None:
        return {}, None
    value = check.obj(where, value)
    params: dict[str, Template | t.Any] = {}
    incremental = None
    for key, param in value.items():
        at = _join(where, str(key))
        if isinstance(param, dict) and param.get("type") == "resolve":
            check.keys(at, param, ("type", "resource", "field"))
            resource = check.string(_join(at, "resource"), param.get("resource"))
            field = check.string(_join(at, "field"), param.get("field"))
            params[key] = template.parse(f"{{resources.{resource}.{field}}}", (RESOURCES,))
        elif isinstance(param, dict) and param.get("type") == "incremental":
            if incremental is not None:
                check.fail(at, "only one incremental param per endpoint (dlt)")
            for forbidden in ("end_value", "end_param"):
                if forbidden in param:
                    check.fail(
                        _join(at, forbidden),
                        "only start_param and initial_value belong here; use endpoint.incremental",
                    )
            spec = _incremental(check, at, {k: v for k, v in param.items() if k != "type"})
            incremental = dataclasses.replace(spec, start_param=str(key))
        elif isinstance(param, str):
            params[key] = check.template(at, param, _PARAM_CONTEXTS)
        elif isinstance(param, dict | list):
            check.fail(at, "a param is a value, or an object of type 'resolve' or 'incremental'")
        else:
            params[key] = param
    return params, incremental


def _body(check: _Checker, where: str, value: t.Any, contexts: t.Collection[str]) -> t.Any:
    """A request body (``json`` or ``data``) with its strings read as templates."""
    if isinstance(value, str):
        return check.template(where, value, contexts)
    if isinstance(value, dict):
        return {k: _body(check, _join(where, str(k)), v, contexts) for k, v in value.items()}
    if isinstance(value, list):
        return [_body(check, _join(where, n), v, contexts) for n, v in enumerate(value)]
    return value


def _walk_templates(value: t.Any) -> t.Iterator[Template]:
    if isinstance(value, Template):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_templates(item)


def _parent(
    check: _Checker,
    where: str,
    item: dict[str, t.Any],
    *,
    path: Template,
    params: dict[str, t.Any],
    body: t.Any,
) -> Parent | None:
    endpoint = _join(where, "endpoint")
    located = [
        (f, at)
        for at, value in (
            (_join(endpoint, "path"), path),
            *((_join(_join(endpoint, "params"), str(k)), v) for k, v in params.items()),
            (_join(endpoint, "json"), body),
        )
        for tpl in _walk_templates(value)
        for f in tpl.fields
        if f.context == RESOURCES
    ]
    fields = [f for f, _ in located]
    parents = {f.name.split(".", 1)[0] for f in fields}
    include_list = item.get("include_from_parent") or []
    include_map = item.get("x-include_from_parent") or {}
    if not parents:
        if include_list or include_map:
            check.fail(
                _join(where, "include_from_parent"),
                "only a child resource (with {resources.…} in its path) has a parent",
            )
        return None
    if len(parents) > 1:
        check.fail(
            located[0][1],
            f"names several parents ({', '.join(sorted(parents))}); dlt allows one",
        )
    parent = parents.pop()
    if not isinstance(include_list, list) or not all(isinstance(f, str) for f in include_list):
        check.fail(_join(where, "include_from_parent"), "must be a list of parent field names")
    include_map = check.obj(_join(where, "x-include_from_parent"), include_map)
    include = [(f, f"_{parent}_{f}") for f in include_list]
    include += [
        (
            check.string(_join(where, "x-include_from_parent"), f),
            check.string(_join(_join(where, "x-include_from_parent"), f), c),
        )
        for f, c in include_map.items()
    ]
    return Parent(
        resource=parent,
        where=located[0][1],
        fields=tuple(dict.fromkeys(f.name.split(".", 1)[1] for f in fields)),
        include=tuple(include),
    )


def _schema_source(
    check: _Checker,
    where: str,
    item: dict[str, t.Any],
    *,
    base_dir: Path | None,
    builtin_name: str | None,
) -> Path | str | None:
    value = item.get("x-schema")
    if value is None:
        if builtin_name is not None and "columns" not in item:
            packaged = schemas_dir() / builtin_name / f"{item['name']}.json"
            if packaged.is_file():
                return packaged
        return None
    value = check.string(_join(where, "x-schema"), value)
    if value == "infer":
        return value
    path = Path(value)
    if not path.is_absolute():
        if base_dir is None:
            check.fail(
                _join(where, "x-schema"),
                "a relative schema path needs a definition file; in the setting, give an absolute path",
            )
        path = base_dir / path
    if not path.is_file():
        check.fail(_join(where, "x-schema"), f"the schema file '{path}' does not exist")
    return path


def _columns(check: _Checker, where: str, value: t.Any) -> dict[str, dict[str, t.Any]]:
    if value is None:
        return {}
    if isinstance(value, list):
        entries = {}
        for number, listed in enumerate(value):
            column = check.obj(_join(where, number), listed)
            entries[check.string(_join(_join(where, number), "name"), column.get("name"))] = column
        value = entries
    value = check.obj(where, value)
    schema: dict[str, dict[str, t.Any]] = {}
    for name, given in value.items():
        at = _join(where, str(name))
        hint = check.obj(at, given)
        kind = hint.get("data_type")
        if kind is None:
            continue  # a hint about something else (nullable, primary_key…): inference types it
        kind = check.choice(_join(at, "data_type"), kind, tuple(COLUMN_TYPES))
        prop = copy.deepcopy(COLUMN_TYPES[kind])
        if hint.get("nullable", True) is not False:
            prop["type"].append("null")
        schema[str(name)] = prop
    return schema


def load_schema_file(path: Path, source: str, where: str) -> dict[str, t.Any]:
    """The JSON Schema a resource names (``x-schema``), as an object with properties.

    Raises:
        DefinitionError: not JSON, or not an object schema.
    """
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DefinitionError(
            source, where, f"the schema file '{path}' is not JSON ({exc})"
        ) from None
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise DefinitionError(
            source, where, f"the schema file '{path}' is not an object schema with 'properties'"
        )
    return schema
