"""CRM presets: the Salesforce mapping file on the shared (Fivetran-style) Salesforce export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow
from scenario import query
from visitmix.config import load_config
from visitmix.paths import PROJECT_ROOT
from visitmix.presets import merged_source
from visitmix.sources import snake_case

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "salesforce_export"


def test_snake_case_fits_both_export_styles():
    assert [snake_case(c) for c in ("ActivityDateTime", "AccountId", "IsDeleted", "account_id", "_fivetran_synced", "Id")] == [
        "activity_date_time", "account_id", "is_deleted", "account_id", "_fivetran_synced", "id",
    ]


def test_user_keys_override_the_preset():
    merged = merged_source("visits", {"preset": "salesforce", "path": "e.csv", "columns": {"visit_start": "start_date_time", "channel": "subject"}})
    assert merged["columns"]["visit_start"] == "start_date_time"
    assert "visit_start" not in merged["expressions"]  # the user's column replaces the preset's expression
    assert merged["columns"]["channel"] == "subject"
    assert merged["expressions"]["rep_id"] == "CASE WHEN length(trim(owner_id)) = 18 THEN left(trim(owner_id), 15) ELSE owner_id END"
    assert merged["where"]["any_of"][4] == "lower(trim(coalesce(cast(is_deleted AS VARCHAR), ''))) NOT IN ('true', 't', 'yes', 'y', '1', '1.0')"
    assert merged["column_case"] == "snake"


@pytest.mark.usefixtures("prefect_harness")
def test_salesforce_export_end_to_end(tmp_path: Path):
    text = (PROJECT_ROOT / "examples" / "salesforce.toml").read_text()
    config = tmp_path / "sf.toml"
    config.write_text(text.replace("../tests/fixtures/salesforce_export", str(FIXTURES)).replace("../warehouse", "wh"))
    assert load_config(config).sources.visits.column_case == "snake"
    summary = visit_mix_flow(str(config))
    # 10 events + 10 tasks; one task has neither AccountId nor an opportunity: quarantined
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (20, 1, 19)
    wh = tmp_path / "wh" / "salesforce.duckdb"
    assert query(wh, "select file, row_number, reason from audit.quarantine") == [
        (os.path.relpath(FIXTURES / "sf_task_data.csv", tmp_path), 4, "account_id is missing: the visit cannot be classified")
    ]
    # every opportunity is flagged deleted: a correct drop leaves no deals, so every account is a prospect
    assert query(wh, "select count(*) from staging.deals") == [(0,)]
    types = dict(query(wh, "select visit_id, visit_type from marts.fct_visit"))
    hot = {k for k, v in types.items() if v == "hot_prospect"}
    # all activities share one instant: ties go by id in plain (case-sensitive) string order; ids are
    # cut to their 15-character form, so report and Data Loader exports of one record match
    assert hot == {"00T1G00003UfZPY", "00T1G00003UfZQ7", "00T1G00003UfFl8"}
    assert sorted(set(types.values())) == ["hot_prospect", "new_prospect"]
    assert len(types) == 19
    # events keep their type (Call / Meeting) as the channel
    assert query(wh, "select channel, count(*) from marts.fct_visit where visit_id like '00U%' group by 1 order by 1") == [("Call", 6), ("Meeting", 4)]


@pytest.mark.usefixtures("prefect_harness")
def test_hubspot_export_end_to_end(tmp_path: Path):
    fixtures = PROJECT_ROOT / "tests" / "fixtures" / "hubspot_export"
    text = (PROJECT_ROOT / "examples" / "hubspot.toml").read_text()
    config = tmp_path / "hs.toml"
    config.write_text(text.replace("../tests/fixtures/hubspot_export", str(fixtures)).replace("../warehouse", "wh"))
    summary = visit_mix_flow(str(config))
    # no meeting is linked to a company (the only engagement→company row is a task): all held back
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (100, 100, 0)
    wh = tmp_path / "wh" / "hubspot.duckdb"
    assert query(wh, "select source, reason, count(*) from audit.quarantine group by all order by 1") == [
        ("deals", "account_id is missing", 44),
        ("visits", "account_id is missing: the visit cannot be classified", 100),
    ]
    # owners get their team through owner_team_data → team_data (two lookups in a row)
    assert query(wh, "select rep_id, team from marts.dim_rep where team is not null order by 1") == [("35252170", "team_01"), ("40706000", "team_02")]
    assert query(wh, "select count(*) from marts.dim_account") == [(24,)]
    assert query(wh, "select count(*) from marts.fct_visit") == [(0,)]


def test_lookup_joins_by_key_smallest_value_first():
    import polars as pl

    from transforms.references import attach_lookup

    frame = pl.LazyFrame({"engagement_id": ["1", "2", "3"], "x": [1, 2, 3]})
    links = pl.LazyFrame({"eid": [2, 2, 1, None], "company_id": ["C9", "C3", "C1", "C0"]})
    out = attach_lookup(frame, links, "engagement_id", "eid", ["company_id"]).collect()
    assert out.rows() == [("1", 1, "C1"), ("2", 2, "C3"), ("3", 3, None)]



def test_ambiguous_lookup_keys_are_counted(tmp_path: Path):
    from visitmix.config import LookupConfig, SourceConfig
    from visitmix.sources import read_source

    (tmp_path / "m.csv").write_text("engagement_id\n1\n2\n3\n")
    (tmp_path / "links.csv").write_text("engagement_id,company_id\n2,C9\n2,C3\n1,C1\n1,C1\n7,C7\n7,C8\n")
    raw = read_source("visits", SourceConfig(path=tmp_path / "m.csv", lookups=[LookupConfig(path=tmp_path / "links.csv", on="engagement_id", take=["company_id"])]))
    assert raw.frame.select("engagement_id", "company_id").rows() == [("1", "C1"), ("2", "C3"), ("3", None)]
    # key 2 disagrees and is used; key 7 disagrees but no visit uses it; key 1 repeats the same company
    assert raw.ambiguous_lookups == (("visits.lookups[0]", "engagement_id", 1),)


EVENT_HEADER = ["Id", "AccountId", "OwnerId", "ActivityDateTime", "ActivityDate", "IsAllDayEvent", "IsDeleted", "IsRecurrence", "Type"]


def _event(number: int, deleted: object, all_day: object = "false") -> list[object]:
    return [f"00U00000000000{number}AAA", "001000000000001AAA", "005000000000001AAA", f"2025-03-0{number}T03:00:00.000Z",
            f"2025-03-0{number}", all_day, deleted, "false", "Meeting"]


def _preset_visits(tmp_path: Path, file_name: str):  # noqa: ANN202 - (raw source, config)
    from visitmix.sources import read_source

    config = tmp_path / "sf.toml"
    config.write_text(f'[sources.visits]\npreset = "salesforce"\npath = "{file_name}"\n', encoding="utf-8")
    source = load_config(config).sources.visits
    return read_source("visits", source, tmp_path), source


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_deleted_rows_are_dropped_however_the_flag_is_written(tmp_path: Path, fmt: str):
    """Salesforce checkboxes come as true/false, 1/0 (report exports, Excel round trips) or, in a
    sync's Parquet, as booleans: every form of true drops the row (a QA pass found 1 kept)."""
    import polars as pl

    written = ["1", "TRUE", " true ", "Yes", "0", "false", ""] if fmt == "csv" else [True, True, True, True, False, False, None]
    frame = pl.DataFrame([_event(i + 1, flag) for i, flag in enumerate(written)], schema=EVENT_HEADER, orient="row")
    if fmt == "csv":
        frame.write_csv(tmp_path / "Event.csv")
    else:
        frame.write_parquet(tmp_path / "Event.parquet")
    raw, _ = _preset_visits(tmp_path, f"Event.{fmt}")
    assert raw.frame.get_column("id").to_list() == ["00U000000000005AAA", "00U000000000006AAA", "00U000000000007AAA"]


