"""Date-time parsing and the one canonical form every emitted date-time takes.

The canonical form is RFC 3339 in UTC with a ``+00:00`` offset and the fraction of a
second stripped of trailing zeros (``2024-03-01T12:00:00.12+00:00``, or no fraction at
all). It has two properties the rest of the tap relies on:

* one instant has exactly one spelling, and
* plain string comparison orders instants correctly ('+' sorts before '.' and before
  every digit), which is how singer-sdk compares bookmark values.

Only the standard library is used: ``datetime.fromisoformat`` is fast and exact, and a
strict regular expression covers the forms it rejects on Python 3.10 (``Z``, short
fractions) and the ones the APIs use that it never accepts (more than 6 fraction digits).
"""

from __future__ import annotations

import enum
import re
import typing as t
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime

UTC = timezone.utc

_ISO = re.compile(
    r"""
    (?P<date>\d{4}-\d{2}-\d{2})
    (?:[Tt\ ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?)?
    \s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    """,
    re.VERBOSE,
)


#: the number types read as UNIX seconds (``bool`` is not one of them)
_SECONDS = (int, float, Decimal)
#: RFC 2822 (RFC 5322 §3.3), as mail and many APIs write date-times:
#: ``Mon, 23 Nov 2015 18:42:29 +0000`` (the day name and the seconds are optional).
RFC2822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?\d{1,2}\s+"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{4}\s+"
    r"\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|UT|UTC|GMT|[ECMP][SD]T|Z)"
)


