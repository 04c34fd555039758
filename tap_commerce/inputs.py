"""The other inputs of a run, read before any request: the ``--state`` and ``--catalog``
files. A file that is missing, not JSON or not the right shape stops the tap with one line
naming it (`InputError`), where singer-sdk would give a traceback or take a list for a path.
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

from singer_sdk.helpers._util import load_json

from tap_commerce.errors import InputError


def describe_file(kind: str, path: str) -> str:
    """How a message names an input file (``-``: standard input)."""
    return f"{kind} file '{path}'" if path != "-" else f"{kind} on standard input"


def _json_kind(value: object) -> str:
    """What a JSON value is, for a message: ``an array``, ``a number``, ``null``..."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"


def _read_json_file(kind: str, path: str, shape: str) -> object:
    """The JSON value of a state or catalog file (``-``: standard input).

    Raises:
        InputError: the file is missing, unreadable, empty or not JSON.
    """
    name = describe_file(kind, path)
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{name} does not exist"
        raise InputError(msg) from None
    except IsADirectoryError:
        msg = f"{name} is a directory, not a JSON file"
        raise InputError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"{name} is not JSON (not UTF-8 text: {exc.reason} at byte {exc.start})"
        raise InputError(msg) from None
    except OSError as exc:
        msg = f"{name} cannot be read ({exc.strerror or exc})"
        raise InputError(msg) from None
    if not text.strip():
        msg = f"{name} is empty; {shape}"
        raise InputError(msg)
    try:
        return load_json(text)
    except ValueError as exc:
        msg = f"{name} is not JSON ({' '.join(str(exc).split())}); {shape}"
        raise InputError(msg) from None


def _read_json_object(kind: str, path: str, shape: str) -> dict[str, t.Any]:
    """The JSON object of a state or catalog file (see `_read_json_file`).

    Raises:
        InputError: as `_read_json_file`, or the file holds something else than an object.
    """
    value = _read_json_file(kind, path, shape)
    if not isinstance(value, dict):
        msg = f"{describe_file(kind, path)} holds {_json_kind(value)}; {shape}"
        raise InputError(msg)
    return value


_STATE_SHAPE = 'a Singer state is an object such as {"bookmarks": {}}'
_CATALOG_SHAPE = "a Singer catalog is an object with a 'streams' list, as --discover writes"


def read_state_file(path: str) -> dict[str, t.Any]:
    """The state of ``--state``: a JSON object whose ``bookmarks`` (if any) map streams
    to objects, as singer-sdk's `Tap.load_state` reads it.

    Raises:
        InputError: naming the file and what is wrong with it.
    """
    state = _read_json_object("state", path, _STATE_SHAPE)
    name = describe_file("state", path)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        msg = (
            f"{name} is not a Singer state: its 'bookmarks' is {_json_kind(bookmarks)}, "
            "not an object with one entry per stream"
        )
        raise InputError(msg)
    for stream, value in bookmarks.items():
        if not isinstance(value, dict):
            msg = (
                f"{name} is not a Singer state: the bookmark of stream '{stream}' is "
                f"{_json_kind(value)}, not an object"
            )
            raise InputError(msg)
    return state


def read_catalog_file(path: str) -> dict[str, t.Any]:
    """The catalog of ``--catalog``: a JSON object whose ``streams`` list holds objects
    with a ``tap_stream_id`` each, as singer-sdk's `Catalog.from_dict` reads it.

    Raises:
        InputError: naming the file and what is wrong with it.
    """
    catalog = _read_json_object("catalog", path, _CATALOG_SHAPE)
    name = describe_file("catalog", path)
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        found = "has no 'streams'" if streams is None else f"has {_json_kind(streams)} as 'streams'"
        msg = f"{name} {found}; {_CATALOG_SHAPE}"
        raise InputError(msg)
    for number, entry in enumerate(streams, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id"), str):
            what = f"is {_json_kind(entry)}"
            if isinstance(entry, dict):
                what = "has no 'tap_stream_id'"
            msg = f"{name} is not a Singer catalog: its stream entry {number} {what}"
            raise InputError(msg)
    return catalog
