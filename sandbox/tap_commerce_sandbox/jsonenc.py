"""The one JSON encoder of the sandbox: ``Decimal`` values are written verbatim as number
literals (``0.1000`` stays ``0.1000``), text is UTF-8 as real APIs send it.
"""

from __future__ import annotations

from typing import Any

import simplejson

_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False)

#: Embeds already-encoded JSON text in a structure being encoded (cached record fragments).
RawJSON = simplejson.RawJSON


def dumps(value: Any) -> str:
    """``value`` as JSON text."""
    text: str = _ENCODER.encode(value)
    return text


def dump_bytes(value: Any) -> bytes:
    """``value`` as UTF-8 JSON."""
    text: str = _ENCODER.encode(value)
    return text.encode("utf-8")


_MARK = "\x1e"  # a control character: inside encoded strings it is always escaped
_MARKER = simplejson.RawJSON(_MARK)


def dumps_each(values: list[Any]) -> list[str]:
    """``[dumps(v) for v in values]`` in one encoder call, about twice as fast.

    The values are encoded as one array with a raw marker before each; since JSON escapes
    every control character inside strings, the marker occurs only where it was put, and
    splitting on it gives each value's text (with its separating commas stripped).
    """
    text = _ENCODER.encode([x for v in values for x in (_MARKER, v)])
    return [part.strip(",") for part in text[1:-1].split(_MARK)[1:]]


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping decimals exact (used for admin request bodies)."""
    return simplejson.loads(text, use_decimal=True)
