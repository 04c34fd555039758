"""Each API's rate limit (contract §2), off unless the sandbox is built with ``rate_limits``.

``time_scale`` shrinks time, not counts: every window, cool-down, drain or refill period and
every ``Retry-After`` value is multiplied by it (0.01 turns storefront's 60 s window and
60 s lock-out into 0.6 s each, and shop's "drains 2 per second" into 2 per 10 ms). Counts
(300 requests, a bucket of 40, a burst of 5) stay as published.

``Retry-After`` is written as integer seconds at ``time_scale`` 1, as HTTP wants. Below 1
the scaled value is written as a decimal number of seconds (``0.01``), so a client that
honours the header waits the scaled time; the HTTP-date form (payments) has one-second
resolution, so it is rounded up to the next whole second.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import deque
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

HeaderList = list[tuple[str, str]]


def retry_after_value(seconds: float, time_scale: float, style: str = "seconds") -> str:
    """A ``Retry-After`` value for a wait of ``seconds`` real (already scaled) seconds."""
    if style == "date":
        return formatdate(time.time() + max(1, math.ceil(seconds)), usegmt=True)
    if time_scale == 1:
        return str(max(1, math.ceil(seconds)))
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")


class Limiter:
    """Decides per request whether it is served; thread-safe."""

    def __init__(
        self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Windows and waits multiplied by ``time_scale``; time read from ``clock``."""
        if time_scale <= 0:
            msg = "time_scale must be positive"
            raise ValueError(msg)
        self.time_scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()

    def check(self) -> HeaderList | None:
        """``None`` to serve the request, or the headers of the 429 to send instead."""
        with self._lock:
            return self._check(self._clock())

    def _check(self, now: float) -> HeaderList | None:
        """`check` at ``now``, under the lock."""
        raise NotImplementedError


class LockoutWindow(Limiter):
    """storefront: ``limit`` requests per ``window`` seconds; the first one over gets 429
    without Retry-After and so does every request for the next ``cooldown`` seconds.
    """

    def __init__(
        self, limit: int = 300, window: float = 60, cooldown: float = 60, **kw: Any
    ) -> None:
        """See the class docstring; ``kw`` goes to `Limiter`."""
        super().__init__(**kw)
        self.limit = limit
        self.window = window * self.time_scale
        self.cooldown = cooldown * self.time_scale
        self._times: deque[float] = deque()
        self._blocked_until = -math.inf

    @override
    def _check(self, now: float) -> HeaderList | None:
        if now < self._blocked_until:
            return []
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            self._blocked_until = now + self.cooldown
            self._times.clear()
            return []
        self._times.append(now)
        return None


class LeakyBucket(Limiter):
    """shop: a bucket of ``capacity`` requests draining ``leak_per_second``; a request that
    would overflow it gets 429 with ``Retry-After``.
    """

    def __init__(
        self, capacity: int = 40, leak_per_second: float = 2, retry_after: float = 1, **kw: Any
    ) -> None:
        """See the class docstring; ``kw`` goes to `Limiter`."""
        super().__init__(**kw)
        self.capacity = capacity
        self.leak = leak_per_second / self.time_scale
        self.retry_after = retry_after * self.time_scale
        self._level = 0.0
        self._last: float | None = None

    @override
    def _check(self, now: float) -> HeaderList | None:
        if self._last is not None:
            self._level = max(0.0, self._level - (now - self._last) * self.leak)
        self._last = now
        if self._level + 1 > self.capacity:
            return [("Retry-After", retry_after_value(self.retry_after, self.time_scale))]
        self._level += 1
        return None


class TokenBucket(Limiter):
    """digital: ``burst`` tokens refilled at ``per_second``; no token means 429 with
    ``Retry-After``.
    """

    def __init__(
        self, burst: int = 5, per_second: float = 1, retry_after: float = 1, **kw: Any
    ) -> None:
        """See the class docstring; ``kw`` goes to `Limiter`."""
        super().__init__(**kw)
        self.burst = burst
        self.rate = per_second / self.time_scale
        self.retry_after = retry_after * self.time_scale
        self._tokens = float(burst)
        self._last: float | None = None

    @override
    def _check(self, now: float) -> HeaderList | None:
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            return [("Retry-After", retry_after_value(self.retry_after, self.time_scale))]
        self._tokens -= 1
        return None


class SlidingWindow(Limiter):
    """payments and orders (limits not published, so configurable): ``limit`` requests
    per sliding ``window``; 429 with ``Retry-After`` = the time until a slot frees, written
    as seconds, as an HTTP-date, or alternately (``style="mixed"``).
    """

    STYLES = ("seconds", "date", "mixed")

    def __init__(
        self, limit: int = 100, window: float = 10, style: str = "seconds", **kw: Any
    ) -> None:
        """See the class docstring; ``kw`` goes to `Limiter`."""
        super().__init__(**kw)
        if style not in self.STYLES:
            msg = f"style must be one of {self.STYLES}, not {style!r}"
            raise ValueError(msg)
        self.limit = limit
        self.window = window * self.time_scale
        self.style = style
        self._times: deque[float] = deque()
        self._throttled = 0

    @override
    def _check(self, now: float) -> HeaderList | None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            self._times.append(now)
            return None
        self._throttled += 1
        style = self.style
        if style == "mixed":
            style = "seconds" if self._throttled % 2 else "date"
        wait = self._times[0] + self.window - now
        return [("Retry-After", retry_after_value(wait, self.time_scale, style))]


#: The contract's limits (storefront, shop, digital) and the sandbox's choice for the two
#: APIs that do not publish theirs.
DEFAULT_LIMITS: dict[str, tuple[type[Limiter], dict[str, Any]]] = {
    "storefront": (LockoutWindow, {"limit": 300, "window": 60, "cooldown": 60}),
    "payments": (SlidingWindow, {"limit": 100, "window": 10, "style": "mixed"}),
    "shop": (LeakyBucket, {"capacity": 40, "leak_per_second": 2, "retry_after": 1}),
    "digital": (TokenBucket, {"burst": 5, "per_second": 1, "retry_after": 1}),
    "orders": (SlidingWindow, {"limit": 100, "window": 10, "style": "seconds"}),
    "variants": (SlidingWindow, {"limit": 100, "window": 10, "style": "seconds"}),
}


def build_limiters(
    rate_limits: bool | Mapping[str, Mapping[str, Any]],  # noqa: FBT001 - True or a mapping, as Sandbox(rate_limits=...) takes it
    time_scale: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Limiter]:
    """``True``: every API limited as published. A mapping: only the APIs it names, each
    with its options overriding the defaults, e.g. ``{"storefront": {"limit": 20}}``.
    """
    if rate_limits is True:
        chosen: Mapping[str, Mapping[str, Any]] = {api: {} for api in DEFAULT_LIMITS}
    elif not rate_limits:
        chosen = {}
    else:
        chosen = rate_limits
    limiters = {}
    for api, overrides in chosen.items():
        if api not in DEFAULT_LIMITS:
            msg = f"rate_limits: unknown api {api!r}; one of {', '.join(DEFAULT_LIMITS)}"
            raise ValueError(msg)
        cls, defaults = DEFAULT_LIMITS[api]
        try:
            limiters[api] = cls(
                **{**defaults, **(overrides or {})}, time_scale=time_scale, clock=clock
            )
        except TypeError as exc:
            msg = f"rate_limits[{api!r}]: {exc}"
            raise ValueError(msg) from None
    return limiters