def test_an_invitees_copy_of_a_group_event_is_not_a_visit(tmp_path: Path):
    """A group event is stored once for its organiser and once more per invitee (IsChild true): the
    copies were visits too, so a first meeting counted as one new and one hot visit. Exports with
    only some of IsDeleted, IsRecurrence and IsChild are filtered by the ones they have."""
    import polars as pl

    rows = [[*_event(1, "false"), "false"], [*_event(2, "false"), "true"], [*_event(3, "true"), "false"], [*_event(4, "false"), "1"]]
    pl.DataFrame(rows, schema=[*EVENT_HEADER, "IsChild"], orient="row").write_csv(tmp_path / "Event.csv")
    raw, _ = _preset_visits(tmp_path, "Event.csv")
    assert raw.frame.get_column("id").to_list() == ["00U000000000001AAA"]
    pl.DataFrame(rows, schema=[*EVENT_HEADER, "IsChild"], orient="row").drop("IsDeleted", "IsRecurrence").write_csv(tmp_path / "Event.csv")
    raw, _ = _preset_visits(tmp_path, "Event.csv")
    assert raw.frame.get_column("id").to_list() == ["00U000000000001AAA", "00U000000000003AAA"]


def test_data_loader_headers_in_capitals_take_the_presets_names(tmp_path: Path):
    """Data Loader writes API names in capitals (ACTIVITYDATETIME): no word breaks to find, so each
    becomes the name the preset reads with the same letters; an all-day flag of 1 dates the visit
    by ActivityDate."""
    from visitmix.canonicalise import canonicalise
    from visitmix.headers import source_header

    rows = [",".join(str(v) for v in _event(1, "0", all_day="1")), ",".join(str(v) for v in _event(2, "0"))]
    (tmp_path / "Event.csv").write_text(",".join(c.upper() for c in [*EVENT_HEADER, "Subject"]) + "\n"
                                        + "\n".join(r + ",Visit" for r in rows) + "\n", encoding="utf-8")
    raw, source = _preset_visits(tmp_path, "Event.csv")
    expected = ["id", "account_id", "owner_id", "activity_date_time", "activity_date", "is_all_day_event", "is_deleted", "is_recurrence",
                "type", "subject"]
    assert raw.columns == expected and source_header("visits", source) == expected
    frame = canonicalise(raw, source, "Asia/Bangkok").frame
    assert frame.get_column("visit_id").to_list() == ["00U000000000001", "00U000000000002"]
    from datetime import UTC, datetime

    # the all-day event: ActivityDate, local midnight in Bangkok; the other: its instant
    assert frame.get_column("visit_start").to_list() == [datetime(2025, 2, 28, 17, 0, tzinfo=UTC), datetime(2025, 3, 2, 3, 0, tzinfo=UTC)]


