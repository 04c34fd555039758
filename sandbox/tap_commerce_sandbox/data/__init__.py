"""Deterministic data for the five APIs: same seed, scale, sizes and anchor — same records.

Mutations are deterministic too, given how many came before; only the "now" they stamp on
records depends on the clock.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from . import digital, orders, payments, shop, storefront
from .rand import Rng, mix64, salt_for
from .tables import ChildTable, Refs, StreamSpec, Table

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CATALOG: dict[str, tuple[StreamSpec, ...]] = {
    "storefront": storefront.STREAMS,
    "payments": payments.STREAMS,
    "shop": shop.STREAMS,
    "digital": digital.STREAMS,
    "orders": orders.STREAMS,
}
APIS = tuple(CATALOG)

__all__ = ["APIS", "CATALOG", "ChildTable", "Dataset", "StreamSpec", "Table"]


def stream_names(api: str) -> tuple[str, ...]:
    """The streams of ``api``, in the contract's order."""
    return tuple(spec.name for spec in CATALOG[api])


class Dataset:
    """All tables of all five APIs, built lazily from ``seed``, ``scale`` and ``sizes``."""

    def __init__(
        self,
        seed: int,
        scale: float,
        anchor_ms: int,
        sizes: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """The tables at ``scale`` (``sizes``: record counts of single streams, by
        ``api.stream``), generated up to ``anchor_ms``; ``clock`` is the present of mutations.
        """
        sizes = dict(sizes or {})
        self._check_sizes(sizes)
        self.seed = seed
        self.anchor_ms = anchor_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._mutations = 0
        self._last_now = 0
        self.tables: dict[str, dict[str, Table | ChildTable]] = {}
        for api, specs in CATALOG.items():
            refs = Refs()
            tables: dict[str, Table | ChildTable] = {}
            for spec in specs:
                if spec.parent is None:
                    size = sizes.get(f"{api}.{spec.name}")
                    if size is None:
                        size = (
                            spec.fixed_size
                            if spec.fixed_size is not None
                            else round(spec.size * scale)
                        )
                    table = Table(spec, int(size), salt_for(seed, api, spec.name), anchor_ms, refs)
                    refs.tables[spec.name] = table
                    tables[spec.name] = table
            for spec in specs:  # children after their parents exist
                if spec.parent is not None:
                    parent = tables[spec.parent]
                    if not isinstance(parent, Table):
                        msg = f"{api}.{spec.name}: its parent {spec.parent!r} is a child stream"
                        raise TypeError(msg)
                    tables[spec.name] = ChildTable(
                        spec, parent, salt_for(seed, api, spec.name), anchor_ms
                    )
            self.tables[api] = tables

    @staticmethod
    def _check_sizes(sizes: Mapping[str, int]) -> None:
        valid = {f"{spec.api}.{spec.name}": spec for specs in CATALOG.values() for spec in specs}
        for key, value in sizes.items():
            spec = valid.get(key)
            if spec is None or spec.parent is not None:
                sizable = sorted(k for k, s in valid.items() if s.parent is None)
                msg = f"sizes: unknown stream {key!r}; sizable streams: {', '.join(sizable)}"
                raise ValueError(msg)
            if not isinstance(value, int) or value < 0:
                msg = f"sizes[{key!r}] must be a non-negative integer, not {value!r}"
                raise ValueError(msg)
            if spec.fixed_size is not None and value > spec.fixed_size:
                msg = f"sizes[{key!r}]: at most {spec.fixed_size} (a fixed reference list)"
                raise ValueError(msg)

    def table(self, api: str, stream: str) -> Table | ChildTable:
        """The table of ``api.stream`` (ValueError naming what exists if there is none)."""
        try:
            return self.tables[api][stream]
        except KeyError:
            if api not in self.tables:
                msg = f"unknown api {api!r}; one of {', '.join(APIS)}"
                raise ValueError(msg) from None
            msg = f"unknown {api} stream {stream!r}; one of {', '.join(self.tables[api])}"
            raise ValueError(msg) from None

    def now_ms(self) -> int:
        """The sandbox's present: the clock, but never before the anchor (data generated up
        to the anchor must not lie in the future).
        """
        return max(int(self._clock() * 1000), self.anchor_ms)

    def mutate(
        self,
        api: str | None = None,
        streams: list[str] | tuple[str, ...] | None = None,
        added: int = 5,
        updated: int = 5,
        deleted: int = 0,
    ) -> dict[str, Any]:
        """Add, update and delete records in every mutable stream of ``api`` (all APIs if
        ``None``), or only in ``streams``. Returns what changed, by ``api.stream``.
        """
        apis = [api] if api else list(APIS)
        for name in apis:
            if name not in self.tables:
                msg = f"unknown api {name!r}; one of {', '.join(APIS)}"
                raise ValueError(msg)
        for stream in streams or ():
            if not any(stream in self.tables[name] for name in apis):
                msg = f"unknown stream {stream!r} for {', '.join(apis)}"
                raise ValueError(msg)
        with self._lock:
            self._mutations += 1
            number = self._mutations
            # Strictly increasing across mutations, so two quick ones stay ordered.
            now = max(self.now_ms(), self._last_now + 1)
            self._last_now = now
            changed = {}
            for name in apis:
                for stream, table in self.tables[name].items():
                    if (streams and stream not in streams) or not table.spec.mutable:
                        continue
                    rng = Rng(mix64(table.salt ^ (number << 32) ^ 0x4D55))
                    changed[f"{name}.{stream}"] = table.mutate(rng, now, added, updated, deleted)
        return {"mutation": number, "now_ms": now, "streams": changed}
