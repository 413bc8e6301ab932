"""Dates and timestamps as people write them → typed values, as Polars expressions.

Accepted text (leading/trailing blanks ignored):

* ISO order ``2025-07-07``, ``2025-7-7 9:30``, ``2025-07-07T09:30:00.250``;
* slash or dot order ``15/03/2024``, ``15.03.2024 09:30`` — day first by default (Thai, British
  and most non-US exports); ``date_order="mdy"`` reads ``03/15/2024`` instead;
* an optional offset after the time: ``Z``, ``+07:00``, ``+0700``, ``+07``.

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

from datetime import datetime

import polars as pl

BUDDHIST_ERA_OFFSET = 543
AUTO_BUDDHIST_ABOVE = 2400  # with calendar="auto", a year above this is Buddhist era

_TIME = r"(?:(?:T|\s+)(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]{1,6})[0-9]*)?)?)?"
_OFFSET = r"\s*(?P<off>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
_ISO_DATE = r"(?P<y1>[0-9]{4})-(?P<m1>[0-9]{1,2})-(?P<d1>[0-9]{1,2})"
_DMY_DATE = r"(?P<d2>[0-9]{1,2})[/.](?P<m2>[0-9]{1,2})[/.](?P<y2>[0-9]{4})"
_MDY_DATE = r"(?P<m2>[0-9]{1,2})[/.](?P<d2>[0-9]{1,2})[/.](?P<y2>[0-9]{4})"


# Thai (๐–๙) and full-width (０–９) digits are read as the digits they are
_DIGITS = {**{chr(0x0E50 + i): str(i) for i in range(10)}, **{chr(0xFF10 + i): str(i) for i in range(10)}}
MIN_YEAR, MAX_YEAR = 1800, 2200  # outside this, a written date is a placeholder (0001-01-01), not a date


def parts(raw: pl.Expr, date_order: str = "dmy") -> pl.Expr:
    """One regex pass: text → a struct of the written date/time parts (all String, NULL if absent).

    Materialise it once (``with_columns``) and derive values with :func:`timestamp_from_parts` /
    :func:`date_from_parts`: each field access on an expression would re-run the regex.
    """
    other = _DMY_DATE if date_order == "dmy" else _MDY_DATE
    text = raw.str.strip_chars().str.replace_many(list(_DIGITS), list(_DIGITS.values()))
    return text.str.extract_groups(f"^(?:{_ISO_DATE}|{other})" + _TIME + _OFFSET)


def _field(p: pl.Expr, name: str) -> pl.Expr:
    if name in ("y", "m", "d"):
        return pl.coalesce(p.struct.field(f"{name}1"), p.struct.field(f"{name}2"))
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


def naive_from_parts(p: pl.Expr, calendar: str = "gregorian") -> pl.Expr:
    """Parts → naive ``Datetime("us")`` wall-clock time, ignoring any offset; NULL if invalid."""
    hour, minute, second = (_field(p, k).cast(pl.Int64, strict=False).fill_null(0) for k in ("H", "M", "S"))
    micros = _field(p, "f").str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0)
    naive = date_from_parts(p, calendar).cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute, seconds=second, microseconds=micros
    )
    return pl.when((hour < 24) & (minute < 60) & (second < 60)).then(naive)


def naive_local_from_parts(p: pl.Expr, calendar: str = "gregorian") -> pl.Expr:
    """Like :func:`naive_from_parts`, but NULL where an offset was written (the value is an instant)."""
    return pl.when(_field(p, "off").is_null()).then(naive_from_parts(p, calendar))


def timestamp_from_parts(p: pl.Expr, timezone: str, calendar: str = "gregorian") -> pl.Expr:
    """Parts → ``Datetime("us", "UTC")``: with an offset an instant, else wall time in `timezone`."""
    naive = naive_from_parts(p, calendar)
    off = _field(p, "off")
    digits = off.str.replace_all(r"[^0-9]", "")
    minutes = digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60 + digits.str.slice(2, 2).cast(pl.Int64, strict=False).fill_null(0)
    offset_min = pl.when(off.str.to_lowercase() == "z").then(0).otherwise(
        minutes * pl.when(off.str.starts_with("-")).then(-1).otherwise(1)
    )
    # real offsets run from -12:00 to +14:00 with minutes below 60; anything else is not a time
    valid_offset = (off.str.to_lowercase() == "z") | (
        (digits.str.slice(0, 2).cast(pl.Int64, strict=False) <= 14)
        & (digits.str.slice(2, 2).cast(pl.Int64, strict=False).fill_null(0) < 60)
    ).fill_null(False)
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
    text = raw.str.strip_chars()
    days = pl.when(text.str.contains(r"^[0-9]{1,6}(\.[0-9]+)?$")).then(text.cast(pl.Float64, strict=False))
    epoch = EXCEL_1904_EPOCH if date1904 else EXCEL_EPOCH
    return pl.lit(epoch, dtype=pl.Datetime("us")) + pl.duration(microseconds=(days * 86_400_000_000).round().cast(pl.Int64))


def from_epoch_text(raw: pl.Expr) -> pl.Expr:
    """Text of exactly 10 digits (epoch seconds) or 13 digits (epoch milliseconds, HubSpot) → UTC instant."""
    text = raw.str.strip_chars()
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
    """The first two fields of a date written with slashes or dots (``15/03/2024``) as Int32s, else NULL."""
    text = raw.str.strip_chars().str.replace_many(list(_DIGITS), list(_DIGITS.values()))
    groups = text.str.extract_groups(r"^([0-9]{1,2})[/.]([0-9]{1,2})[/.][0-9]{4}")
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
