"""Proactive pacing: one limiter per run, shared by every stream and thread.

Requests are spaced evenly (no bursts): each caller reserves the next free slot, then
sleeps until it. A 429 pushes every future slot back (`hold`), so threads that did not see
the 429 do not walk into the same wall.
"""

from __future__ import annotations

import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable


class Pacer:
    """Evenly spaced slots at ``rate`` per second; ``rate <= 0`` means unpaced."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``rate`` requests per second, timed by ``clock`` and waited out by ``sleep``."""
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until this caller may send one request."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if self.interval or slot > now:
                self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now (after a 429)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)
