"""Bounded, thread-safe fetching of child lists ahead of the parent's record loop.

singer-sdk syncs a child stream synchronously for each parent record, one request at a
time. When a parent page arrives, `FanOut.prefetch` submits the child fetches of every
record on that page to a pool of ``max_concurrency`` workers (the next page's as soon as
it arrives, so the pool never drains between pages); the child stream's record loop then
takes the finished list (`take`). Workers only do HTTP through the run's
`Transport` (paced, retried, one session per thread); records, SCHEMA and STATE are
still written on the main thread, in the SDK's order.
"""

from __future__ import annotations

import itertools
import queue
import threading
import typing as t
from concurrent.futures import Future

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context, Record

    #: a queued call: (priority, order of submission, its future, the call, its arguments);
    #: the future and the call are None in the item that stops a thread
    _Item: t.TypeAlias = tuple[
        int, int, Future[t.Any] | None, t.Callable[..., t.Any] | None, tuple[t.Any, ...]
    ]

T = t.TypeVar("T")


class Children(t.Protocol):
    """What the pool needs of a child stream (`tap_commerce.children.ChildStream`)."""

    @property
    def name(self) -> str:
        """The stream's name."""
        ...

    def parent_key(self, context: Context) -> tuple[t.Any, ...]:
        """Which parent a context is."""
        ...

    def fetch(self, context: Context) -> list[Record]:
        """All records of one parent."""
        ...


#: a parent's next page goes before queued child lists: the children it lists can only be
#: submitted once it arrives, so waiting behind them would drain the pool at every page
FIRST, NEXT = 0, 1


class PriorityPool:
    """``workers`` threads taking calls by priority (`FIRST` before `NEXT`), in order of
    submission within one priority: `concurrent.futures.ThreadPoolExecutor` with its FIFO
    queue made a priority queue.
    """

    def __init__(self, workers: int, name: str) -> None:
        """Start ``workers`` threads named ``<name>_<n>``."""
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, call: t.Callable[..., T], *args: t.Any, priority: int = NEXT) -> Future[T]:
        """Queue ``call(*args)`` at ``priority``; its future."""
        future: Future[T] = Future()
        self._queue.put((priority, next(self._order), future, call, args))
        return future

    def _work(self) -> None:
        while True:
            _, _, future, call, args = self._queue.get()
            if future is None or call is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Cancel what is queued, let running calls finish, and stop the threads."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item[2] is not None:
                item[2].cancel()
        for _ in self._threads:
            self._queue.put((FIRST - 1, next(self._order), None, None, ()))
        for thread in self._threads:
            thread.join()


class FanOut:
    """A pool of ``workers`` threads and the child lists it is fetching."""

    def __init__(self, workers: int) -> None:
        """No threads yet: the pool starts with the first fetch submitted."""
        self.workers = workers
        self._pool: PriorityPool | None = None
        self._lock = threading.Lock()
        #: (child stream, parent key) -> (parent page number, the fetch)
        self._pending: dict[tuple[str, t.Any], tuple[int, Future[list[Record]]]] = {}

    def prefetch(
        self, children: Iterable[Children], contexts: list[dict[str, t.Any]], page: int = 0
    ) -> None:
        """Start fetching every child list of parent page number ``page``.

        Safe from any thread: a parent's next page submits its children as soon as it
        arrives, while the main thread still takes the current page's. Lists of pages
        before the previous one that were never taken (their parent was filtered out by
        a stream map) are dropped, so memory stays bounded by two pages.
        """
        if self.workers <= 1:
            return  # sequential: each child fetches inline when the SDK asks
        pool = self._executor()
        with self._lock:
            stale = [k for k, (p, _) in self._pending.items() if p < page - 1]
            for key in stale:
                self._pending.pop(key)[1].cancel()
            for child in children:
                for context in contexts:
                    key = (child.name, child.parent_key(context))
                    if key not in self._pending:
                        self._pending[key] = (page, pool.submit(child.fetch, context))

    def submit(self, call: t.Callable[..., T], *args: t.Any) -> Future[T]:
        """Run a parent's next page in the pool, before any queued child list; untracked
        by `discard`.
        """
        return self._executor().submit(call, *args, priority=FIRST)

    def _executor(self) -> PriorityPool:
        if self._pool is None:
            self._pool = PriorityPool(self.workers, "fanout")
        return self._pool

    def take(self, child: Children, context: Context) -> list[Record] | None:
        """The prefetched list for a context (waiting for it), or None if never submitted.

        A worker's exception (an auth failure, retries exhausted) is raised here, on the
        main thread, so the run stops with its message.
        """
        with self._lock:
            entry = self._pending.pop((child.name, child.parent_key(context)), None)
        return None if entry is None else entry[1].result()

    def discard(self) -> None:
        """Forget lists nobody will take (their requests may still complete)."""
        with self._lock:
            for _, future in self._pending.values():
                future.cancel()
            self._pending.clear()

    def close(self) -> None:
        """Stop the pool (at the end of a run, or when it fails)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.discard()  # after the pool: a page that arrived meanwhile may have added some
