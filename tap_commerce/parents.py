"""The parent side of child streams: what a stream whose records have children does.

singer-sdk syncs a child stream for each parent record, with the context the parent gives
(`get_child_context`: the parent fields the children's paths and records take). Here a
parent page's child lists are handed to the run's fan-out pool as soon as the page
arrives (`_prefetch_children`), and so is the next page's (`_prefetch_on_arrival`), so
the pool never drains between pages. Under ``child_sync: all`` the children of a record
the incremental window keeps out are read too (`outside_window`).
"""

from __future__ import annotations

import sys
import typing as t

from tap_commerce.errors import BadResponseError
from tap_commerce.pagination import page_of
from tap_commerce.stdout import StreamOutput

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future

    import requests
    from singer_sdk.helpers.types import Context, Record

    from tap_commerce.fanout import Children


class ParentSide(StreamOutput):
    """The parent side of a stream (see the module docstring)."""

    #: the fields of a record that the child streams' requests and records take, each
    #: with its key in their contexts (set by the tap that links them)
    child_context: dict[str, str]
    #: the primary key's fields
    _keys: tuple[str, ...]
    _pages_read = 0

    def in_window(self, record: Record) -> bool:
        """Whether the incremental window admits a record (`CommerceStream`)."""
        raise NotImplementedError

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """singer-sdk asks for (and copies) a child context for every record, children or
        not; a stream without child streams has none to give.
        """
        if not self.child_streams:
            return ()
        return super().generate_child_contexts(record, context)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> dict[str, t.Any]:
        """The parent's fields its child streams take (their requests and records)."""
        values = {}
        for field, key in self.child_context.items():
            if field not in record:
                msg = (
                    f"stream '{self.name}': a record has no field '{field}', which its child "
                    f"streams need; its fields: {', '.join(list(record)[:12])}"
                )
                raise BadResponseError(msg)
            values[key] = record[field]
        return values

    def _children_of_every_record(self) -> bool:
        """``child_sync: all``: children of records the window keeps out are read too, so
        a new review of an unchanged product still arrives.
        """
        return self.run.settings.child_sync == "all" or not self.replication_key

    def outside_window(self, record: Record, context: Context | None) -> None:
        """A record the window keeps out is not emitted; its children may still be."""
        if self.child_streams and self._children_of_every_record():
            self._process_record(record, child_context=context)

    def _prefetch_children(self, records: list[Record], page: int) -> None:
        children = self._syncing_children()
        if not children:
            return
        if not self._children_of_every_record():
            records = [r for r in records if self.in_window(r)]
        contexts = [self.get_child_context(r, None) for r in records]
        self.run.fanout.prefetch(t.cast("list[Children]", children), contexts, page)

    def _prefetch_on_arrival(self, future: Future[requests.Response], page: int) -> None:
        """A parent's next page, fetched ahead by the pool, submits its children's fetches
        the moment it arrives (on the worker thread), so the pool does not drain while the
        main thread finishes the current page. Under ``child_sync: changed`` the window
        needs canonical date-times first: the main thread submits them (`parse_response`).
        """
        if future.cancelled() or future.exception() is not None:
            return
        if not self._children_of_every_record():
            return
        response = future.result()
        records = page_of(response).records
        if any(record.get(key) is None for key in self._keys for record in records):
            return  # the main thread stops the stream on it
        if any(field not in record for field in self.child_context for record in records):
            return  # likewise
        self._prefetch_children(records, page)
        response.tap_children_fetched = True  # type: ignore[attr-defined]  # read in parse_response
