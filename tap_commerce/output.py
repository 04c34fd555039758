"""Singer output: msgspec serialisation (exact decimals) written in blocks, not lines.

singer-sdk's `MsgSpecWriter` flushes stdout after every message, a system call per record
(every write is one when Python runs unbuffered, as with ``PYTHONUNBUFFERED``). Here RECORD
lines collect in a buffer that is written out when it reaches 64 KiB and before every other
message, so a STATE never reaches the target ahead of the records it covers. A stream flushes
what is left when its sync ends, however it ends (`StreamOutput._sync_records`).

`write_record` is the direct path for a record that needs no stream map, no property
deselection and no type conformance: the RECORD message is encoded straight from the
record, without building singer-sdk's message object. `write_records` does the same for a
run of records of one page, around bytes framed once (`record_frame`).
"""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime, timezone

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import RecordMessage, StateMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message

BLOCK = 64 * 1024


class BlockWriter(MsgSpecWriter):
    """See the module docstring."""

    def __init__(self) -> None:
        """Start with an empty block."""
        self._pending = bytearray()
        #: whether the last message written was a STATE
        self.state_last = False

    @override
    def write_message(self, message: Message) -> None:
        """Add the message to the block; flush unless it is a RECORD in a block not full."""
        self._pending += self.format_message(message)
        self.state_last = isinstance(message, StateMessage)
        if not isinstance(message, RecordMessage) or len(self._pending) >= BLOCK:
            self.flush()

    def write_record(self, message: dict[str, t.Any]) -> None:
        """Write a RECORD message given as its dict (``type``, ``stream``, ``record``...)."""
        pending = self._pending
        encoder.encode_into(message, pending, -1)
        pending += b"\n"
        self.state_last = False
        if len(pending) >= BLOCK:
            self.flush()

    @staticmethod
    def record_frame(
        stream: str, version: int | None, time_extracted: str | None
    ) -> tuple[bytes, bytes]:
        """What goes before and after the record in a RECORD line of ``stream``: the bytes
        `write_record` would write around it for the same message.
        """
        head = b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'
        tail = b',"version":' + encoder.encode(version) if version is not None else b""
        when = time_extracted or datetime.now(timezone.utc).isoformat()
        return head, tail + b',"time_extracted":' + encoder.encode(when) + b"}\n"

    def write_records(self, records: list[dict[str, t.Any]], frame: tuple[bytes, bytes]) -> None:
        """Write one RECORD line per record, framed by `record_frame`."""
        head, tail = frame
        pending = self._pending
        self.state_last = self.state_last and not records
        encode_into = encoder.encode_into
        for record in records:
            pending += head
            encode_into(record, pending, -1)
            pending += tail
        if len(pending) >= BLOCK:
            self.flush()

    def flush(self) -> None:
        """Write out what is pending."""
        if self._pending:
            out = sys.stdout.buffer
            out.write(self._pending)
            out.flush()
            self._pending.clear()
