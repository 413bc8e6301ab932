"""Dates and timestamps as people write them → typed values, as Polars expressions.

Accepted text (leading/trailing blanks and letter case ignored):

* year first ``2025-07-07``, ``2025-7-7 9:30``, ``2025-07-07T09:30:00.250``, ``2025/07/07``, ``2025.07.07``;
* day and month with slashes, dots or dashes ``15/03/2024``, ``15.03.2024 09:30``, ``15-03-2024`` —
  day first by default (Thai, British and most non-US exports); ``date_order="mdy"`` reads
  ``03/15/2024`` instead;
* month names, English or Thai, full or abbreviated: ``15 Mar 2024``, ``15-MAR-2024``,
  ``March 15, 2024``, ``Fri, 15 Mar 2024``, ``15 มี.ค. 2567``, ``15 มีนาคม พ.ศ. 2567``;
* a time with ``:`` or the Thai ``.`` (``10.30 น.``, ``เวลา 10.30``), 12-hour ``2:30 PM`` / ``2:30 p.m.``;
* an optional offset after the time: ``Z``, ``+07:00``, ``+0700``, ``+07``, ``UTC``, ``GMT+7`` (after a bare
  date only in the ISO form ``2024-03-15Z`` / ``2024-03-15+07:00``); beyond ±14:00 it is not a time.

Two-digit years (``15/03/67``) are not read: the century (and the era) cannot be told.

Buddhist-era years (พ.ศ., Gregorian + 543): ``calendar="buddhist"`` subtracts 543 from every year,
``"auto"`` only from years above 2400, ``"gregorian"`` never. The shift is applied to the year
*before* the date is built, so ``29/02/2567`` is 2024-02-29 (2567 BE is a leap year because 2024 is).

Excel: a date cell that holds a plain number (a serial date such as ``45366.5``, 2024-03-15 12:00)
is read as one when the source is a workbook.

Time zones: a value with an offset is an instant; a naive value is wall-clock time in the source's
zone. A naive time inside a daylight-saving gap does not exist: it is read as the same wall-clock
time one hour later ("shift forward", as pandas and dateutil do). A naive time in the repeated hour
of an overlap takes the earlier instant. Both are counted by :func:`dst_adjustment`.
"""

from __future__ import annotations

from datetime import datetime, time

import polars as pl

from transforms.schema import BLANKS

BUDDHIST_ERA_OFFSET = 543
AUTO_BUDDHIST_ABOVE = 2400  # with calendar="auto", a year above this is Buddhist era

# Matched case-insensitively, after month names became ``~MM~`` (see _MONTH_NAMES).
_TIME = (
    r"(?:(?:t|\s*,\s*|\s+(?:เวลา\s*)?)(?P<H>[0-9]{1,2})[:.](?P<M>[0-9]{2})"
    r"(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]{1,6})[0-9]*)?)?(?:\s*(?P<ap>[ap])\.?m\.?)?(?:\s*(?:น\.?|นาฬิกา))?"
    r"\s*(?P<off>z|(?:utc|gmt)(?:\s*[+-][0-9]{1,2}(?::?[0-9]{2})?)?|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\s*$"
)
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*)?"
_ISO_DATE = r"(?P<y1>[0-9]{4})[-/.](?P<m1>[0-9]{1,2})[-/.](?P<d1>[0-9]{1,2})"
# ISO 8601 / XML Schema also zone a bare year-first date: 2024-03-15Z, 2024-03-15+07:00
_ISO_DATE_ZONED = _ISO_DATE + r"(?P<doff>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
_DMY_DATE = r"(?P<d2>[0-9]{1,2})[/.\-](?P<m2>[0-9]{1,2})[/.\-](?P<y2>[0-9]{4})"
_MDY_DATE = r"(?P<m2>[0-9]{1,2})[/.\-](?P<d2>[0-9]{1,2})[/.\-](?P<y2>[0-9]{4})"
_NAMED_DMY = r"(?P<d3>[0-9]{1,2})[\s\-/.,]*~(?P<m3>[0-9]{2})~[\s\-/.,]*(?P<y3>[0-9]{4})"
_NAMED_MDY = r"~(?P<m4>[0-9]{2})~[\s\-/.,]*(?P<d4>[0-9]{1,2})(?:st|nd|rd|th)?[\s,]+(?P<y4>[0-9]{4})"
_DATE_FIELDS = {"y": ("y1", "y2", "y3", "y4"), "m": ("m1", "m2", "m3", "m4"), "d": ("d1", "d2", "d3", "d4")}
# numbers only (most exports): ISO or day/month order, a 24-hour time, a numeric offset
# an offset or zone only after a time: "15-03-2024-07" is no date, not 15 March at UTC-7
_PLAIN_TIME = (
    r"(?:(?:T|\s+)(?P<H>[0-9]{1,2})[:.](?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]{1,6})[0-9]*)?)?"
    r"\s*(?P<off>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\s*$"
)
_PLAIN_FIELDS = ("y1", "m1", "d1", "y2", "m2", "d2", "H", "M", "S", "f", "off", "doff")
_PARTS = (*(f for group in _DATE_FIELDS.values() for f in group), "H", "M", "S", "f", "ap", "off", "doff")

