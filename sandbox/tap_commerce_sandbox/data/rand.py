"""Deterministic randomness for the generators.

Two kinds are used on purpose:

* :func:`mix64` is a stateless hash (SplitMix64's finaliser, a bijection on 64-bit
  integers). Anything that must be computable for one index without generating its
  neighbours (ids, creation times, child counts) derives from it.
* :class:`Rng` is a seeded :class:`random.Random` with a few fast helpers. Record bodies are
  generated with one ``Rng`` per block of records, because seeding costs far more than
  drawing numbers.
"""

from __future__ import annotations

import random
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def mix64(x: int) -> int:
    """Hash an integer to 64 well-mixed bits (bijective on ``0 .. 2**64-1``)."""
    x = (x + _GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def unit(h: int) -> float:
    """Map 64 hash bits to a float in ``[0, 1)``."""
    return (h >> 11) * (1.0 / (1 << 53))


def salt_for(seed: int, *names: object) -> int:
    """A per-(seed, names) salt; crc32 rather than ``hash()`` so it is stable across runs."""
    text = "\x1f".join(str(n) for n in names).encode()
    return mix64((seed * 0x1000193) ^ (zlib.crc32(text) << 20))


class Rng(random.Random):
    """``random.Random`` plus the handful of draws the generators need, kept cheap."""

    def pick(self, seq: Sequence[T]) -> T:
        """An item of ``seq``, uniformly."""
        return seq[int(self.random() * len(seq))]

    def between(self, lo: int, hi: int) -> int:
        """Integer in ``[lo, hi]`` (both inclusive)."""
        return lo + int(self.random() * (hi - lo + 1))

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def maybe(self, value: T, p: float = 0.1) -> T | None:
        """``value``, or ``None`` with probability ``p`` (nullable fields)."""
        return None if self.random() < p else value

    def digits(self, n: int) -> str:
        """``n`` random decimal digits."""
        return "%0*d" % (n, int(self.random() * 10**n))  # noqa: UP031 - the fastest spelling, per record

    def hex(self, n: int) -> str:
        """``n`` random hex digits (lower case)."""
        return "%0*x" % (n, self.getrandbits(4 * n))  # noqa: UP031 - the fastest spelling, per record

    def money(self, lo: float, hi: float, places: int = 2) -> Decimal:
        """A decimal amount in ``[lo, hi)`` with exactly ``places`` decimal places."""
        units = int((lo + self.random() * (hi - lo)) * 10**places)
        return Decimal(units).scaleb(-places)

    def words(self, vocabulary: Sequence[str], lo: int, hi: int) -> str:
        """``lo`` to ``hi`` words of ``vocabulary``, space-separated."""
        return " ".join(self.pick(vocabulary) for _ in range(self.between(lo, hi)))

    def array(
        self, build: Callable[[], list[T]], p_empty: float = 0.1, p_null: float = 0.05
    ) -> list[T] | None:
        """An optional array: ``None``, ``[]`` or ``build()``, so both shapes occur."""
        x = self.random()
        if x < p_null:
            return None
        if x < p_null + p_empty:
            return []
        return build()
