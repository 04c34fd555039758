"""Bounded, thread-safe fetching of child lists ahead of the parent's record loop.

singer-sdk syncs a child stream synchronously for each parent record, one request at a
time. When a parent page arrives, `FanOut.prefetch` submits the child fetches of every
product on that page to a pool of ``max_concurrency`` workers; the child stream's record
loop then takes the finished list (`take`). Workers only do HTTP through the run's
`Transport` (paced, retried, one session per thread); records, SCHEMA and STATE are
still written on the main thread, in the SDK's order.
"""

from __future__ import annotations

import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_commerce.client import ChildStream

T = t.TypeVar("T")


class FanOut:
    """A pool of ``workers`` threads and the child lists it is fetching."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[tuple[str, t.Any], Future] = {}

    def prefetch(self, children: Iterable[ChildStream], contexts: list[dict]) -> None:
        """Start fetching every child list of a parent page.

        Lists of the previous page that were never taken (their parent was filtered
        out by a stream map) are dropped, so memory stays bounded by one page.
        """
        if self.workers <= 1:
            return  # sequential: each child fetches inline when the SDK asks
        self.discard()
        pool = self._executor()
        for child in children:
            for context in contexts:
                key = (child.name, context[child.parent_key])
                self._pending[key] = pool.submit(child.fetch, context)

    def submit(self, call: t.Callable[..., T], *args: t.Any) -> Future[T]:  # noqa: ANN401
        """Run one other call in the pool (a parent's next page), untracked by `discard`."""
        return self._executor().submit(call, *args)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fanout")
        return self._pool

    def take(self, child: ChildStream, context: dict) -> list[dict] | None:
        """The prefetched list for a context (waiting for it), or None if never submitted.

        A worker's exception (an auth failure, retries exhausted) is raised here, on the
        main thread, so the run stops with its message.
        """
        future = self._pending.pop((child.name, context[child.parent_key]), None)
        return None if future is None else future.result()

    def discard(self) -> None:
        """Forget lists nobody will take (their requests may still complete)."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def close(self) -> None:
        """Stop the pool (at the end of a run, or when it fails)."""
        self.discard()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
