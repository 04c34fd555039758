"""Progress lines of a stream (contract §1.2 "Progress").

One `Progress` per stream and run counts what the stream did: records emitted, records
read (for the share of a list whose API reports a total), requests sent and 429s met.
While the stream runs it logs, at INFO on the tap's logger, a line each time the interval
has passed; at the end it logs one summary line (or, if the stream was stopped, a line
saying so; never a "done")::

    stream 'order_payments': 12,400 records, 125 requests, 41 s
    stream 'order_payments': 12,400 records, 125 requests, 41 s; 62 % of 20,000, about 25 s left
    stream 'order_payments': done, 20,000 records, 200 requests, 66.1 s, 0 429s
    stream 'order_payments': stopped by an error after 12,400 records, 125 requests, 41.2 s, 1 429s

The interval is 30 s; the environment variable ``TAP_COMMERCE_PROGRESS_INTERVAL``
(seconds, a positive number, fractions allowed) changes it, e.g. for tests. It is not a
setting of the tap.

Who counts what: the stream's record loops count records a page at a time (`written`,
main thread) and its page loop counts records read and what the page says is left
(`read`, any thread: child lists are fetched by the fan-out pool); the run's `Transport`
counts every request and 429 (`sent`, `met_429`, any thread) for the stream whose request
it is sending. Counters are guarded by a lock, so a tracker may be shared by threads.

Lines are due on a fixed schedule (start + 1, 2, 3… intervals) and checked when a page has
been written (`written`, `check`), not by a timer: as long as pages come at least once an
interval, a line comes at least once an interval. A page that takes longer (a slow API, a
long ``Retry-After``) delays the line until it arrives; the line then comes once, not once
per missed interval, and the schedule restarts from that moment.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable

#: seconds between progress lines (contract §1.2)
DEFAULT_INTERVAL = 30.0
#: the environment variable that overrides `DEFAULT_INTERVAL` (seconds)
INTERVAL_ENV = "TAP_COMMERCE_PROGRESS_INTERVAL"

logger = logging.getLogger("tap-commerce")


def interval() -> float:
    """The interval of this run: ``TAP_COMMERCE_PROGRESS_INTERVAL`` if it holds a
    positive number of seconds, else 30 s.
    """
    return _parse_interval(os.environ.get(INTERVAL_ENV))


@functools.cache
def _parse_interval(value: str | None) -> float:
    if value is None or not value.strip():
        return DEFAULT_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        logger.warning(
            "%s=%r is not a positive number of seconds; progress lines every %g s",
            INTERVAL_ENV, value, DEFAULT_INTERVAL,
        )  # fmt: skip
        return DEFAULT_INTERVAL
    return seconds


class Progress:
    """What one stream has done so far in a run, and when its next progress line is due."""

    def __init__(
        self,
        stream: str,
        log: logging.Logger,
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """The tracker of ``stream``, logging on ``log`` every ``every`` seconds (default
        `interval`), timed by ``clock``.
        """
        self.stream = stream
        self.log = log
        self.every = interval() if every is None else every
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self._due = self.started + self.every
        self.records = 0  # emitted
        self.records_read = 0  # read from the API (emitted or not), for the share
        self.left: int | None = None  # what the API's total says is still to come
        self.requests = 0
        self.limited = 0  # 429s met
        self.ended = False

    # -- counting (any thread) -----------------------------------------------------------

    def sent(self) -> None:
        """One request sent for the stream (a retry or a token request included)."""
        with self._lock:
            self.requests += 1

    def met_429(self) -> None:
        """One of the stream's requests was answered 429."""
        with self._lock:
            self.limited += 1

    def read(self, records: int, left: int | None) -> None:
        """A page of ``records`` arrived; ``left``: records still to come by the API's
        total (None when the API reports none).
        """
        with self._lock:
            self.records_read += records
            self.left = left

    # -- lines (the thread that writes records) -------------------------------------------

    def written(self, records: int) -> None:
        """A page's ``records`` were emitted; log a progress line if one is due."""
        with self._lock:
            self.records += records
        self.check()

    def check(self) -> None:
        """Log a progress line if the interval has passed since the last one was due."""
        now = self._clock()
        with self._lock:
            if now < self._due or self.ended:
                return
            due = self._due + self.every
            # a page that took more than an interval: one line now, the next an interval on
            self._due = due if due > now else now + self.every
            text = self._progress_text(now)
        self.log.info("%s", text)

    def finish(self, outcome: str | None = None, detail: str = "") -> None:
        """Log the summary line once: ``done`` (``outcome`` None) or that the stream was
        stopped (``outcome``, e.g. ``"stopped by an error"``); ``detail`` is appended.
        """
        now = self._clock()
        with self._lock:
            if self.ended:
                return
            self.ended = True
            counts = (
                f"{_count(self.records, 'record')}, {_count(self.requests, 'request')}, "
                f"{now - self.started:,.1f} s, {self.limited:,} 429s"
            )
        head = "done," if outcome is None else f"{outcome} after"
        self.log.info("stream '%s': %s %s%s", self.stream, head, counts, detail)

    def _progress_text(self, now: float) -> str:
        elapsed = now - self.started
        text = (
            f"stream '{self.stream}': {_count(self.records, 'record')}, "
            f"{_count(self.requests, 'request')}, {_seconds(elapsed)}"
        )
        read, left = self.records_read, self.left
        if left is not None and read + left > 0:
            total = read + left
            text += f"; {100 * read // total} % of {total:,}"
            if read and elapsed > 0:
                text += f", about {_seconds(left * elapsed / read)} left"
        return text


def _count(n: int, noun: str) -> str:
    """``12,400 records``, ``1 record``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


#: durations below this many seconds are written with a tenth
_TENTHS_BELOW = 10


def _seconds(value: float) -> str:
    """``41 s``; below 10 s with a tenth (``2.5 s``), for short intervals."""
    return f"{value:.1f} s" if value < _TENTHS_BELOW else f"{value:,.0f} s"
