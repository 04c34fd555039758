"""Id schemes: an id is a pure function of (stream salt, record index).

Computing an id without generating the record lets other streams reference it (an order's
``customer_id``, a package's product ids) and lets the server map an id in a URL back to an
index without an index table. Every scheme is injective in the index, so ids never collide,
including for records added later by mutations (they simply take the next indices).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from .rand import mix64


class IdScheme(Protocol):
    def make(self, salt: int, index: int) -> Any: ...

    def find(self, salt: int, key: Any) -> int | None:
        """The index whose id is ``key``, or ``None`` (only needed for URL lookups)."""


class IntIds:
    """Increasing integers with small random gaps: ``base + 3*i + (0..2)``."""

    def __init__(self, base: int) -> None:
        self.base = base

    def make(self, salt: int, index: int) -> int:
        return self.base + 3 * index + mix64(salt ^ index) % 3

    def find(self, salt: int, key: Any) -> int | None:
        if not isinstance(key, int) or key < self.base:
            return None
        index = (key - self.base) // 3
        return index if self.make(salt, index) == key else None


class SequentialIds:
    """``start, start+1, ...`` — reference data such as countries."""

    def __init__(self, start: int = 1) -> None:
        self.start = start

    def make(self, salt: int, index: int) -> int:
        return self.start + index

    def find(self, salt: int, key: Any) -> int | None:
        return key - self.start if isinstance(key, int) and key >= self.start else None


class HexIds:
    """24 hex digits, like document-store object ids (storefront). The first 16 digits are a
    bijective hash of the index, so they alone are unique."""

    def make(self, salt: int, index: int) -> str:
        return "%016x%08x" % (mix64(salt + index), mix64(salt ^ (index << 1)) & 0xFFFFFFFF)

    def find(self, salt: int, key: Any) -> int | None:
        return None


class UuidIds:
    """Version-4 shaped UUID strings (shop shipping zones are keyed by ``uuid``)."""

    def make(self, salt: int, index: int) -> str:
        high = mix64(salt + index)
        low = mix64(high ^ salt)
        return str(uuid.UUID(int=(high << 64) | low, version=4))

    def find(self, salt: int, key: Any) -> int | None:
        return None


class OrderNumberIds:
    """``12-34567-89012``: twelve digits from a four-round Feistel permutation of
    ``0 .. 10**12-1`` (two halves of six digits), so distinct indices give distinct ids that
    look unrelated to each other."""

    _HALF = 10**6

    def make(self, salt: int, index: int) -> str:
        left, right = divmod((index + salt) % (self._HALF * self._HALF), self._HALF)
        for round_no in range(4):
            left, right = right, (left + mix64(salt ^ (right << 3) ^ round_no)) % self._HALF
        n = "%06d%06d" % (left, right)
        return f"{n[:2]}-{n[2:7]}-{n[7:]}"

    def find(self, salt: int, key: Any) -> int | None:
        return None
