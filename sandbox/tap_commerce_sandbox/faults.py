"""Injected faults: deterministic misbehaviour for retry and resilience drills.

Faults fire on API requests only (never on ``/_admin/``), either

* queued: ``fail_next(n, kind)`` — the next ``n`` matching requests fail, or
* planned: ``set(FaultPlan(rate=..., kinds=..., seed=..., schedule=...))`` — the k-th
  matching request (counting from 1 after the plan is set) fails with ``schedule[k]`` if
  given, else with probability ``rate`` and a kind drawn from ``kinds``. Both draws are a
  hash of (seed, k), so the same seed and the same request sequence give the same faults.

Kinds:

``429``               429 in the API's error form, with ``Retry-After`` (1 s × time_scale)
``429-no-retry-after`` 429 without ``Retry-After``
``500``               500 in the API's error form
``502`` ``503`` ``504`` a gateway error as an HTML page (not JSON)
``truncated``         200 whose JSON body is cut in half (Content-Length matches the cut)
``invalid-json``      200 with a JSON content type and a body that is not JSON
``drop``              the connection is closed without any response
``slow``              the response is sent only after ``slow_seconds`` (beyond a client timeout)
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .data.rand import mix64, unit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

KINDS = (
    "429",
    "429-no-retry-after",
    "500",
    "502",
    "503",
    "504",
    "truncated",
    "invalid-json",
    "drop",
    "slow",
)
#: Default delay of a ``slow`` fault: past the tap's default request_timeout of 60 s.
SLOW_SECONDS = 65.0


def _kind(kind: object) -> str:
    name = str(kind)
    if name not in KINDS:
        msg = f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}"
        raise ValueError(msg)
    return name


@dataclass(frozen=True)
class Fault:
    """One fault to inject: its kind, and how long a ``slow`` one stalls."""

    kind: str
    slow_seconds: float = SLOW_SECONDS


@dataclass(frozen=True)
class Target:
    """Which requests a fault may hit: APIs (all if ``None``) and a regular expression
    searched in the request path (e.g. ``"oauth/token"``).
    """

    apis: frozenset[str] | None = None
    path: str | None = None

    def matches(self, api: str, path: str) -> bool:
        """Whether a request of ``api`` to ``path`` is a target."""
        return (self.apis is None or api in self.apis) and (
            self.path is None or re.search(self.path, path) is not None
        )

    @classmethod
    def of(cls, apis: Iterable[str] | str | None, path: str | None) -> Target:
        """The target of ``apis`` (one, several or all) and ``path`` (checked to compile)."""
        if isinstance(apis, str):
            apis = [apis]
        if path is not None:
            re.compile(path)  # fail early on a bad pattern
        return cls(frozenset(apis) if apis is not None else None, path)


@dataclass(frozen=True)
class FaultPlan:
    """Faults at random (``rate``: the share of requests, of ``kinds``) and on a
    ``schedule`` ({request number: kind}), for the requests of ``target``.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500",)
    seed: int = 0
    target: Target = field(default_factory=Target)
    schedule: Mapping[int, str] = field(default_factory=dict)
    slow_seconds: float = SLOW_SECONDS

    def __post_init__(self) -> None:
        """Check the plan; kinds are normalised."""
        if not 0 <= self.rate <= 1:
            msg = "fault rate must be between 0 and 1"
            raise ValueError(msg)
        if not self.kinds:
            msg = "fault kinds must not be empty"
            raise ValueError(msg)
        object.__setattr__(self, "kinds", tuple(_kind(k) for k in self.kinds))
        object.__setattr__(self, "schedule", {int(k): _kind(v) for k, v in self.schedule.items()})


@dataclass
class _Queued:
    fault: Fault
    remaining: int
    target: Target


class FaultInjector:
    """Thread-safe holder of the current plan and queue (the request log counts what fired)."""

    def __init__(self) -> None:
        """No plan and nothing queued."""
        self._lock = threading.Lock()
        self._plan: FaultPlan | None = None
        self._seen = 0  # requests matched by the plan so far
        self._queue: list[_Queued] = []

    def set(self, plan: FaultPlan | None) -> None:
        """Replace the plan (``None`` removes it); its request count restarts at 0."""
        with self._lock:
            self._plan = plan
            self._seen = 0

    def fail_next(
        self, n: int, kind: str, target: Target = Target(), slow_seconds: float = SLOW_SECONDS
    ) -> None:
        """Fail the next ``n`` requests of ``target`` with ``kind``."""
        if n < 1:
            msg = "n must be at least 1"
            raise ValueError(msg)
        with self._lock:
            self._queue.append(_Queued(Fault(_kind(kind), slow_seconds), n, target))

    def clear(self) -> None:
        """Remove the plan and every queued fault."""
        with self._lock:
            self._plan = None
            self._seen = 0
            self._queue.clear()

    def decide(self, api: str, path: str) -> Fault | None:
        """The fault for this request of ``api`` to ``path``, if any: a queued one first."""
        with self._lock:
            for queued in self._queue:
                if queued.target.matches(api, path):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._queue.remove(queued)
                    return queued.fault
            plan = self._plan
            if plan is None or not plan.target.matches(api, path):
                return None
            self._seen += 1
            k = self._seen
            kind = plan.schedule.get(k)
            if kind is None and plan.rate:
                h = mix64((plan.seed << 32) ^ k)
                if unit(h) < plan.rate:
                    kind = plan.kinds[mix64(h) % len(plan.kinds)]
            return Fault(kind, plan.slow_seconds) if kind else None