def test_ids_with_invisible_padding_are_cut_like_any_other(tmp_path: Path):
    """An id is read trimmed of Unicode spaces and zero-width characters, and the preset's
    expressions read it the same way: an 18-character id copied with a trailing zero-width space
    (or a no-break space) is still cut to 15, so its account does not split in two."""
    from visitmix.canonicalise import canonicalise

    rows = [_event(1, "false"), _event(2, "false"), _event(3, "false")]
    rows[1][1] = "001000000000001AAA\u200b"  # AccountId pasted from a web page
    rows[2][1], rows[2][2] = "\u00a0001000000000001AAA", "005000000000001AAA\ufeff"
    (tmp_path / "Event.csv").write_text(",".join(EVENT_HEADER) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n", encoding="utf-8")
    raw, source = _preset_visits(tmp_path, "Event.csv")
    frame = canonicalise(raw, source, "Asia/Bangkok").frame
    assert frame.get_column("account_id").to_list() == ["001000000000001"] * 3
    assert frame.get_column("rep_id").to_list() == ["005000000000001"] * 3


def test_lookup_keys_match_as_ids_are_read(tmp_path: Path):
    """A lookup key and the source's key match once trimmed of spaces and zero-width characters on
    either side (a byte-order mark or no-break space left by a spreadsheet); a blank key joins nothing."""
    from visitmix.config import LookupConfig, SourceConfig
    from visitmix.sources import read_source

    (tmp_path / "m.csv").write_text("engagement_id\n1\n2\ufeff\n\u00a03\n\u200b\n", encoding="utf-8")
    (tmp_path / "links.csv").write_text("engagement_id,company_id\n1\u200b,C1\n2,C2\n 3 ,C3\n\u3000,C0\n", encoding="utf-8")
    raw = read_source("visits", SourceConfig(path=tmp_path / "m.csv", lookups=[LookupConfig(path=tmp_path / "links.csv", on="engagement_id", take=["company_id"])]))
    assert raw.frame.select("engagement_id", "company_id").rows() == [("1", "C1"), ("2\ufeff", "C2"), ("\u00a03", "C3"), ("\u200b", None)]
    assert raw.ambiguous_lookups == (("visits.lookups[0]", "engagement_id", 0),)
