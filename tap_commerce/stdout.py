"""What a stream writes to stdout, in one place: SCHEMA (and its re-sends), RECORD (with
the run's ``version``), ACTIVATE_VERSION and STATE.

`StreamOutput` is the half of the base stream that meets singer-sdk's writing side; the
other half (`tap_commerce.client.CommerceStream`) turns pages into records. The writing
side's overrides of singer-sdk private methods (``_sync_records``,
``_write_record_message``, ``_write_schema_message``, ``_increment_stream_state``) live
here, each saying why; `tap_commerce.sdk_private` lists them with every other private
name the package uses, so an upgrade has one place to look.

Every stream's sync ends with a STATE (so the run does): after its ACTIVATE_VERSION, or
after a SCHEMA with no record, the state is written once more.

Deletes (contract §1.2): with ``emit_activate_version_messages`` a stream whose run reads
the API's complete current list carries the run's version on every RECORD and ends with
one ACTIVATE_VERSION after its last record, so a target retires the rows the run did not
send. singer-sdk's own ACTIVATE_VERSION comes *before* a full-table stream's records (a
target would mark the whole table deleted until the run re-sends it, and forever if the
run fails), so it is switched off and replaced by ours.

Unknown fields (contract §1.2): ``unknown_fields: drop`` drops a top-level field the
schema does not know, logged once; ``keep`` keeps it as sent and re-sends the SCHEMA with
the field added before the first RECORD that carries it (typed from the value, nullable),
widened by another SCHEMA when a value of another type comes.
"""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime, timezone
from decimal import Decimal

from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import StateMessage
from singer_sdk.streams.rest import RESTStream

from tap_commerce.output import BlockWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Sequence

    from singer_sdk.helpers.types import Context, Record

    from tap_commerce.run import RunContext


