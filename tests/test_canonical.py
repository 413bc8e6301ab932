"""Column mapping and typed parsing of source rows (transforms.canonical)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from transforms.canonical import ParseOptions, missing_columns, temporal_diagnostics, to_canonical, whole_float_ids
from transforms.datetimes import parse_date, parse_timestamp
from transforms.schema import DEALS, VISITS


def raw(columns: dict[str, list]) -> pl.LazyFrame:
    n = len(next(iter(columns.values())))
    return pl.LazyFrame(columns).with_columns(
        pl.lit("visits.csv").alias("source_file"), pl.int_range(1, n + 1, dtype=pl.Int64).alias("source_row_number")
    )


def test_timestamp_forms_naive_and_aware():
    texts = [
        "2025-07-07 09:30",
        "2025-07-07T09:30:00",
        "2025-07-07 9:30:05",  # single-digit hour (Salesforce export)
        "2025-07-07",
        "2025-07-07T02:30:00Z",
        "2025-07-07T09:30:00+07:00",
        "2025-07-07 09:30:00 +0700",
        "2025-07-07T02:30:00.250Z",
        "07/08/2025 09:30",  # day first
        "2025-07-07 09:30 PM",  # 12-hour clock
        "",
    ]
    out = pl.select(parse_timestamp(pl.Series(texts), "Asia/Bangkok")).to_series().to_list()
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    assert out == [
        utc(2025, 7, 7, 2, 30),
        utc(2025, 7, 7, 2, 30),
        utc(2025, 7, 7, 2, 30, 5),
        utc(2025, 7, 6, 17, 0),
        utc(2025, 7, 7, 2, 30),
        utc(2025, 7, 7, 2, 30),
        utc(2025, 7, 7, 2, 30),
        utc(2025, 7, 7, 2, 30, 0, 250000),
        utc(2025, 8, 7, 2, 30),
        utc(2025, 7, 7, 14, 30),  # 09:30 PM is 21:30
        None,
    ]


@pytest.mark.parametrize(
    ("written", "order", "local"),
    [
        ("15-03-2567 10:00", "dmy", (2024, 3, 15, 10, 0)),  # dashes, day first, Buddhist era
        ("15-03-2024", "dmy", (2024, 3, 15, 0, 0)),
        ("2024/03/15 10:00", "dmy", (2024, 3, 15, 10, 0)),  # year first with slashes (Japan, China)
        ("2024.03.17", "mdy", (2024, 3, 17, 0, 0)),
        ("3/15/2024 2:30 PM", "mdy", (2024, 3, 15, 14, 30)),  # US 12-hour clock
        ("03/15/2024 12:05 a.m.", "mdy", (2024, 3, 15, 0, 5)),
        ("15/03/2024 12:30 pm", "dmy", (2024, 3, 15, 12, 30)),
        ("15/03/2567 10.30 น.", "dmy", (2024, 3, 15, 10, 30)),  # Thai time with a dot, and น.
        ("15/03/2567 เวลา 09.05 นาฬิกา", "dmy", (2024, 3, 15, 9, 5)),
        ("15 มี.ค. 2567", "dmy", (2024, 3, 15, 0, 0)),  # Thai month names, abbreviated and full
        ("1 ม.ค. 2567 08:00", "dmy", (2024, 1, 1, 8, 0)),
        ("15 มีนาคม พ.ศ. 2567 14:30", "dmy", (2024, 3, 15, 14, 30)),
        ("29 กุมภาพันธ์ 2567", "dmy", (2024, 2, 29, 0, 0)),
        ("15 Mar 2024", "dmy", (2024, 3, 15, 0, 0)),  # English month names, either order
        ("15-MAR-2024 09:15", "mdy", (2024, 3, 15, 9, 15)),
        ("15 September 2024", "dmy", (2024, 9, 15, 0, 0)),
        ("Sept 5, 2024", "dmy", (2024, 9, 5, 0, 0)),
        ("March 15th, 2024, 2:30 PM", "dmy", (2024, 3, 15, 14, 30)),
        ("Fri, 15 Mar 2024 10:00:00", "dmy", (2024, 3, 15, 10, 0)),
    ],
)
def test_dates_as_people_write_them(written: str, order: str, local: tuple):
    stamp = pl.select(parse_timestamp(pl.Series([written]), "Asia/Bangkok", "auto", order)).item()
    assert stamp == datetime(*local, tzinfo=ZoneInfo("Asia/Bangkok")).astimezone(UTC)


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2024-03-15 10:00 UTC", (2024, 3, 15, 10, 0)),
        ("2024-03-15 10:00 GMT", (2024, 3, 15, 10, 0)),
        ("2024-03-15 10:00 GMT+7", (2024, 3, 15, 3, 0)),
        ("2024-03-15 10:00 UTC+05:30", (2024, 3, 15, 4, 30)),
        ("Fri, 15 Mar 2024 10:00:00 +0700", (2024, 3, 15, 3, 0)),
        ("15/03/2024 10:00 -03:00", (2024, 3, 15, 13, 0)),
        ("2024-03-15Z", (2024, 3, 15, 0, 0)),  # a zoned bare date (ISO 8601, XML Schema)
        ("2024-03-15+07:00", (2024, 3, 14, 17, 0)),
    ],
)
def test_offsets_and_zone_names_make_instants(written: str, utc: tuple):
    assert pl.select(parse_timestamp(pl.Series([written]), "Asia/Bangkok")).item() == datetime(*utc, tzinfo=UTC)


@pytest.mark.parametrize(
    "written",
    ["15/03/67", "20240315", "15/03/2024 13:30 PM", "15/03/2024 0:30 AM", "2024-03-15 10:00 GMT+15", "32 Mar 2024", "15 Foo 2024", "Mar 2024"],
)
def test_what_is_not_a_date_stays_unread(written: str):
    """Two-digit years (century and era unknown), bare digit runs, 12-hour times past 12, offsets
    beyond ±14:00, impossible days and unknown month names: NULL (the row is quarantined)."""
    assert pl.select(parse_timestamp(pl.Series([written]), "Asia/Bangkok", "auto")).item() is None


def test_buddhist_era_years_and_date_orders():
    texts = ["15/03/2567", "29/02/2567", "2567-03-15 09:30", "15/03/2024", "29/02/2566", "03/15/2024"]
    dates = lambda calendar, order="dmy": pl.select(parse_date(pl.Series(texts), calendar, order)).to_series().to_list()  # noqa: E731
    assert dates("auto") == [date(2024, 3, 15), date(2024, 2, 29), date(2024, 3, 15), date(2024, 3, 15), None, None]
    # 2024 read as Buddhist era would be 1481: outside 1800..2200, not a date
    assert dates("buddhist") == [date(2024, 3, 15), date(2024, 2, 29), date(2024, 3, 15), None, None, None]
    assert dates("gregorian") == [None, None, None, date(2024, 3, 15), None, None]  # year 2567 is past 2200
    assert dates("auto", "mdy")[-1] == date(2024, 3, 15)
    stamp = pl.select(parse_timestamp(pl.Series(["2567-03-15 09:30"]), "Asia/Bangkok", "auto")).item()
    assert stamp == datetime(2024, 3, 15, 2, 30, tzinfo=UTC)


def test_dst_gap_shifts_forward_and_overlap_takes_the_earlier_instant():
    out = pl.select(
        parse_timestamp(pl.Series(["2025-03-09 02:30", "2025-11-02 01:30"]), "America/New_York")
    ).to_series().to_list()
    # 02:30 does not exist on 9 Mar 2025 in New York: read as 03:30 EDT = 07:30 UTC.
    # 01:30 happens twice on 2 Nov 2025: the earlier is EDT (UTC-4) = 05:30 UTC.
    assert out == [datetime(2025, 3, 9, 7, 30, tzinfo=UTC), datetime(2025, 11, 2, 5, 30, tzinfo=UTC)]


def test_mapping_parsing_and_parse_errors():
    frame = raw(
        {
            "Id": ["V1", "V2", "V3", " "],
            "Owner": ["R1", "R1", "R1", "R1"],
            "Acct": ["0012", "A2", "A3", "A4"],
            "When": ["2025-01-01 10:00", "not a date", "2025-01-03", "2025-01-04"],
            "State": ["Held", "Not Held", "", "Tentative"],
            "Mins": ["30", "1,200", "abc", None],
            "ignored": ["x", "y", "z", "w"],
        }
    )
    mapping = {"visit_id": "Id", "rep_id": "Owner", "account_id": "Acct", "visit_start": "When", "status": "State", "duration_min": "Mins"}
    out = to_canonical(frame, VISITS, mapping, {}, ParseOptions("UTC")).collect()
    assert out.columns == [*VISITS.column_names, "source_file", "source_row_number", "parse_error", "__diag_unreadable_duration_min", "__diag_era_visit_start", "__diag_epoch_visit_start"]
    assert out["visit_id"].to_list() == ["V1", "V2", "V3", None]
    assert out["account_id"].to_list() == ["0012", "A2", "A3", "A4"]  # leading zeros kept
    assert out["status"].to_list() == ["completed", "cancelled", "completed", "tentative"]
    assert out["duration_min"].to_list() == [30.0, 1200.0, None, None]
    # a start the rules need holds the row back; an optional duration that cannot be read is NULL
    # and counted, and its row stays
    assert out["parse_error"].to_list() == [None, "visit_start: the value cannot be read as a date and time", None, None]
    assert [d for d in temporal_diagnostics(out) if d["kind"] == "unreadable"] == [
        {"column": "duration_min", "kind": "unreadable", "unreadable": 1, "sample": ["visits.csv:3"]}
    ]
    assert out.schema["visit_start"] == pl.Datetime("us", "UTC")


def test_expressions_and_booleans():
    frame = raw({"deal": ["D1", "D2", "D3"], "account_id": ["A", "A", "B"], "stage": ["Closed Won", "Open", None], "flag": ["TRUE", "false", "maybe"]})
    out = to_canonical(frame, DEALS, {"deal_id": "deal"}, {"is_won": "stage = 'Closed Won'"}, ParseOptions("UTC")).collect()
    assert out["is_won"].to_list() == [True, False, None]
    out2 = to_canonical(frame, DEALS, {"deal_id": "deal", "is_won": "flag"}, {}, ParseOptions("UTC")).collect()
    assert out2["is_won"].to_list() == [True, False, None]
    assert out2["parse_error"].to_list() == [None, None, "is_won: the value cannot be read as true/false (yes/no, won/lost, 1/0)"]


def test_a_deals_outcome_in_crm_words_reads_as_is_won():
    """Report builders write the outcome as Won/Lost or the stage name (Closed Won), Thai users ใช่/ไม่ใช่
    or ชนะ/แพ้: read as the flag instead of quarantining every deal; other words stay unreadable."""
    written = ["Won", " LOST ", "Closed Won", "closed_lost", "Closed-Won", "ใช่", "ไม่ใช่", "ชนะ", "แพ้", "จริง", "เท็จ", "Open", "won?"]
    frame = raw({"deal": [f"D{i}" for i in range(len(written))], "account_id": ["A"] * len(written), "flag": written})
    out = to_canonical(frame, DEALS, {"deal_id": "deal", "is_won": "flag"}, {}, ParseOptions("UTC")).collect()
    assert out["is_won"].to_list() == [True, False, True, False, True, True, False, True, False, True, False, None, None]


def test_missing_columns_names_the_source_column():
    available = ["Id", "Owner", "When"]
    assert missing_columns({"visit_id": "Id", "rep_id": "Owner", "visit_start": "Start"}, {}, VISITS, available) == [
        ("account_id", "account_id"),
        ("visit_start", "Start"),
    ]
    assert missing_columns({"visit_id": "Id", "rep_id": "Owner", "visit_start": "When"}, {}, VISITS, available, frozenset({"account_id"})) == []


def test_typed_parquet_style_columns():
    frame = pl.LazyFrame(
        {
            "visit_id": [1, 2],
            "rep_id": ["R", "R"],
            "account_id": ["A", "A"],
            "visit_start": [datetime(2025, 1, 1, 23, 30), datetime(2025, 1, 2, 8, 0)],
            "source_file": ["v.parquet", "v.parquet"],
            "source_row_number": [1, 2],
        }
    )
    out = to_canonical(frame, VISITS, {}, {}, ParseOptions("Asia/Bangkok")).collect()
    assert out["visit_id"].to_list() == ["1", "2"]
    assert out["visit_start"].to_list() == [datetime(2025, 1, 1, 16, 30, tzinfo=UTC), datetime(2025, 1, 2, 1, 0, tzinfo=UTC)]
    assert out["status"].to_list() == ["completed", "completed"]
    assert out["parse_error"].to_list() == [None, None]
    assert out.schema["visit_start"] == pl.Datetime("us", "UTC")


def test_mixed_eras_and_dst_adjustments_are_counted():
    frame = raw({"Id": ["V1", "V2", "V3", "V4"], "When": ["15/03/2567 09:00", "2024-03-16 09:00", "2025-03-09 02:30", "2025-11-02 01:30"]})
    out = to_canonical(frame, VISITS, {"visit_id": "Id", "visit_start": "When"}, {}, ParseOptions("America/New_York", "auto")).collect()
    assert temporal_diagnostics(out) == [
        {"column": "visit_start", "kind": "era", "buddhist": 1, "gregorian": 3},
        {"column": "visit_start", "kind": "epoch", "epoch": 0},
        {"column": "visit_start", "kind": "dst", "gap": 1, "overlap": 1},
    ]
    bangkok = to_canonical(frame, VISITS, {"visit_id": "Id", "visit_start": "When"}, {}, ParseOptions("Asia/Bangkok", "auto")).collect()
    assert [d["kind"] for d in temporal_diagnostics(bangkok)] == ["era", "epoch"]  # no daylight saving to check


def test_thai_digits_placeholders_bad_offsets_and_non_finite_numbers():
    texts = ["๒๕๖๘-๐๓-๐๑ ๙:๓๐", "１５/０３/２０２５", "0001-01-01T00:00:00", "2025-03-01 09:00+25:00", "2025-03-01 09:00+07:99", "2025-03-01 09:00-05:30"]
    out = pl.select(parse_timestamp(pl.Series(texts), "Asia/Bangkok", "auto")).to_series().to_list()
    assert out == [
        datetime(2025, 3, 1, 2, 30, tzinfo=UTC),
        datetime(2025, 3, 14, 17, 0, tzinfo=UTC),
        None,
        None,
        None,
        datetime(2025, 3, 1, 14, 30, tzinfo=UTC),
    ]
    frame = raw({"deal_id": ["D1", "D2", "D3", "D4"], "account_id": ["A"] * 4, "amount": ["NaN", "inf", "1e309", "12.5"], "close_date": ["0001-01-01", "", "", "2025-01-01"]})
    out = to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC")).collect()
    assert out["amount"].to_list() == [None, None, None, 12.5]
    assert out["close_date"].to_list() == [None, None, None, date(2025, 1, 1)]
    # close_date dates a win (a rule column): held back; amount is optional: NULL, counted
    assert out["parse_error"].to_list() == ["close_date: the value cannot be read as a date", None, None, None]
    assert [d["unreadable"] for d in temporal_diagnostics(out) if d["kind"] == "unreadable"] == [3]


def test_thai_words_typed_with_a_decomposed_sara_am_match():
    """ำ (U+0E33) and ํ + า (U+0E4D U+0E32) look the same and are the same word (NFKC): in status
    words and their status_map, and in the reps' own visit-type labels."""
    from transforms.canonical import normalise_status
    from transforms.classify import normalise_reported_type

    composed, decomposed = "ทำแล้ว", "ท\u0e4d\u0e32แล้ว"
    statuses = pl.Series([composed, decomposed, "ยกเลิก"])
    mapped = pl.select(normalise_status(pl.lit(statuses), {composed: "completed", "ยกเลิก": "cancelled"})).to_series()
    assert mapped.to_list() == ["completed", "completed", "cancelled"]
    labels = pl.Series(["ลูกค้าใหม่", "New Prospect Visit", "ลูกค้าเก่า"])
    assert pl.select(normalise_reported_type(pl.lit(labels))).to_series().to_list() == ["new_prospect", "new_prospect", "existing_customer"]


