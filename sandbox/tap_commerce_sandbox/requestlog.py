"""What the sandbox received and answered: a bounded log of requests and running totals.

Admin requests are not logged: the log and the counters describe API traffic only.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .wire import Headers


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered (or dropped)."""

    time: float  # epoch seconds when the request arrived
    method: str
    path: str  # the full path, prefix included, e.g. "/payments/v1/products"
    query: dict[str, str]  # first value of each parameter
    query_items: tuple[tuple[str, str], ...]  # every parameter, in order
    headers: Headers
    api: str | None  # None for a path under no API's prefix
    status: int | None  # None when the connection was dropped without a response
    fault: str | None = None  # the injected fault's kind, if one fired
    rate_limited: bool = False  # a 429 from the API's rate limiter
    duration: float = 0.0  # seconds spent answering

    def to_json(self) -> dict[str, Any]:
        """The entry as the admin endpoint shows it."""
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "query_items": [list(item) for item in self.query_items],
            "headers": dict(self.headers),
            "api": self.api,
            "status": self.status,
            "fault": self.fault,
            "rate_limited": self.rate_limited,
            "duration": round(self.duration, 6),
        }


class RequestLog:
    """Thread-safe: the server appends from its request threads while tests read."""

    def __init__(self, maxlen: int = 100_000) -> None:
        """Keep the last ``maxlen`` entries (the counters count all)."""
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[tuple[str, int | None]] = Counter()
        self._limited: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def append(self, entry: LoggedRequest) -> None:
        """Log ``entry`` and count it."""
        api = entry.api or "-"
        with self._lock:
            self._entries.append(entry)
            self._requests[api] += 1
            self._statuses[(api, entry.status)] += 1
            if entry.rate_limited:
                self._limited[api] += 1
            if entry.fault:
                self._faults[entry.fault] += 1

    def snapshot(self) -> list[LoggedRequest]:
        """The entries now, oldest first."""
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        """The entries of a `snapshot`."""
        return iter(self.snapshot())

    def __len__(self) -> int:
        """How many entries are kept."""
        with self._lock:
            return len(self._entries)

    def __getitem__(self, index: int) -> LoggedRequest:
        """Entry ``index`` of a `snapshot`."""
        return self.snapshot()[index]

    def for_api(self, api: str) -> list[LoggedRequest]:
        """The entries of ``api``'s requests."""
        return [e for e in self.snapshot() if e.api == api]

    def clear(self) -> None:
        """Forget the entries and reset every counter."""
        with self._lock:
            self._entries.clear()
            self._requests.clear()
            self._statuses.clear()
            self._limited.clear()
            self._faults.clear()

    @property
    def count_429(self) -> int:
        """429 responses sent, rate limiter and injected faults alike."""
        with self._lock:
            return sum(
                n
                for (_, status), n in self._statuses.items()
                if status == HTTPStatus.TOO_MANY_REQUESTS
            )

    def stats(self) -> dict[str, Any]:
        """Requests, responses by status, 429s and faults, per API."""
        with self._lock:
            by_api: dict[str, dict[str, int]] = {}
            for (api, status), n in self._statuses.items():
                by_api.setdefault(api, {})[str(status) if status is not None else "dropped"] = n
            too_many = {api: s.get("429", 0) for api, s in by_api.items() if s.get("429")}
            return {
                "requests": {"total": sum(self._requests.values()), "by_api": dict(self._requests)},
                "responses": by_api,
                "429": {
                    "total": sum(too_many.values()),
                    "rate_limited": sum(self._limited.values()),
                    "by_api": too_many,
                },
                "rate_limited": dict(self._limited),
                "faults": dict(self._faults),
            }