_MONTHS_EN = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
_MONTHS_TH = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
_MONTHS_TH_SHORT = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")


def _month_names() -> dict[str, str]:
    """Month name → ``~MM~``, longest spellings first (they are matched leftmost-first); the era
    markers พ.ศ. (Buddhist era) and ค.ศ. (common era) are dropped — the calendar setting reads the year."""
    names: dict[str, str] = {}
    for number, (en, th, short) in enumerate(zip(_MONTHS_EN, _MONTHS_TH, _MONTHS_TH_SHORT, strict=True), start=1):
        mark = f"~{number:02d}~"
        names |= {en: mark, th: mark, short: mark, short.replace(".", ""): mark}
    names |= {"sept": "~09~"} | {en[:3]: f"~{n:02d}~" for n, en in enumerate(_MONTHS_EN, start=1)}
    names |= {"พ.ศ.": " ", "ค.ศ.": " "}
    return dict(sorted(names.items(), key=lambda item: -len(item[0])))


_MONTH_NAMES = _month_names()


# Thai (๐–๙) and full-width (０–９) digits are read as the digits they are
NATIVE_DIGITS = {**{chr(0x0E50 + i): str(i) for i in range(10)}, **{chr(0xFF10 + i): str(i) for i in range(10)}}
MIN_YEAR, MAX_YEAR = 1800, 2200  # outside this, a written date is a placeholder (0001-01-01), not a date


def parts(raw: pl.Expr, date_order: str = "dmy") -> pl.Expr:
    """One regex pass: text → a struct of the written date/time parts (all String, NULL if absent).

    Materialise it once (``with_columns``) and derive values with :func:`timestamp_from_parts` /
    :func:`date_from_parts`: each field access on an expression would re-run the regex.
    """
    other = _DMY_DATE if date_order == "dmy" else _MDY_DATE
    plain_pattern = f"^(?:{_ISO_DATE_ZONED}|{other})" + _PLAIN_TIME
    full_pattern = f"(?i)^{_WEEKDAY}(?:{_ISO_DATE_ZONED}|{other}|{_NAMED_DMY}|{_NAMED_MDY})" + _TIME

    def extract(values: pl.Series) -> pl.Series:
        # most values are plain numbers: one small regex; only the others (month names, 12-hour or
        # Thai times, zone names) go through the larger one, which costs half as much again per value
        text = values.to_frame("t").select(pl.col("t").str.strip_chars(BLANKS).str.replace_many(list(NATIVE_DIGITS), list(NATIVE_DIGITS.values())))
        found = text.with_columns(plain=pl.col("t").str.extract_groups(plain_pattern)).unnest("plain")
        rest = pl.col("t").str.replace_many(list(_MONTH_NAMES), list(_MONTH_NAMES.values()), ascii_case_insensitive=True, leftmost=True)
        found = found.with_columns(
            full=pl.when(pl.col("y1").is_null() & pl.col("y2").is_null()).then(rest).str.extract_groups(full_pattern)
        )
        merged = {
            f: pl.coalesce(pl.col(f), pl.col("full").struct.field(f)) if f in _PLAIN_FIELDS else pl.col("full").struct.field(f)
            for f in _PARTS
        }
        merged["off"] = pl.coalesce(merged.pop("doff"), merged["off"]).str.to_lowercase()  # a zoned bare date's zone
        merged["ap"] = merged["ap"].str.to_lowercase()
        return found.select(pl.struct(**merged)).to_series()

    expr = pl.lit(raw) if isinstance(raw, pl.Series) else raw
    return expr.map_batches(extract, return_dtype=pl.Struct({f: pl.String for f in _PARTS if f != "doff"}))


