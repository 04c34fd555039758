"""Each API's own timestamp format, plus the strict parsers its filters need.

Internally every instant is an integer of milliseconds since the Unix epoch (UTC); these
functions turn it into the exact string a given API writes, and back.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import date, datetime, timezone

MS_PER_DAY = 86_400_000


_DATES: dict[int, str] = {}


def _date(day: int) -> str:
    """``YYYY-MM-DD`` of a day number since the epoch (cached: formatting is hot)."""
    text = _DATES.get(day)
    if text is None:
        year, month, mday = time.gmtime(day * 86_400)[:3]
        text = f"{year:04d}-{month:02d}-{mday:02d}"
        _DATES[day] = text
    return text


def _split(ms: int) -> tuple[str, int, int, int, int]:
    day, rest = divmod(ms, MS_PER_DAY)
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return _date(day), hour, minute, second, millis


def utc_millis_z(ms: int) -> str:
    """``2024-03-01T12:00:00.123Z`` — storefront and orders."""
    return "%sT%02d:%02d:%02d.%03dZ" % _split(ms)  # noqa: UP031 - twice as fast as format(), per record


def utc_seconds_z(ms: int) -> str:
    """``2024-03-01T12:00:00Z`` — digital."""
    return "%sT%02d:%02d:%02dZ" % _split(ms)[:4]  # noqa: UP031 - twice as fast as format(), per record


def naive_utc(ms: int) -> str:
    """``2024-03-01T12:00:00`` — shop (naive, but UTC)."""
    return "%sT%02d:%02d:%02d" % _split(ms)[:4]  # noqa: UP031 - twice as fast as format(), per record


def _nth_sunday_utc(year: int, month: int, nth: int, hour_utc: int) -> int:
    """Epoch milliseconds of the ``nth`` Sunday of a month at ``hour_utc``."""
    first_weekday = calendar.weekday(year, month, 1)  # Monday == 0
    day = 1 + (6 - first_weekday) % 7 + 7 * (nth - 1)
    return calendar.timegm((year, month, day, hour_utc, 0, 0)) * 1000


_DST: dict[int, tuple[int, int]] = {}


def _us_eastern_offset_hours(ms: int) -> int:
    """-4 during US daylight saving time (2nd Sunday of March to 1st Sunday of November,
    02:00 local both ways), else -5. No tz database needed, and DST makes the offsets vary
    between records as a real merchant's local timestamps do.
    """
    year = int(_date(ms // MS_PER_DAY)[:4])
    bounds = _DST.get(year)
    if bounds is None:
        bounds = (_nth_sunday_utc(year, 3, 2, 7), _nth_sunday_utc(year, 11, 1, 6))
        _DST[year] = bounds
    return -4 if bounds[0] <= ms < bounds[1] else -5


def us_eastern_millis(ms: int) -> str:
    """``2024-03-01T07:00:00.127-05:00`` — payments (the merchant's local time)."""
    hours = _us_eastern_offset_hours(ms)
    return "%sT%02d:%02d:%02d.%03d-%02d:00" % (*_split(ms + hours * 3_600_000), -hours)  # noqa: UP031 - twice as fast as format(), per record


# Strict parsers -------------------------------------------------------------------------

_UTC_MILLIS_Z = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_utc_millis_z(text: str) -> int | None:
    """Parse exactly ``YYYY-MM-DDTHH:MM:SS.sssZ``; anything else (offsets, missing millis,
    impossible dates) gives ``None``.
    """
    m = _UTC_MILLIS_Z.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
    try:
        dt = datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)
    except ValueError:
        return None
    return calendar.timegm(dt.timetuple()) * 1000 + ms


def parse_date(text: str) -> date | None:
    """Parse exactly ``YYYY-MM-DD``."""
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(*(int(g) for g in m.groups()))
    except ValueError:
        return None


def date_start_ms(d: date) -> int:
    """Epoch milliseconds of a day's midnight UTC."""
    return calendar.timegm(d.timetuple()) * 1000


def to_millis(value: datetime | date | str | float) -> int:
    """Epoch milliseconds of a datetime (naive = UTC), a date (its midnight UTC), an ISO
    string of either, or epoch seconds.
    """
    if isinstance(value, (int, float)):
        return int(value * 1000)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        value = (
            datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
        )
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return round(value.timestamp() * 1000)
    return date_start_ms(value)


def today_midnight_ms() -> int:
    """The current UTC date at midnight: the default anchor of generated data."""
    now = int(time.time() * 1000)
    return now - now % MS_PER_DAY