@pytest.mark.parametrize("written", ["15-03-2024-07", "2024-03-15 10:00 GMT+14:59", "2024-03-15 10:00 -14:30"])
def test_an_offset_after_a_bare_date_or_beyond_14_hours_is_not_a_time(written: str):
    assert pl.select(parse_timestamp(pl.Series([written]), "Asia/Bangkok")).item() is None


def test_zero_width_characters_and_unicode_spaces_around_values_are_not_part_of_them():
    """Text copied from a web CRM or typed in a Thai word-breaking editor carries zero-width spaces,
    joiners and stray byte-order marks; Excel pastes no-break and ideographic spaces. Around a
    value they are trimmed like spaces (an id, a date, a number, a status); inside a status word
    or a rep's label they are dropped; inside an id they stay (it is then another id)."""
    frame = raw(
        {
            "Id": ["V1\u200b", "\ufeffV2", "V3\u00a0", "\u200b", "V\u200b5"],
            "Owner": ["R1", "R1\u2060", "\u3000R1", "R1", "R1"],
            "Acct": ["A1", "A1\u200b", "\u200dA1", "A1", "A1"],
            "When": ["2025-01-01 10:00\u200b", "\u200b02/01/2025", "2025-01-03", "2025-01-04", "2025-01-05"],
            "State": ["Completed\u200b", "Can\u200bcelled", "เสร็จ\u200bสิ้น", "", "Held"],
            "Mins": ["30\u200b", "\u00a045", None, None, None],
        }
    )
    mapping = {"visit_id": "Id", "rep_id": "Owner", "account_id": "Acct", "visit_start": "When", "status": "State", "duration_min": "Mins"}
    options = ParseOptions("UTC", status_map=(("เสร็จสิ้น", "completed"),))  # the source's own word, typed with a zero-width space
    out = to_canonical(frame, VISITS, mapping, {}, options).collect()
    assert out["visit_id"].to_list() == ["V1", "V2", "V3", None, "V\u200b5"]
    assert out["rep_id"].to_list() == ["R1"] * 5
    assert out["account_id"].to_list() == ["A1"] * 5
    assert out["visit_start"].to_list() == [datetime(2025, 1, d, h, tzinfo=UTC) for d, h in [(1, 10), (2, 0), (3, 0), (4, 0), (5, 0)]]
    assert out["status"].to_list() == ["completed", "cancelled", "completed", "completed", "completed"]
    assert out["duration_min"].to_list() == [30.0, 45.0, None, None, None]
    assert out["parse_error"].to_list() == [None] * 5