def parse_datetime(value: object) -> datetime:
    """Parse an ISO 8601 / RFC 3339 date or date-time (naive values are UTC), an RFC 2822
    date-time, or a number of UNIX seconds.

    Raises:
        ValueError: if the value is none of these.
    """
    if value.__class__ in _SECONDS:
        try:
            return datetime.fromtimestamp(float(t.cast("float", value)), UTC)
        except (OverflowError, OSError, ValueError):
            msg = f"UNIX time out of range: {value!r}"
            raise ValueError(msg) from None
    if not isinstance(value, str):
        msg = f"not a date-time: {value!r}"
        raise ValueError(msg)  # noqa: TRY004 - callers catch ValueError only: it is no date-time
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        slow = _parse_rfc2822 if RFC2822.fullmatch(value.strip()) else _parse_slow
        parsed = slow(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        msg = f"date-time out of range in UTC: {value!r}"
        raise ValueError(msg) from None


def _parse_rfc2822(value: str) -> datetime:
    """An RFC 2822 date-time (``-0000``, "no zone information", is read as UTC)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        msg = f"not an RFC 2822 date-time: {value!r}"
        raise ValueError(msg) from None
    return parsed


def _parse_slow(value: str) -> datetime:
    """`parse_datetime` of the forms ``datetime.fromisoformat`` rejects."""
    match = _ISO.fullmatch(value.strip())
    if not match:
        msg = f"not an RFC 3339 date-time: {value!r}"
        raise ValueError(msg)
    year, month, day = (int(part) for part in match["date"].split("-"))
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    result = datetime(  # noqa: DTZ001 - the offset is applied below
        year,
        month,
        day,
        int(match["h"] or 0),
        int(match["m"] or 0),
        int(match["s"] or 0),
        int(frac),
    )
    tz = match["tz"]
    if tz and tz not in "Zz":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        result = result.replace(tzinfo=timezone(sign * timedelta(minutes=minutes)))
    elif tz:
        result = result.replace(tzinfo=UTC)
    return result


def format_datetime(moment: datetime) -> str:
    """Spell an aware (or naive UTC) date-time in the canonical form."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat()
    if moment.microsecond:
        # isoformat gives exactly 6 fraction digits: "...SS.ffffff+00:00"
        head, offset = text[:-6], text[-6:]
        text = head.rstrip("0") + offset
    return text


# The spellings the APIs use (``YYYY-MM-DDTHH:MM:SS``, a fraction of 1 to 6 digits or none,
# then ``Z``, ``±HH:00`` or nothing) are checked and respelt by string operations and table
# lookups; anything else (an offset with minutes, another separator…) takes the general
# path, `_general`, which also says why a value is refused.
if t.TYPE_CHECKING:
    #: (hours to add for UTC, the UTC day before, the day, the day after)
    _Day: t.TypeAlias = tuple[int, str | None, str, str | None]

_memo: dict[str | float | Decimal, str] = {}
_MEMO_SIZE = 4096
_HOURS = {f"{h:02d}": h for h in range(24)}
_HH = [f"{h:02d}" for h in range(24)]
_SIXTY = frozenset(f"{m:02d}" for m in range(60))
_UTC_OFFSETS = ("", "Z", "+00:00", "-00:00")
#: day + offset -> (hours to add for UTC, the UTC day before, the day, the day after)
_days: dict[str, _Day | None] = {}
_ONE_DAY = timedelta(days=1)


def normalize_datetime(value: str | float | Decimal) -> str:
    """Return the canonical spelling of a date-time string (ValueError if it is none).

    Memoised: a record often repeats one instant (created = updated = paid).
    """
    result = _memo.get(value)
    if result is None:
        result = _canonical(value)
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[value] = result
    return result


def _canonical(value: t.Any) -> str:
    """An offset of whole hours moves only the hour, and the day when it crosses
    midnight: minutes, seconds and fraction are copied once checked, and what a day and
    an offset give (`_day`) is worked out once.
    """
    if value.__class__ is not str or len(value) < 19:  # noqa: PLR2004 - len("YYYY-MM-DDTHH:MM:SS")
        return _general(value)
    if value[-1] == "Z":
        body, offset = value[:-1], "Z"
    elif value[-3] == ":" and value[-6] in "+-":
        body, offset = value[:-6], value[-6:]
    else:
        body, offset = value, ""
    size = len(body)
    if (
        size < 19  # noqa: PLR2004 - positions in "YYYY-MM-DDTHH:MM:SS.ffffff"
        or body[10] != "T"
        or body[13] != ":"
        or body[16] != ":"
        or body[14:16] not in _SIXTY
        or body[17:19] not in _SIXTY
        or (size != 19 and (body[19] != "." or size > 26 or not body[20:].isdigit()))  # noqa: PLR2004 - the same
    ):
        return _general(value)
    hour = _HOURS.get(body[11:13])
    key = body[:10] + offset
    day: _Day | t.Literal[False] | None = _days.get(key, False)
    if day is False:
        day = _day(body[:10], offset)
        if len(_days) >= _MEMO_SIZE:
            _days.clear()
        _days[key] = day
    if day is None or hour is None:
        return _general(value)
    shift, before, same, after = day
    hour += shift
    if hour < 0:
        text, hour = before, hour + 24
    elif hour > 23:  # noqa: PLR2004 - the last hour of a day
        text, hour = after, hour - 24
    else:
        text = same
    if text is None:  # before year 1 or after 9999 in UTC
        return _general(value)
    fraction = body[20:].rstrip("0")
    if fraction:
        return f"{text}T{_HH[hour]}{body[13:19]}.{fraction}+00:00"
    return f"{text}T{_HH[hour]}{body[13:19]}+00:00"


def _general(value: object) -> str:
    """Every form `parse_datetime` reads, or its ValueError saying why not."""
    return format_datetime(parse_datetime(value))


def _day(text: str, offset: str) -> _Day | None:
    """What `_canonical` needs of a ``YYYY-MM-DD`` and an offset of whole hours, or None
    when either is not one (the general path then decides).
    """
    if offset in _UTC_OFFSETS:
        shift = 0
    else:
        hours = _HOURS.get(offset[1:3])
        if hours is None or offset[4:] != "00":
            return None
        shift = hours if offset[0] == "-" else -hours
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if day.isoformat() != text:
        return None
    before = (day - _ONE_DAY).isoformat() if day > date.min else None
    after = (day + _ONE_DAY).isoformat() if day < date.max else None
    return shift, before, text, after


def format_millis_z(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC, truncated to the millisecond."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def floor_millis(moment: datetime) -> datetime:
    """Drop sub-millisecond precision, so a bound sent to an API and the bound used
    client-side are the same instant.
    """
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def utc_date(moment: datetime) -> date:
    """The UTC calendar day of an instant."""
    return moment.astimezone(UTC).date()


# --- records -----------------------------------------------------------------------------

#: {field: None (a date-time) | the paths inside it}; "*" stands for every array item
DateTimePaths: t.TypeAlias = dict[str, "DateTimePaths | None"]


def datetime_paths(schema: dict[str, t.Any]) -> DateTimePaths:
    """Where a schema puts date-times, as a tree walked once per record.

    Computed once per stream, so the per-record work touches only the fields that need it.
    """
    tree: DateTimePaths = {}
    for name, prop in (schema.get("properties") or {}).items():
        sub = _subtree(prop)
        if sub is not _NOTHING:
            tree[name] = sub
    return tree


class _Nothing(enum.Enum):
    NOTHING = enum.auto()


#: what `_subtree` returns for a property without date-times
_NOTHING: t.Final = _Nothing.NOTHING


def _subtree(prop: dict[str, t.Any]) -> DateTimePaths | _Nothing | None:
    """The paths of one property: None if it is a date-time, else its subtree."""
    if prop.get("format") == "date-time":
        return None
    if "properties" in prop:
        tree = datetime_paths(prop)
        return tree or _NOTHING
    if "items" in prop:
        item = _subtree(prop["items"])
        return _NOTHING if item is _NOTHING else {"*": item}
    return _NOTHING


def normalize_datetimes(value: object, tree: DateTimePaths, bad: list[str], path: str = "") -> None:
    """Rewrite the date-times of a record (or nested value) in place to canonical form.

    Values that do not parse are left exactly as they came and their paths are appended
    to ``bad`` so the caller can decide (warn, or fail for a replication key).
    """
    if isinstance(value, list):
        sub = tree["*"]
        for index, item in enumerate(value):
            if sub is None:
                if item == "":
                    value[index] = None
                elif item.__class__ is str or item.__class__ in _SECONDS:
                    try:
                        value[index] = normalize_datetime(item)
                    except ValueError:
                        bad.append(f"{path}[{index}]")
            elif item is not None:
                normalize_datetimes(item, sub, bad, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    memo = _memo
    for name, sub in tree.items():
        item = value.get(name)
        if item is None:
            continue
        if sub is not None:
            normalize_datetimes(item, sub, bad, f"{path}.{name}" if path else name)
            continue
        if item.__class__ is str:
            result = memo.get(item)
            if result is None and not item:  # "": an unset date-time, as some APIs write it
                value[name] = None
                continue
        elif item.__class__ in _SECONDS:  # UNIX seconds
            result = None
        else:  # a boolean, an object…: no date-time
            bad.append(f"{path}.{name}" if path else name)
            continue
        if result is None:
            try:
                result = normalize_datetime(item)
            except ValueError:
                bad.append(f"{path}.{name}" if path else name)
                continue
        value[name] = result