def _field(p: pl.Expr, name: str) -> pl.Expr:
    if name in _DATE_FIELDS:
        return pl.coalesce([p.struct.field(f) for f in _DATE_FIELDS[name]])
    return p.struct.field(name)


def _year(year_text: pl.Expr, calendar: str) -> pl.Expr:
    year = year_text.cast(pl.Int32, strict=False)
    if calendar == "buddhist":
        year = year - BUDDHIST_ERA_OFFSET
    elif calendar == "auto":
        year = pl.when(year > AUTO_BUDDHIST_ABOVE).then(year - BUDDHIST_ERA_OFFSET).otherwise(year)
    return pl.when(year.is_between(MIN_YEAR, MAX_YEAR)).then(year)


def date_from_parts(p: pl.Expr, calendar: str = "gregorian") -> pl.Expr:
    """Parts → ``pl.Date`` (the era shift is applied to the year first); NULL if not a real date."""
    iso = pl.concat_str(
        _year(_field(p, "y"), calendar).cast(pl.String).str.zfill(4),
        pl.lit("-"),
        _field(p, "m").str.zfill(2),
        pl.lit("-"),
        _field(p, "d").str.zfill(2),
    )
    return iso.str.to_date("%Y-%m-%d", strict=False)  # 2025-02-29 → NULL


def local_date_from_parts(p: pl.Expr, date_zone: str, calendar: str = "gregorian") -> pl.Expr:
    """Parts → ``pl.Date``: a value written as an instant (with an offset, ``Z``, ``UTC``) is the day
    it falls on in `date_zone` (``2025-03-14T20:00:00Z`` is 2025-03-15 in Asia/Bangkok); any other is
    the date as written (a time without an offset is ignored: an Excel date cell reads as midnight).

    Rule: a deal is closed and a customer won on a day of the sales team's calendar (the classification
    time zone), in which visit dates are counted too, so that the closing-day rule (README,
    Classification rules: a visit on the closing day is still a prospect visit) compares days of one
    calendar; HubSpot writes ``closedate`` as a UTC instant."""
    written = date_from_parts(p, calendar)
    # only a written midnight can be a date stored as an instant (19:00-05:00 is midnight UTC too, and an evening)
    stored_date = naive_from_parts(p, calendar).dt.time() == pl.lit(time(0))
    local = instant_day(timestamp_from_parts(p, "UTC", calendar), date_zone, stored_date)
    return pl.when(_field(p, "off").is_not_null()).then(local).otherwise(written)


def instant_day(instant: pl.Expr, date_zone: str, may_be_date: pl.Expr | bool = True) -> pl.Expr:
    """The day an instant (``Datetime`` with a zone) falls on in `date_zone`, for date columns; an
    instant at exactly midnight UTC is the date it names where `may_be_date` (default: always; text
    passes whether its written time is midnight): a date stored as a UTC instant (pandas' ``to_json``
    writes dates as epoch milliseconds of midnight UTC, a database may keep a date as ``timestamptz``)
    is that date in every zone, not the day before west of Greenwich."""
    utc = instant.dt.convert_time_zone("UTC")
    stored = (utc.dt.time() == pl.lit(time(0))) & may_be_date
    return pl.when(stored).then(utc.dt.date()).otherwise(utc.dt.convert_time_zone(date_zone).dt.date())


def naive_from_parts(p: pl.Expr, calendar: str = "gregorian") -> pl.Expr:
    """Parts → naive ``Datetime("us")`` wall-clock time, ignoring any offset; NULL if invalid."""
    written, minute, second = (_field(p, k).cast(pl.Int64, strict=False).fill_null(0) for k in ("H", "M", "S"))
    micros = _field(p, "f").str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0)
    half = _field(p, "ap")  # 12-hour clock: 12:05 am is 00:05, 12:05 pm is 12:05, 1 pm is 13:00
    hour = pl.when(half == "p").then(written % 12 + 12).when(half == "a").then(written % 12).otherwise(written)
    valid_hour = pl.when(half.is_null()).then(written < 24).otherwise(written.is_between(1, 12))
    naive = date_from_parts(p, calendar).cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute, seconds=second, microseconds=micros
    )
    return pl.when(valid_hour & (minute < 60) & (second < 60)).then(naive)