def test_a_date_written_as_an_instant_is_its_day_in_the_classification_zone():
    """HubSpot writes closedate as a UTC instant: 2025-03-14T20:00:00Z is 15 March in Bangkok, where a visit
    on the 15th is on the closing day (a prospect visit). A naive time or a bare date is the date as
    written; a typed zoned timestamp (Parquet timestamp[UTC]) is dated in the zone too, a naive one not."""
    written = ["2025-03-14T20:00:00Z", "2025-03-14 20:00 +00:00", "2025-03-14T20:00:00-05:00", "2025-03-14 20:00",
               "2025-03-14", "14/03/2025 23:30 GMT+7", None]
    frame = raw({"deal_id": ["D"] * 7, "account_id": ["A"] * 7, "close_date": written})
    out = to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC", date_zone="Asia/Bangkok")).collect()
    assert out.get_column("close_date").to_list() == [date(2025, 3, 15), date(2025, 3, 15), date(2025, 3, 15), date(2025, 3, 14),
                                                      date(2025, 3, 14), date(2025, 3, 14), None]
    west = to_canonical(raw({"deal_id": ["D"], "account_id": ["A"], "close_date": ["2025-03-15T02:00:00Z"]}), DEALS, {}, {},
                        ParseOptions("UTC", date_zone="America/New_York")).collect()
    assert west.get_column("close_date").to_list() == [date(2025, 3, 14)]
    assert to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC")).collect().get_column("close_date").to_list()[:3] == [
        date(2025, 3, 14)] * 3  # no zone given: as written
    typed = pl.LazyFrame({
        "deal_id": ["D1", "D2"], "account_id": ["A", "A"],
        "close_date": pl.Series([datetime(2025, 3, 14, 20), datetime(2025, 3, 14, 16, 59)], dtype=pl.Datetime("us", "UTC")),
        "source_file": ["f", "f"], "source_row_number": [1, 2],
    })
    out = to_canonical(typed, DEALS, {}, {}, ParseOptions("UTC", date_zone="Asia/Bangkok")).collect()
    assert out.get_column("close_date").to_list() == [date(2025, 3, 15), date(2025, 3, 14)]
    naive = typed.with_columns(pl.col("close_date").dt.replace_time_zone(None))
    out = to_canonical(naive, DEALS, {}, {}, ParseOptions("UTC", date_zone="Asia/Bangkok")).collect()
    assert out.get_column("close_date").to_list() == [date(2025, 3, 14), date(2025, 3, 14)]


