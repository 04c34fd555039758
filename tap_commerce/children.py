"""Child streams: a resource whose path names a parent's field
(``{resources.<parent>.<field>}``), read once per parent record.

State is one bookmark for the whole stream (``state_partitioning_keys = []``), so it does
not grow with the number of parents. A parent's child lists are fetched ahead by the run's
fan-out pool (`tap_commerce.fanout`) while the main thread writes; a response the
definition's ``response_actions`` ignore (a 404: the parent was deleted after it was
listed) skips that parent with a warning. Each record gets the parent fields the
definition copies into it (``include_from_parent``, ``x-include_from_parent``).
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import metrics

from tap_commerce import redact
from tap_commerce.client import CommerceStream
from tap_commerce.progress import Progress

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_commerce.run import RunContext

_Meter = t.TypeVar("_Meter", bound=metrics.Meter)


def singular(name: str) -> str:
    """A parent resource's name for one of its records, in messages (``products`` →
    ``product``).
    """
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


class ChildStream(CommerceStream):
    """A resource read once per parent record (see the module docstring)."""

    state_partitioning_keys: t.ClassVar[list[str]] = []
    _parents_read = 0  # parents whose children were read, and how many children in all
    _rows_read = 0
    _parent_progress: Progress | None = None  # the parent's tracker (see _start_progress)
    #: this stream's METRIC lines, one set per parent: DEBUG lines (see PerParentFilter)
    _metrics_logger = redact.PerParentMetrics(metrics.get_metrics_logger())

    def __init__(
        self, tap: Tap, *, run: RunContext, schema: dict[str, t.Any], inferred: bool = False
    ) -> None:
        """`CommerceStream`'s, with singer-sdk's per-parent INFO lines at DEBUG only."""
        super().__init__(tap, run=run, schema=schema, inferred=inferred)
        parent = self.resource.parent
        #: parent field -> its key in this stream's contexts
        self.parent_context = parent.context if parent else {}
        #: column -> its key in this stream's contexts (the column's own name)
        self.include = tuple((column, column) for _, column in parent.include) if parent else ()
        self.parent_name = parent.resource if parent else ""
        redact.quiet_child_logger(self.logger, run.logger)

    def parent_key(self, context: Context) -> tuple[t.Any, ...]:
        """Which parent a context is (the fan-out pool's key)."""
        return tuple(context[key] for key in self.parent_context.values())

    def _per_parent(self, meter: _Meter) -> _Meter:
        """``meter``, logging its lines as this stream's per-parent ones."""
        meter.logger = self._metrics_logger
        return meter

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = metrics.DEFAULT_LOG_INTERVAL,
    ) -> metrics.Counter:
        """singer-sdk's, counting one parent's records: its line is a per-parent one."""
        return self._per_parent(
            super().get_record_counter(endpoint=endpoint, log_interval=log_interval)
        )

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """singer-sdk's, timing one parent's sync: its line is a per-parent one."""
        return self._per_parent(super().get_sync_timer())

    @override
    def get_http_request_counter(self) -> metrics.Counter:
        """singer-sdk's, counting one parent's requests: its line is a per-parent one."""
        return self._per_parent(super().get_http_request_counter())

    @override
    def _log_metric(self, point: metrics.Point[t.Any]) -> None:
        """A request's timer, for one parent: a per-parent line."""
        metrics.log(self._metrics_logger, point=point)

    def fetch(self, context: Context) -> list[Record]:
        """All records of one parent (safe to call from a fan-out worker thread)."""
        records = list(self.request_records(context))
        for column, key in self.include:
            value = context[key]
            for record in records:
                record[column] = value
        return records

    @override
    def _ignored(self, response: requests.Response, context: Context | None) -> None:
        """A parent whose list the definition's ``response_actions`` ignore is skipped."""
        status = f"{response.status_code} {response.reason or ''}".strip()
        which = " ".join(str(v) for v in (context or {}).values())
        self.logger.warning(
            "stream '%s': %s %s answered %s (%s); skipped",
            self.name,
            singular(self.parent_name),
            which,
            status,
            "deleted after it was listed" if response.status_code == 404 else "response_actions",  # noqa: PLR2004 - Not Found
        )

    @override
    def fetch_pages(self, context: Context | None) -> Iterable[list[Record]]:
        """The parent's list: taken from the fan-out pool, else fetched now."""
        if context is None:
            msg = f"stream '{self.name}': a child stream is synced for a parent, with its context"
            raise TypeError(msg)
        fetched = self.run.fanout.take(self, context)
        records = self.fetch(context) if fetched is None else fetched
        self._parents_read += 1
        self._rows_read += len(records)
        return [records]

    @override
    def _page_written(self, records: int) -> None:
        """A parent's children went out; the parent's progress line may be due too: its
        own pages come only once all the children of a page are written.
        """
        parent = self._parent_progress
        if parent is not None:
            parent.check()
        super()._page_written(records)

    def follow(self, parent: Progress) -> None:
        """A new tracker of its own for this run, and the parent's (see `_start_progress`)."""
        self._progress = Progress(self.name, self.run.logger, every=parent.every)
        self._parent_progress = parent

    def log_summary(self, outcome: str | None = None) -> None:
        """The stream's one summary line for the whole run, after its parent's (its
        per-parent lines are at DEBUG, see `redact.PerParentFilter`), on the tap's
        logger: ``done`` (or how it stopped, ``outcome``) and the parents read.
        """
        self.progress.finish(
            outcome,
            f"; {self._rows_read:,} records read for {self._parents_read:,} {self.parent_name}",
        )
