"""Reading Meltano 4's console output: the records and requests of each stream, and the
one line that says why a run failed.

Meltano prints every line of its plugins as ``TIME [level] PLUGIN MESSAGE``. A plugin's
own error lines come at ``error`` or ``critical``, but a traceback a plugin prints to
stderr (target-postgres's, for one) comes at ``info``, line by line: its last line, the
exception, is then the reason. Meltano's own closing lines ("Block run completed") say
only that something failed, and are passed over.

Used by `orchestrate.meltano_run` (a Dagster Pipes process) and by the demo's Meltano
runs; it needs nothing but the standard library.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Meltano 4's console line: time, [level], the plugin (or meltano), the message
LINE = re.compile(r"^\S+\s+\[(?P<level>[a-z]+)\s*\]\s+(?P<source>\S+)\s(?P<message>.*)$")
#: the plugin's name is padded to so many characters (`MeltanoConsoleRenderer`)
NAME_WIDTH = 12
#: the source of Meltano's own lines
MELTANO = "meltano"
METRIC = "METRIC: "
#: lines that say an error happened without saying which
VAGUE = (
    "An unhandled error occurred",
    "Block run completed",
    "Run completed",
    "Run invocation could not be completed",
)
TRACEBACK = "Traceback (most recent call last):"
#: the last line of a traceback: ``package.Name: message`` (or a bare ``Name``)
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::\s.*)?$")

#: PostgreSQL's answers when two sessions create the same schema, table, type or column at
#: once (``CREATE … IF NOT EXISTS`` is not atomic against a concurrent ``CREATE``): the
#: loaders of stores' first syncs into an empty schema race this way
CREATED_CONCURRENTLY = re.compile(
    r"\b(?:DuplicateSchema|DuplicateTable|DuplicateColumn|DuplicateObject)\b"
    r"|\bUniqueViolation\b.*\bpg_(?:namespace|type|class|attribute)_\w+_index\b"
)

#: tap-commerce's summary line of a stream (`tap_commerce.progress`)
SUMMARY = re.compile(
    r"^stream '(?P<stream>[^']+)': (?:done,|.+ after) (?P<records>[\d,]+) records?, "
    r"(?P<requests>[\d,]+) requests?, [\d.,]+ s, (?P<limited>[\d,]+) 429s"
)


def summarise(lines: Iterable[str], extractor: str) -> tuple[dict[str, int], str]:
    """The records per stream the tap counted (its ``record_count`` metrics), and the line
    that says why the run failed (`reason`), from Meltano's output.
    """
    kept = list(lines)
    records: Counter[str] = Counter()
    for source, _, message in _parsed(kept):
        text = message.strip()
        if source == extractor and text.startswith(METRIC):
            metric = _metric(text[len(METRIC) :])
            if metric.get("metric") == "record_count":
                stream = str((metric.get("tags") or {}).get("stream", "?"))
                records[stream] += int(metric.get("value") or 0)
    return dict(records), reason(kept)


def reason(lines: Iterable[str]) -> str:
    """Why a run failed, as ``PLUGIN: line``: a plugin's last error line (tap-commerce's
    own errors are one line naming the setting, stream or URL at fault), else the
    exception that ended the last traceback a plugin printed, else Meltano's own last
    error; ``""`` if none of them is there.
    """
    plugin_error = exception = meltano_error = ""
    in_traceback: dict[str, bool] = {}
    for source, level, message in _parsed(lines):
        text = message.strip()
        if source != MELTANO:
            if level in {"error", "critical"} and text and not text.startswith(VAGUE):
                plugin_error = f"{source}: {text}"
            if text == TRACEBACK:
                in_traceback[source] = True
            elif in_traceback.get(source) and message[:1] not in {" ", "\t"}:
                if EXCEPTION.match(text):
                    exception = f"{source}: {text}"
                in_traceback[source] = False
        elif level in {"error", "critical"} and text and not text.startswith(VAGUE):
            meltano_error = text
    return plugin_error or exception or meltano_error


def created_concurrently(why: str) -> bool:
    """Whether ``why`` (`reason`) is a loader losing a race to create what another
    session created at the same moment: running again finds it there.
    """
    return CREATED_CONCURRENTLY.search(why) is not None


def stream_totals(lines: Iterable[str], extractor: str) -> dict[str, dict[str, int]]:
    """Records, requests and 429s of each stream, from tap-commerce's summary lines
    (one a stream, child streams included, whose ``record_count`` metrics come per
    parent and are not all at INFO).
    """
    totals: dict[str, dict[str, int]] = {}
    for source, _, message in _parsed(lines):
        if source != extractor:
            continue
        summary = SUMMARY.match(message.strip())
        if summary is not None:
            totals[summary["stream"]] = {
                key: int(summary[key].replace(",", ""))
                for key in ("records", "requests", "limited")
            }
    return totals


def _parsed(lines: Iterable[str]) -> Iterable[tuple[str, str, str]]:
    """(source, level, message) of each of Meltano's console lines, the message as the
    plugin printed it (indented or not); other lines are skipped.
    """
    for line in lines:
        match = LINE.match(line.rstrip("\n"))
        if match is not None:
            source, message = match["source"], match["message"]
            padding = max(0, NAME_WIDTH - len(source))
            if message[:padding].strip() == "":
                message = message[padding:]
            yield source, match["level"], message


def _metric(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