def test_float_ids_from_typed_files_are_read_as_the_whole_numbers_they_hold():
    """pandas writes an id column with one NaN as float64: 101.0 is account 101 (it became '101.0' and
    split the account from the visits that wrote 101). A fraction or a value past 2**53 stays as written;
    NaN is a missing id (quarantined). Float32 too."""
    ids = [101.0, float("nan"), 102.5, None, 1e17, -7.0]
    frame = pl.LazyFrame({
        "visit_id": ["V1", "V2", "V3", "V4", "V5", "V6"], "rep_id": pl.Series([3.0] * 6, dtype=pl.Float32),
        "account_id": ids, "visit_start": [datetime(2025, 1, 1)] * 6,
        "source_file": ["v.parquet"] * 6, "source_row_number": [1, 2, 3, 4, 5, 6],
    })
    out = to_canonical(frame, VISITS, {}, {}, ParseOptions("Asia/Bangkok")).collect()
    assert out["account_id"].to_list() == ["101", None, "102.5", None, "1e+17", "-7"]
    assert out["rep_id"].to_list() == ["3"] * 6


def test_flags_written_as_decimals_are_booleans():
    """pandas writes a flag column with a gap as float: 1.0 / 0.0 in CSV and Parquet were refused
    (90% of deals quarantined). A decimal 1 or 0 is the flag; another number is not."""
    text = ["1.0", "0.0", "1,00", " 0.000 ", "2.0", "1.5", "10", "true"]
    frame = raw({"deal_id": [f"D{i}" for i in range(8)], "account_id": ["A"] * 8, "is_won": text})
    assert to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC")).collect()["is_won"].to_list() == [
        True, False, True, False, None, None, None, True]
    typed = raw({"deal_id": ["D1", "D2", "D3", "D4"], "account_id": ["A"] * 4, "is_won": [1.0, 0.0, None, 2.0]})
    assert to_canonical(typed, DEALS, {}, {}, ParseOptions("UTC")).collect()["is_won"].to_list() == [True, False, None, None]
    ints = raw({"deal_id": ["D1", "D2"], "account_id": ["A"] * 2, "is_won": [1, 0]})
    assert to_canonical(ints, DEALS, {}, {}, ParseOptions("UTC")).collect()["is_won"].to_list() == [True, False]


