"""Id schemes: an id is a pure function of (stream salt, record index).

Computing an id without generating the record lets other streams reference it (an order's
``customer_id``, a package's product ids) and lets the server map an id in a URL back to an
index without an index table. Every scheme is injective in the index, so ids never collide,
including for records added later by mutations (they simply take the next indices).
"""

from __future__ import annotations

import sys
import uuid
from typing import Any, Protocol

from .rand import mix64

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class IdScheme(Protocol):
    """How a stream's ids are made from record indices (and found again)."""

    def make(self, salt: int, index: int) -> Any:
        """The id of record ``index`` of the stream salted ``salt``."""

    def find(self, salt: int, key: Any) -> int | None:
        """The index whose id is ``key``, or ``None`` (only needed for URL lookups)."""


class IntIds(IdScheme):
    """Increasing integers with small random gaps: ``base + 3*i + (0..2)``."""

    def __init__(self, base: int) -> None:
        """Ids from ``base`` on."""
        self.base = base

    @override
    def make(self, salt: int, index: int) -> int:
        return self.base + 3 * index + mix64(salt ^ index) % 3

    @override
    def find(self, salt: int, key: Any) -> int | None:
        if not isinstance(key, int) or key < self.base:
            return None
        index = (key - self.base) // 3
        return index if self.make(salt, index) == key else None


class SequentialIds(IdScheme):
    """``start, start+1, ...`` — reference data such as countries."""

    def __init__(self, start: int = 1) -> None:
        """Ids from ``start`` on."""
        self.start = start

    @override
    def make(self, salt: int, index: int) -> int:
        return self.start + index

    @override
    def find(self, salt: int, key: Any) -> int | None:
        return key - self.start if isinstance(key, int) and key >= self.start else None


class HexIds(IdScheme):
    """24 hex digits, like document-store object ids (storefront). The first 16 digits are a
    bijective hash of the index, so they alone are unique.
    """

    @override
    def make(self, salt: int, index: int) -> str:
        return "%016x%08x" % (mix64(salt + index), mix64(salt ^ (index << 1)) & 0xFFFFFFFF)  # noqa: UP031 - the fastest spelling, per record

    @override
    def find(self, salt: int, key: Any) -> int | None:
        return None


class UuidIds(IdScheme):
    """Version-4 shaped UUID strings (shop shipping zones are keyed by ``uuid``)."""

    @override
    def make(self, salt: int, index: int) -> str:
        high = mix64(salt + index)
        low = mix64(high ^ salt)
        return str(uuid.UUID(int=(high << 64) | low, version=4))

    @override
    def find(self, salt: int, key: Any) -> int | None:
        return None


class OrderNumberIds(IdScheme):
    """``12-34567-89012``: twelve digits from a four-round Feistel permutation of
    ``0 .. 10**12-1`` (two halves of six digits), so distinct indices give distinct ids that
    look unrelated to each other.
    """

    _HALF = 10**6

    @override
    def make(self, salt: int, index: int) -> str:
        left, right = divmod((index + salt) % (self._HALF * self._HALF), self._HALF)
        for round_no in range(4):
            left, right = right, (left + mix64(salt ^ (right << 3) ^ round_no)) % self._HALF
        n = "%06d%06d" % (left, right)  # noqa: UP031 - the fastest spelling, per record
        return f"{n[:2]}-{n[2:7]}-{n[7:]}"

    @override
    def find(self, salt: int, key: Any) -> int | None:
        return None