def naive_local_from_parts(p: pl.Expr, calendar: str = "gregorian") -> pl.Expr:
    """Like :func:`naive_from_parts`, but NULL where an offset was written (the value is an instant)."""
    return pl.when(_field(p, "off").is_null()).then(naive_from_parts(p, calendar))


def timestamp_from_parts(p: pl.Expr, timezone: str, calendar: str = "gregorian") -> pl.Expr:
    """Parts → ``Datetime("us", "UTC")``: with an offset an instant, else wall time in `timezone`."""
    naive = naive_from_parts(p, calendar)
    off = _field(p, "off")  # z | utc | gmt | [utc|gmt]±h[h][[:]mm]
    shift = off.str.extract_groups(r"(?P<sign>[+-])(?P<h>[0-9]{1,2})(?::?(?P<m>[0-9]{2}))?$")
    hours = shift.struct.field("h").cast(pl.Int64, strict=False)
    mins = shift.struct.field("m").cast(pl.Int64, strict=False).fill_null(0)
    offset_min = pl.when(hours.is_null()).then(0).otherwise(
        (hours * 60 + mins) * pl.when(shift.struct.field("sign") == "-").then(-1).otherwise(1)
    )
    # real offsets run from -12:00 to +14:00 with minutes below 60; anything beyond ±14:00 is not a time
    valid_offset = off.is_in(["z", "utc", "gmt"]) | ((mins < 60) & ((hours * 60 + mins) <= 14 * 60)).fill_null(False)
    aware = pl.when(valid_offset).then((naive - pl.duration(minutes=offset_min)).dt.replace_time_zone("UTC"))
    return pl.when(off.is_not_null()).then(aware).otherwise(localize(naive, timezone))


EXCEL_EPOCH = datetime(1899, 12, 30)  # serial day 0 of Excel's 1900 date system (after its 1900 leap-year bug)
EXCEL_1904_EPOCH = datetime(1904, 1, 1)  # serial day 0 of the 1904 date system (Mac Excel)


def in_year_range(value: pl.Expr) -> pl.Expr:
    """A typed date/datetime outside MIN_YEAR..MAX_YEAR (a placeholder such as 0001-01-01) → NULL."""
    return pl.when(value.dt.year().is_between(MIN_YEAR, MAX_YEAR)).then(value)


def naive_from_excel_serial(raw: pl.Expr, date1904: bool = False) -> pl.Expr:
    """A number in a date cell (``45366``, ``45366.5``) as an Excel serial date → naive ``Datetime("us")``.

    Only plain non-negative numbers up to six digits qualify; anything else gives NULL. Workbooks
    on the 1904 date system (Mac Excel: day 0 is 1904-01-01) count from that epoch instead.
    """
    text = raw.str.strip_chars(BLANKS)
    days = pl.when(text.str.contains(r"^[0-9]{1,6}(\.[0-9]+)?$")).then(text.cast(pl.Float64, strict=False))
    epoch = EXCEL_1904_EPOCH if date1904 else EXCEL_EPOCH
    return pl.lit(epoch, dtype=pl.Datetime("us")) + pl.duration(microseconds=(days * 86_400_000_000).round().cast(pl.Int64))


def from_epoch_text(raw: pl.Expr) -> pl.Expr:
    """Text of exactly 10 digits (epoch seconds) or 13 digits (epoch milliseconds, HubSpot) → UTC instant."""
    text = raw.str.strip_chars(BLANKS)
    seconds = pl.when(text.str.contains(r"^[0-9]{10}$")).then(text.cast(pl.Int64, strict=False) * 1_000_000)
    millis = pl.when(text.str.contains(r"^[0-9]{13}$")).then(text.cast(pl.Int64, strict=False) * 1_000)
    return pl.coalesce(seconds, millis).cast(pl.Datetime("us", "UTC"))


def from_epoch_number(raw: pl.Expr) -> pl.Expr:
    """An integer of 10 digits (epoch seconds) or 13 digits (epoch milliseconds) → UTC instant, else NULL."""
    value = raw.cast(pl.Int64, strict=False)
    micros = (
        pl.when(value.is_between(1_000_000_000, 9_999_999_999)).then(value * 1_000_000)
        .when(value.is_between(1_000_000_000_000, 9_999_999_999_999)).then(value * 1_000)
    )
    return micros.cast(pl.Datetime("us", "UTC"))