def test_nul_padding_around_an_id_is_not_part_of_it():
    """A C-string export pads with NUL: "A1\\x00" split account A1 in two (QA)."""
    frame = raw({"visit_id": ["V1\x00", "V2"], "rep_id": ["R1", "\x00R1\x00\x00"], "account_id": ["A1\x00", "A1"],
                 "visit_start": ["2025-01-01 09:00", "2025-01-02 09:00\x00"], "status": ["Completed\x00", "done"]})
    out = to_canonical(frame, VISITS, {}, {}, ParseOptions("UTC")).collect()
    assert out.select("visit_id", "rep_id", "account_id", "status").rows() == [
        ("V1", "R1", "A1", "completed"), ("V2", "R1", "A1", "completed")]
    assert out["visit_start"].to_list() == [datetime(2025, 1, 1, 9, tzinfo=UTC), datetime(2025, 1, 2, 9, tzinfo=UTC)]


def test_epoch_numbers_in_date_columns_and_excel_sources_are_instants():
    """pandas' to_json writes dates as epoch milliseconds and HubSpot's closedate is one: a date column
    refused them (every account quarantined). In an Excel source a 10- or 13-digit number in a time
    column was taken for a serial date (not a date) though the data-quality report counted it as epoch."""
    written = ["1741030000000", "1741030000", "1741000000", "45731", "2025-03-03"]
    frame = raw({"deal_id": ["D"] * 5, "account_id": ["A"] * 5, "close_date": written})
    out = to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC", date_zone="Asia/Bangkok")).collect()
    # 1741030000 is 2025-03-03 19:26:40 UTC, the 4th in Bangkok; 1741000000 is 11:06:40 UTC, still the 3rd
    assert out["close_date"].to_list() == [date(2025, 3, 4), date(2025, 3, 4), date(2025, 3, 3), None, date(2025, 3, 3)]
    typed = raw({"deal_id": ["D", "D"], "account_id": ["A", "A"], "close_date": [1741030000000, 7]})
    assert to_canonical(typed, DEALS, {}, {}, ParseOptions("UTC", date_zone="Asia/Bangkok")).collect()["close_date"].to_list() == [
        date(2025, 3, 4), None]
    excel = raw({"visit_id": ["V1", "V2", "V3"], "rep_id": ["R"] * 3, "account_id": ["A"] * 3,
                 "visit_start": ["1741030000000", "1741030000", "45731.5"]})
    out = to_canonical(excel, VISITS, {}, {}, ParseOptions("Asia/Bangkok", excel_serials=True)).collect()
    assert out["visit_start"].to_list() == [datetime(2025, 3, 3, 19, 26, 40, tzinfo=UTC)] * 2 + [datetime(2025, 3, 15, 5, 0, tzinfo=UTC)]


