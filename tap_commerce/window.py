"""The incremental window of a stream in one run, and how its bounds go into a request.

The window runs from the bookmark − ``lookback_window`` (else ``start_date``, else the
beginning) to ``end_date`` (else the moment the sync started), both ends inclusive.
Records outside it are not emitted, whatever the API returned; where the definition has a
server-side filter, the same bounds are sent (`filter_bounds`), written as its
``x-format`` says (`format_bound`).
"""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import datetime, timedelta, timezone

from tap_commerce.errors import BadResponseError
from tap_commerce.normalize import floor_millis, format_datetime, parse_datetime

if t.TYPE_CHECKING:
    import logging

    from tap_commerce.definition import IncrementalSpec
    from tap_commerce.settings import Settings

#: the lower bound of a filter that must be sent but has no bound of its own
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class Window:
    """The incremental window of one stream in one run (both bounds inclusive unless the
    definition's ``range_start``/``range_end`` say ``open``).
    """

    lower: datetime | None
    upper: datetime
    lower_text: str | None
    upper_text: str
    lower_open: bool = False
    upper_open: bool = False

    def admits(self, value: str) -> bool:
        """Whether a canonical date-time string lies in the window."""
        lower, upper = self.lower_text, self.upper_text
        if lower is not None and (value <= lower if self.lower_open else value < lower):
            return False
        return value < upper if self.upper_open else value <= upper


def compute(
    *,
    stream: str,
    replication_key: str,
    incremental: IncrementalSpec | None,
    state: dict[str, t.Any],
    settings: Settings,
    started_at: datetime,
    logger: logging.Logger,
) -> Window:
    """This run's window of a stream, from its ``state`` (see the module docstring).

    Progress markers start empty each run; seeding them with the bookmark keeps the
    bookmark from moving backwards when only look-back records arrive.
    """
    end = settings.end_date
    if end is None and incremental is not None and incremental.end_value is not None:
        end = parse_datetime(incremental.end_value)
    upper = floor_millis(end or started_at)
    bookmark = state.get("replication_key_value")
    lookback = settings.lookback_window
    if lookback is None:
        lookback = (incremental.lag if incremental else None) or 0
    lower: datetime | None
    if bookmark and state.get("replication_key") == replication_key:
        lower = parse_bookmark(bookmark, stream) - timedelta(seconds=lookback)
        markers = state.setdefault("progress_markers", {})
        markers.setdefault("Note", "Progress is not resumable if interrupted.")
        markers.setdefault("replication_key", replication_key)
        markers.setdefault("replication_key_value", bookmark)
    else:
        lower = settings.start_date
    if lower is not None and lower > upper:
        lower = upper
    logger.info(
        "stream '%s': incremental window %s .. %s",
        stream,
        format_datetime(lower) if lower else "(beginning)",
        format_datetime(upper),
    )
    return Window(
        lower=lower,
        upper=upper,
        lower_text=format_datetime(lower) if lower else None,
        upper_text=format_datetime(upper),
        lower_open=incremental is not None and incremental.range_start == "open",
        upper_open=incremental is not None and incremental.range_end == "open",
    )


def filter_bounds(
    window: Window, incremental: IncrementalSpec, settings: Settings
) -> tuple[datetime, datetime] | None:
    """The bounds to send to the API's filter, or None to send no filter (a read of the
    whole history): the window's, with the lower one from the definition's
    ``initial_value`` when the window has none, or the epoch when only an end is set.
    """
    lower = window.lower
    if lower is None:
        if incremental.initial_value is not None:
            lower = parse_datetime(incremental.initial_value)
        elif settings.end_date is not None or incremental.end_value is not None:
            lower = EPOCH
        else:
            return None
    return lower, window.upper


def format_bound(moment: datetime, value_format: str | None) -> str:
    """A bound as the API's filter takes it: ``x-format`` (strftime, with ``%ms`` for
    milliseconds and ``%s`` for UNIX seconds) in UTC, else the canonical RFC 3339 form.
    """
    if value_format is None:
        return format_datetime(moment)
    moment = moment.astimezone(timezone.utc)
    text = value_format.replace("%ms", f"{moment.microsecond // 1000:03d}")
    if "%s" in text:
        text = text.replace("%s", str(int(moment.timestamp())))
    return moment.strftime(text)


def parse_bookmark(value: t.Any, stream: str) -> datetime:
    """A bookmark's instant.

    Raises:
        BadResponseError: naming the stream, when the state holds no date-time.
    """
    try:
        return parse_datetime(str(value))
    except ValueError:
        msg = f"stream '{stream}': the state's bookmark {value!r} is not a date-time; fix or drop the state"
        raise BadResponseError(msg) from None
