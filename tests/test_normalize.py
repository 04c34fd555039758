"""Date-times (contract §1.2): RFC 3339 in UTC whatever the API sent, one spelling per instant."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tap_commerce.normalize import (
    datetime_paths,
    format_millis_z,
    normalize_datetime,
    normalize_datetimes,
    parse_datetime,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2024-03-01T12:00:00.123Z", "2024-03-01T12:00:00.123+00:00"),  # storefront
        ("2024-03-01T07:00:00.127-05:00", "2024-03-01T12:00:00.127+00:00"),  # payments
        ("2024-03-01T12:00:00", "2024-03-01T12:00:00+00:00"),  # shop: naive is UTC
        ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00+00:00"),  # digital
        ("2024-03-01T12:00:00.000Z", "2024-03-01T12:00:00+00:00"),  # orders
        ("2024-03-01T12:00:00.1234567Z", "2024-03-01T12:00:00.123456+00:00"),
        ("2024-03-01 23:30:00+0130", "2024-03-01T22:00:00+00:00"),
        ("2024-03-01", "2024-03-01T00:00:00+00:00"),
    ],
)
def test_every_api_form_becomes_utc_rfc3339(raw: str, canonical: str) -> None:
    assert normalize_datetime(raw) == canonical


@pytest.mark.parametrize("raw", ["", "yesterday", "2024-13-01T00:00:00Z", "12:00", "2024/03/01"])
def test_non_dates_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(raw)


def test_string_order_of_canonical_forms_is_time_order() -> None:
    rng = random.Random(7)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    moments = [
        base
        + timedelta(
            seconds=rng.randint(0, 5),
            microseconds=rng.choice([0, 100000, 120000, 123000, 123456, 5]),
        )
        for _ in range(300)
    ]
    texts = [normalize_datetime(m.isoformat()) for m in moments]
    assert sorted(texts) == [normalize_datetime(m.isoformat()) for m in sorted(moments)]


def test_filter_form_is_millisecond_z() -> None:
    assert (
        format_millis_z(parse_datetime("2024-03-01T07:00:00.1279-05:00"))
        == "2024-03-01T12:00:00.127Z"
    )


def test_nested_date_times_are_found_from_the_schema_and_bad_ones_reported() -> None:
    schema = {"properties": {
        "id": {"type": "string"},
        "createdOn": {"type": ["string", "null"], "format": "date-time"},
        "payments": {"type": ["array", "null"], "items": {"type": ["object", "null"], "properties": {"paidOn": {"type": ["string", "null"], "format": "date-time"}}}},
        "attributes": {"type": ["object", "null"]},
    }}  # fmt: skip
    tree = datetime_paths(schema)
    record = {
        "id": "x",
        "createdOn": "2024-01-01T00:00:00Z",
        "payments": [{"paidOn": "2024-01-01T01:00:00-01:00"}, {"paidOn": None}, {"paidOn": "soon"}],
        "attributes": {"createdOn": "untouched"},
    }
    bad: list[str] = []
    normalize_datetimes(record, tree, bad)
    assert record["createdOn"] == "2024-01-01T00:00:00+00:00"
    assert record["payments"][0]["paidOn"] == "2024-01-01T02:00:00+00:00"
    assert record["payments"][1]["paidOn"] is None
    assert record["payments"][2]["paidOn"] == "soon" and bad == ["payments[2].paidOn"]
    assert record["attributes"] == {"createdOn": "untouched"}  # free-form keys are data


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T07:00:00.127-05:00", "2024-12-31T23:00:00-05:00", "2024-03-01T00:00:00.5-00:30",
        "2024-03-01T23:59:59.999999+14:00", "2024-03-01T12:00:00.100+00:00", "2024-03-01T12:00:00.000-00:00",
        "2024-03-01T12:00:00.123Z", "2024-03-01T12:00:00", "2024-03-01T12:00:00.000Z", "2024-03-01T12:00:00.1234567Z",
        "2024-03-01 12:00:00", "2024-03-01T12:00:00z", "2024-03-01T12:00", "2024-02-29T23:30:00-01:00",
        "2024-03-01T00:30:00.25+05:00", "2023-12-31T22:00:00-05:00", "2024-02-28T21:15:09+14:00",
    ],
)  # fmt: skip
def test_the_fast_spelling_equals_formatting_the_parsed_instant(value: str) -> None:
    from tap_commerce.normalize import format_datetime, normalize_datetime, parse_datetime  # noqa: PLC0415

    assert normalize_datetime(value) == format_datetime(parse_datetime(value))
    assert normalize_datetime(value) == normalize_datetime(value)  # memoised, same answer


@pytest.mark.parametrize("value", ["2024-02-30T12:00:00Z", "2024-13-01T00:00:00-05:00", "2024-03-01T25:00:00", "2024-03-01T12:00:00+99:00", "soon",
                                   "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])  # fmt: skip
def test_impossible_date_times_are_refused_on_the_fast_path_too(value: str) -> None:
    from tap_commerce.normalize import normalize_datetime  # noqa: PLC0415

    with pytest.raises(ValueError):
        normalize_datetime(value)


def test_the_fast_spelling_agrees_with_the_general_path_on_many_shapes() -> None:
    """Random date-times in every shape the fast path might misread (bad calendars and
    ranges, odd separators, fractions of 0 to 8 digits, offsets with and without minutes,
    with seconds, without a colon): the answer, or the refusal, equals the general
    path's."""
    import random  # noqa: PLC0415

    from tap_commerce import normalize  # noqa: PLC0415

    rng = random.Random(7)
    offsets = ["", "Z", "z", "+00:00", "-00:00", "-05:00", "+05:30", "-09:30", "+14:00", "+23:59",
               "+24:00", "-05", "-0500", "+05:00:30", "+5:00", "-05:60"]  # fmt: skip
    seen = 0
    for _ in range(20000):
        year = rng.choice([1, 999, 1969, 2024, 2025, 9999])
        parts = [
            f"{year:04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}",
            rng.choice("TT T t_"),
            f"{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}",
            rng.choice(["", f":{rng.randint(0, 60):02d}"]),
        ]
        if parts[-1] and rng.random() < 0.7:
            parts.append(
                rng.choice(".,")
                + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 8)))
            )
        parts.append(rng.choice(offsets))
        value = "".join(parts)
        normalize._memo.clear()
        try:
            expected = normalize.format_datetime(normalize.parse_datetime(value))
        except ValueError:
            with pytest.raises(ValueError):
                normalize.normalize_datetime(value)
            continue
        assert normalize.normalize_datetime(value) == expected, value
        seen += 1
    assert seen > 2000  # plenty of valid ones among them


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Mon, 23 Nov 2015 18:42:29 +0000", "2015-11-23T18:42:29+00:00"),
        ("Mon, 23 Nov 2015 13:42:29 -0500", "2015-11-23T18:42:29+00:00"),
        ("23 Nov 2015 18:42 GMT", "2015-11-23T18:42:00+00:00"),
        ("Tue, 1 Dec 2026 00:00:00 +0130", "2026-11-30T22:30:00+00:00"),
        (1448304149, "2015-11-23T18:42:29+00:00"),
        (1448304149.25, "2015-11-23T18:42:29.25+00:00"),
        (Decimal("1448304149.5"), "2015-11-23T18:42:29.5+00:00"),
        (0, "1970-01-01T00:00:00+00:00"),
        ("2024-03-01T17:30:00.123456+05:30", "2024-03-01T12:00:00.123456+00:00"),
        ("2024-03-01T12:00:00.1Z", "2024-03-01T12:00:00.1+00:00"),
    ],
)
def test_rfc_2822_unix_seconds_and_any_fraction_or_offset_become_utc_rfc3339(
    raw: object, canonical: str
) -> None:
    assert normalize_datetime(raw) == canonical  # type: ignore[arg-type]  # numbers too