def test_a_date_stored_as_midnight_utc_is_that_date_in_every_zone():
    """pandas' to_json writes a date as epoch milliseconds of midnight UTC, and a database may keep a date
    as timestamptz: west of Greenwich it read as the day before (QA: a visit on the closing day became
    existing_customer). An instant at exactly 00:00 UTC is the date it names; any other is dated in the zone."""
    midnight_ms = str(int(datetime(2025, 3, 14, tzinfo=UTC).timestamp() * 1000))
    # 19:00-05:00 is midnight UTC as well, but written as an evening: the New York date (QA)
    written = [midnight_ms, "2025-03-14T00:00:00Z", "2025-03-14T00:00:01Z", "2025-03-14Z", "2025-03-02T19:00:00-05:00",
               "2025-03-14 00:00 +00:00"]
    frame = raw({"deal_id": ["D"] * 6, "account_id": ["A"] * 6, "close_date": written})
    out = to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC", date_zone="America/New_York")).collect()
    assert out["close_date"].to_list() == [date(2025, 3, 14), date(2025, 3, 14), date(2025, 3, 13), date(2025, 3, 14),
                                           date(2025, 3, 2), date(2025, 3, 14)]
    typed = raw({"deal_id": ["D", "D"], "account_id": ["A", "A"], "close_date": [int(midnight_ms), int(midnight_ms) + 3_600_000]})
    assert to_canonical(typed, DEALS, {}, {}, ParseOptions("UTC", date_zone="America/New_York")).collect()["close_date"].to_list() == [
        date(2025, 3, 14), date(2025, 3, 13)]
    zoned = typed.with_columns(pl.from_epoch("close_date", time_unit="ms").dt.replace_time_zone("UTC"))
    assert to_canonical(zoned, DEALS, {}, {}, ParseOptions("UTC", date_zone="America/New_York")).collect()["close_date"].to_list() == [
        date(2025, 3, 14), date(2025, 3, 13)]