def slash_fields(raw: pl.Expr) -> pl.Expr:
    """The first two fields of a date written with slashes, dots or dashes (``15/03/2024``) as Int32s, else NULL."""
    text = raw.str.strip_chars(BLANKS).str.replace_many(list(NATIVE_DIGITS), list(NATIVE_DIGITS.values()))
    groups = text.str.extract_groups(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-][0-9]{4}")
    return pl.struct(first=groups.struct.field("1").cast(pl.Int32), second=groups.struct.field("2").cast(pl.Int32))


def decide_date_order(fields: pl.DataFrame) -> str | None:
    """Rule (issue #9): which order a column's slash/dot dates are written in, from their values.

    In: one row per value, ``first`` and ``second`` (Int32, NULL for other forms) from
    :func:`slash_fields`. A first field above 12 can only be a day: ``dmy``; a second field above 12:
    ``mdy``; both: ``both`` (the column mixes orders: an error); neither, while such dates exist:
    None (nothing decides: the caller assumes day first and says so); no such dates: ``dmy``.
    """
    found = fields.select(
        any=pl.col("first").is_not_null().any(),
        first=(pl.col("first") > 12).any(),
        second=(pl.col("second") > 12).any(),
    ).row(0, named=True)
    if found["first"] and found["second"]:
        return "both"
    if found["first"]:
        return "dmy"
    if found["second"]:
        return "mdy"
    return None if found["any"] else "dmy"


def parse_timestamp(raw: pl.Expr, timezone: str, calendar: str = "gregorian", date_order: str = "dmy") -> pl.Expr:
    """Text → ``Datetime("us", "UTC")`` in one expression (small inputs; frames use parts once)."""
    return timestamp_from_parts(parts(raw, date_order), timezone, calendar)


def parse_date(raw: pl.Expr, calendar: str = "gregorian", date_order: str = "dmy") -> pl.Expr:
    """Text → ``pl.Date`` in one expression (a time part is allowed and ignored)."""
    return date_from_parts(parts(raw, date_order), calendar)


def localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    """Naive wall-clock datetimes in `timezone` → UTC instants (gap: shift forward 1 h; overlap: earlier)."""
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    shifted = (naive + pl.duration(hours=1)).dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return pl.coalesce(local, shifted).dt.convert_time_zone("UTC")


def dst_adjustment(naive: pl.Expr, timezone: str) -> pl.Expr:
    """``"gap"`` / ``"overlap"`` for naive datetimes that needed the DST policy, else NULL."""
    earliest = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    latest = naive.dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null")
    return (
        pl.when(naive.is_not_null() & earliest.is_null())
        .then(pl.lit("gap"))
        .when(earliest != latest)
        .then(pl.lit("overlap"))
    )


def written_era(p: pl.Expr) -> pl.Expr:
    """``"buddhist"`` where the written year is above 2400, ``"gregorian"`` for other dates, else NULL."""
    year = _field(p, "y").cast(pl.Int32, strict=False)
    return pl.when(year > AUTO_BUDDHIST_ABOVE).then(pl.lit("buddhist")).when(year.is_not_null()).then(pl.lit("gregorian"))


def fixed_offset_us(timezone: str, first_year: int, last_year: int) -> int | None:
    """The zone's UTC offset in microseconds when it kept one offset from the year before
    `first_year` to the year after `last_year` (checked twice a month), else None."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    start = datetime(max(first_year - 1, 1), 1, 1)
    days = (min(last_year + 2, 9999) - start.year) * 366
    offsets = {(start + timedelta(days=d)).replace(tzinfo=zone).utcoffset() for d in range(0, days, 15)}
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds() * 1_000_000) if offset is not None else None


def has_no_dst(timezone: str) -> bool:
    """True when `timezone` kept one UTC offset from 1990 to 2040 (no gap or overlap to check)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    start = datetime(1990, 1, 1)
    offsets = {(start + timedelta(days=30 * i)).replace(tzinfo=zone).utcoffset() for i in range(0, 12 * 50 + 1)}
    return len(offsets) == 1