@pytest.mark.parametrize(
    "raw", [True, False, "Mon, 32 Nov 2015 18:42:29 +0000", "1448304149", None]
)
def test_booleans_bad_rfc_2822_and_numeric_strings_are_no_date_times(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_datetime(raw)


def test_an_empty_string_in_a_date_time_field_leaves_as_null_and_other_values_stay() -> None:
    tree = datetime_paths(
        {
            "properties": {
                "paid_at": {"format": "date-time"},
                "seen": {"format": "date-time"},
                "flag": {"format": "date-time"},
                "times": {"items": {"format": "date-time"}},
                "id": {"type": "string"},
            }
        }
    )
    record = {
        "paid_at": "",
        "seen": 1448304149,
        "flag": True,
        "times": ["", 0, "Mon, 23 Nov 2015 18:42:29 +0000"],
        "id": "",
    }
    bad: list[str] = []
    normalize_datetimes(record, tree, bad)
    assert record == {
        "paid_at": None,
        "seen": "2015-11-23T18:42:29+00:00",
        "flag": True,  # no date-time: kept as it came, and reported
        "times": [None, "1970-01-01T00:00:00+00:00", "2015-11-23T18:42:29+00:00"],
        "id": "",  # not a date-time field: exactly as it came
    }
    assert bad == ["flag"]