def test_an_integer_id_written_by_a_float_column_is_the_same_id_in_text_files():
    """pandas writes a float id column to CSV as 101.0: it is the id 101 a Parquet file or another CSV holds
    (the Parquet side alone was fixed first, and the two then no longer matched)."""
    frame = raw({"visit_id": ["1.0", "V2.0", "101.00", "-7.0", "1e3.0", "8,0"], "rep_id": ["R"] * 6,
                 "account_id": ["101.0"] * 5 + ["101,0"], "visit_start": ["2025-01-01 09:00"] * 6})
    out = whole_float_ids(to_canonical(frame, VISITS, {}, {}, ParseOptions("UTC")).collect(), VISITS)
    assert out["visit_id"].to_list() == ["1", "V2.0", "101.00", "-7", "1e3.0", "8"]  # 8,0: a decimal-comma locale's float
    assert out["account_id"].to_list() == ["101"] * 6
    from transforms.references import lookup_key

    keys = pl.DataFrame({"k": ["1001.0", " 1001 ", "1001.5", ""]}).select(lookup_key("k")).to_series().to_list()
    assert keys == ["1001", "1001", "1001.5", None]
    assert pl.DataFrame({"k": [1001.0]}).select(lookup_key("k")).item() == "1001"


def test_nan_in_a_float_column_is_a_missing_value_not_an_unreadable_one():
    """pandas writes a blank as NaN in a float column: a NaN flag was 'cannot be read' (the deal
    quarantined) while a NaN id was missing; NaN is missing in every kind of column."""
    nan = float("nan")
    frame = raw({"deal_id": ["D1", "D2"], "account_id": ["A", "A"], "is_won": [1.0, nan], "amount": [nan, 5.0]})
    out = to_canonical(frame, DEALS, {}, {}, ParseOptions("UTC")).collect()
    assert out.select("is_won", "amount", "parse_error").rows() == [(True, None, None), (None, 5.0, None)]