def json_type(value: t.Any) -> str:
    """The JSON Schema type of a decoded JSON value (not null)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


class StreamOutput(RESTStream):
    """The writing side of a stream; see the module docstring."""

    run: RunContext
    #: the schema was inferred from records (unknown fields are then kept by default)
    inferred_schema = False

    _extracted_at: str | None = None
    _direct: bool | None = None
    _max_seen: str | None = None
    _schema_sent = False
    #: this run: the child stream's sync for some parent was cut short
    _cut_short = False
    #: this run: records the incremental window kept out (the read was not complete)
    _held_back = 0

    # -- hooks of the reading side (tap_commerce.client) -------------------------------

    def fetch_pages(self, context: Context | None) -> Iterable[list[Record]]:
        """The pages of records the API returns for ``context``."""
        raise NotImplementedError

    def _admitted(self, record: Record) -> bool:
        raise NotImplementedError

    def _whole_pages(self) -> bool:
        raise NotImplementedError

    def _page_written(self, records: int) -> None:
        raise NotImplementedError

    def _start_progress(self) -> None:
        raise NotImplementedError

    def _finish_progress(self, outcome: str | None) -> None:
        raise NotImplementedError

    def _syncing_children(self) -> Sequence[StreamOutput]:
        raise NotImplementedError

    # -- the record loops --------------------------------------------------------------

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[Record, None, None]:
        """singer-sdk's record loop, or `_sync_pages` where it is equivalent.

        Overridden because this is where a stream's run begins and ends: a whole stream's
        sync (no context) starts its progress and decides its version, and after its last
        record writes the ACTIVATE_VERSION of itself and of its child streams (which have
        finished with its last page), then the summary lines. A child stream's pass for
        one parent (a context) that fails marks the child cut short: singer-sdk goes on
        with the next parent after an aborted child, but the child's read is not complete.
        A whole stream's sync writes out what the `BlockWriter` holds when it ends, however
        it ends (its child streams' records included: they are written during it).
        """
        if context is not None:
            try:
                yield from super()._sync_records(context, write_messages=write_messages)
            except BaseException:
                self._cut_short = True
                raise
            return
        self._start_progress()
        self._begin_versions()
        try:
            if write_messages and self._whole_pages():
                self._sync_pages()
            else:
                yield from super()._sync_records(context, write_messages=write_messages)
        except BaseException as exc:
            self._finish_progress(_stopped(exc))
            raise
        finally:
            self.run.flush_output()
        self._activate_versions()
        self._end_with_state()
        self._finish_progress(None)

    def _sync_pages(self) -> None:
        """singer-sdk's record loop (`Stream._sync_records`) a page at a time.

        The messages are the ones the SDK writes, in the same order: each RECORD as
        `_write_record_message` spells it (the run's version included), a STATE after
        every ``STATE_MSG_FREQUENCY`` records and at the end, the same bookmark (the
        largest replication-key value, as if every record had been offered to
        `_increment_stream_state`), the same metrics. What goes is the SDK's per-record
        bookkeeping: a page is filtered in one pass and its RECORD lines are encoded in one
        call (`BlockWriter.write_records`).
        """
        writer = t.cast("BlockWriter", self.run.writer)
        every = self.STATE_MSG_FREQUENCY
        key = self.replication_key
        admitted = self._admitted
        written = 0
        with self.get_record_counter() as record_counter, self.get_sync_timer() as timer:
            record_counter.with_context({})
            timer.with_context({})
            self._write_starting_replication_value(None)
            for page in self.fetch_pages(None):
                records = [record for record in page if admitted(record)]
                emitted = len(records)
                frame = writer.record_frame(self.name, self._stream_version, self._extracted_at)
                while records:
                    room = every - written % every
                    chunk, records = records[:room], records[room:]
                    writer.write_records(chunk, frame)
                    self.state_manager.is_flushed = False
                    if key:
                        self._bookmark_chunk(chunk, key)
                    written += len(chunk)
                    record_counter.increment(len(chunk))
                    if written % every == 0:
                        self._write_state_message()
                self._page_written(emitted)
            self._finalize_state(self.get_context_state(None))
        self._finalize_state(self.stream_state)
        self._write_state_message()

    # -- RECORD ------------------------------------------------------------------------

    @override
    def _write_record_message(self, record: Record) -> None:
        """A RECORD straight from the record when nothing would change it on the way
        (see `_passes_through`); otherwise singer-sdk's path. ``time_extracted`` is when
        the record's page arrived.

        Overridden because singer-sdk builds a message object and copies the record for
        every RECORD, the largest cost of a sync that changes nothing.
        """
        direct = self._direct
        if direct is None:
            direct = self._direct = self._passes_through()
        if not direct:
            super()._write_record_message(record)
            return
        message: dict[str, t.Any] = {"type": "RECORD", "stream": self.name, "record": record}
        if self._stream_version is not None:
            message["version"] = self._stream_version
        message["time_extracted"] = self._extracted_at or datetime.now(timezone.utc).isoformat()
        t.cast("BlockWriter", self.run.writer).write_record(message)
        self.state_manager.is_flushed = False

    def _passes_through(self) -> bool:
        """Whether singer-sdk's record path would emit the record unchanged: one stream
        map that is the identity without flattening, every property selected, no type
        conformance (unknown fields are handled by `admit_fields` already).
        """
        maps = self.stream_maps
        return (
            isinstance(self.run.writer, BlockWriter)
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == self.name
            and all(self.mask.values())
            and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
        )

    # -- SCHEMA ------------------------------------------------------------------------

    @override
    def _write_schema_message(self) -> None:
        """The stream's SCHEMA, once a run.

        Overridden because singer-sdk writes a child stream's SCHEMA once per parent
        record (its ``sync`` runs per parent); a re-send after a field was added goes
        through `_resend_schema`.
        """
        if not self._schema_sent:
            self._schema_sent = True
            super()._write_schema_message()

    def _resend_schema(self) -> None:
        """The SCHEMA again, with the kept fields in every stream map's schema."""
        for stream_map in self.stream_maps:
            schema = getattr(stream_map, "transformed_schema", None)
            if (
                isinstance(schema, dict)
                and schema is not self.schema
                and not stream_map.flattening_enabled
            ):
                schema.setdefault("properties", {}).update(self._kept_schemas())
        super()._write_schema_message()

    _kept_types: dict[str, list[str]] | None = None

    def _kept_schemas(self) -> dict[str, dict[str, t.Any]]:
        return {
            name: {"type": [*types, "null"]} for name, types in (self._kept_types or {}).items()
        }

    def admit_fields(self, record: Record, known: frozenset[str]) -> None:
        """Fields of ``record`` outside ``known`` (the schema's): dropped, or under
        ``unknown_fields: keep`` kept, each new one (or a new type of one) added to the
        schema with a SCHEMA re-sent before this record is written. A field never seen
        with a value is left out while it is null (a warehouse shows it as null anyway),
        until its first value types it.
        """
        keep = self.keeps_unknown_fields
        kept = self._kept_types
        widened = False
        for name in sorted(record.keys() - known):
            value = record[name]
            if not keep:
                del record[name]
                self._report_once(
                    f"field:{name}",
                    "stream '%s': the API sent field '%s', which is not in the schema; dropped",
                    self.name,
                    name,
                )
                continue
            if kept is None:
                kept = self._kept_types = {}
            types = kept.get(name)
            if value is None:
                if types is None:
                    del record[name]
                continue
            kind = json_type(value)
            if types is None:
                kept[name] = [kind]
                self.logger.warning(
                    "stream '%s': the API sent field '%s', which is not in the schema; kept "
                    "(%s) and added to the stream's SCHEMA",
                    self.name, name, kind,
                )  # fmt: skip
                widened = True
            elif kind not in types:
                types.append(kind)
                self.logger.warning(
                    "stream '%s': field '%s' now holds %s values too; its type in the "
                    "stream's SCHEMA is widened to %s",
                    self.name, name, kind, " or ".join(types),
                )  # fmt: skip
                widened = True
        if widened:
            self.schema.setdefault("properties", {}).update(self._kept_schemas())
            self._resend_schema()

    @property
    def keeps_unknown_fields(self) -> bool:
        """``unknown_fields: keep``; unset, a stream whose schema was inferred keeps them
        (a field first seen after the sample must not be lost).
        """
        setting = self.run.settings.unknown_fields
        return setting == "keep" or (setting is None and self.inferred_schema)

    def _report_once(self, topic: str, message: str, *args: t.Any) -> None:
        """Log a warning once a run per ``topic``."""
        raise NotImplementedError

    # -- ACTIVATE_VERSION --------------------------------------------------------------

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Off for singer-sdk, which would write ACTIVATE_VERSION before the records of a
        full-table stream; `_activate_versions` writes it after them instead.
        """
        return False

    def complete_read(self) -> bool:
        """Whether this run reads the API's complete current list of the stream: a
        full-table stream always; a child stream only under ``child_sync: all``; an
        incremental one only on a full refresh (no bookmark, no start or end date).
        """
        settings = self.run.settings
        if getattr(self, "parent_stream_type", None) and settings.child_sync != "all":
            return False
        if not self.replication_key:
            return True
        if settings.start_date or settings.end_date:
            return False
        return not self.stream_state.get("replication_key_value")

    def _begin_versions(self) -> None:
        """The run's version on the stream and its child streams whose read is complete,
        before any of their records: with ``emit_activate_version_messages``, or for a
        resource whose ``write_disposition`` is ``replace`` (the table holds what the last
        complete read sent).
        """
        for stream in (self, *self._syncing_children()):
            stream.begin_version(stream.run.version if stream.versions_wanted() else None)

    def versions_wanted(self) -> bool:
        """Whether this stream's complete reads carry a version and end with
        ACTIVATE_VERSION (see `_begin_versions`).
        """
        disposition = getattr(getattr(self, "resource", None), "write_disposition", None)
        return self.run.settings.emit_activate_version or disposition == "replace"

    def begin_version(self, version: int | None) -> None:
        """This run of the stream starts: not cut short, nothing held back, and the run's
        ``version`` on its records if its read is complete (see `_begin_versions`).
        """
        self._cut_short = False
        self._held_back = 0
        complete = version is not None and self.selected and self.complete_read()
        self._stream_version = version if complete else None

    def _activate_versions(self) -> bool:
        """ACTIVATE_VERSION for the stream and each of its child streams that carried a
        version and whose read was complete to the end; whether any was written.
        """
        written = False
        for stream in (self, *self._syncing_children()):
            written = stream.activate_version() or written
        return written

    def activate_version(self) -> bool:
        """ACTIVATE_VERSION for this stream, if it carried a version and its read was
        complete to the end (see `_activate_versions`); whether it was written.
        """
        version = self._stream_version
        if version is None:
            return False
        if self._cut_short or self._held_back:
            why = "cut short" if self._cut_short else "records outside its window"
            self.logger.info(
                "stream '%s': not a complete read (%s); no ACTIVATE_VERSION", self.name, why
            )
            return False
        self._write_activate_version_message(version)
        return True

    # -- STATE -------------------------------------------------------------------------

    def _end_with_state(self) -> None:
        """The state once more if the stream's last message was not one (its ACTIVATE_VERSION,
        or its SCHEMA when it had no record): every stream's sync, and so the run, ends
        with a STATE (contract §1.2). singer-sdk writes a STATE only when it differs from
        the last one written (its `StateWriter`), so this one is written directly.
        """
        writer = self.run.writer
        if writer is not None and not writer.state_last:
            writer.write_message(StateMessage(value=self.tap_state))

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """singer-sdk keeps the largest replication-key value in the progress markers,
        at a cost per record; a record whose (canonical, so string-ordered) value is not
        above the largest seen so far cannot change them, and is skipped.

        Overridden for that cost only; what reaches the state is the same.
        """
        key = self.replication_key
        if key:
            value = latest_record.get(key)
            if isinstance(value, str):
                seen = self._max_seen
                if seen is not None and value <= seen:
                    return
                self._max_seen = value
        super()._increment_stream_state(latest_record, context=context)

    @override
    def finalize_state_progress_markers(self, state: dict[str, t.Any] | None = None) -> None:
        """singer-sdk's, and the largest replication-key value seen is forgotten with them."""
        self._max_seen = None  # the markers are gone: the next value must reach them again
        super().finalize_state_progress_markers(state)

    def _bookmark_chunk(self, records: list[Record], key: str) -> None:
        """Offer a run of records to the bookmark as the SDK's loop would one by one: only
        the largest (canonical, so string-ordered) value can change it; a record whose
        value is not a string goes through on its own, as it would.
        """
        top = None
        for record in records:
            value = record.get(key)
            if isinstance(value, str):
                if top is None or value > top[key]:
                    top = record
            else:
                self._increment_stream_state(record)
        if top is not None:
            self._increment_stream_state(top)


def _stopped(exc: BaseException) -> str:
    """How the summary line of a stream whose sync raised ``exc`` says it ended."""
    if isinstance(exc, AbortedSyncFailedException | AbortedSyncPausedException):
        return "stopped early (singer-sdk aborted the sync)"
    if isinstance(exc, Exception):
        return "stopped by an error"
    return "interrupted"
