"""The main flow end to end on small scenarios: marts, mix maths, rebuild semantics, idempotency."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, marts_digest, query, warehouse_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPS = [["R1", "สมชาย ใจดี", "Team A", "Central"], ["R2", "Anna Lee", "Team B", "North"]]


def test_mix_mart_exact_shares_and_distance(tmp_path: Path):
    config = make_scenario(
        tmp_path,
        visits=[
            # R1 in January 2025: 1 new (A1), 1 hot (A1), 2 existing (A2)
            ["V1", "R1", "A1", "2025-01-05 10:00", "Held", "", ""],
            ["V2", "R1", "A1", "2025-01-06 10:00", "Done", "Hot Prospect Visit", ""],
            ["V3", "R1", "A2", "2025-01-07 10:00", "", "", ""],
            ["V4", "R1", "A2", "2025-01-31T18:00:00Z", "completed", "", ""],  # 1 Feb 01:00 in Bangkok
            ["V5", "R1", "A2", "2025-01-09 10:00", "Canceled", "", ""],
            # R2 in February 2025: one new prospect visit
            ["V6", "R2", "A3", "2025-02-03 10:00", "Held", "New Prospect Visit", ""],
        ],
        accounts=[["A1", "Alpha", "", "Central", "SME"], ["A2", "Beta", "2024-05-01", "Central", "SME"]],
        reps=REPS,
    )
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (6, 0, 5)
    assert summary.mix == {"new_prospect": 2, "hot_prospect": 1, "existing_customer": 2}
    wh = warehouse_of(config)
    rows = query(wh, "select * from marts.visit_mix_monthly order by month, rep_id")
    assert rows == [
        (date(2025, 1, 1), "R1", "Team A", "Central", 3, 1, 1, 1, 1 / 3, 1 / 3, 1 / 3, 0.20, 0.25, 0.55,
         pytest.approx(0.5 * (abs(1 / 3 - 0.20) + abs(1 / 3 - 0.25) + abs(1 / 3 - 0.55)))),
        (date(2025, 2, 1), "R1", "Team A", "Central", 1, 0, 0, 1, 0.0, 0.0, 1.0, 0.20, 0.25, 0.55, pytest.approx(0.45)),
        (date(2025, 2, 1), "R2", "Team B", "North", 1, 1, 0, 0, 1.0, 0.0, 0.0, 0.20, 0.25, 0.55, pytest.approx(0.80)),
    ]
    fct = {r[0]: r[1:] for r in query(wh, "select visit_id, visit_date, status, visit_type, visit_type_label, prior_visit_count, is_reported_type_mismatch, team from marts.fct_visit")}
    assert fct["V4"] == (date(2025, 2, 1), "completed", "existing_customer", "Existing Customer Visit", 1, None, "Team A")
    assert fct["V5"] == (date(2025, 1, 9), "cancelled", None, None, 1, None, "Team A")
    assert fct["V2"][4:6] == (1, False)
    assert fct["V6"][5] is False
    # one row per id seen in any input, with names where the input has them
    assert query(wh, "select account_id, account_name, customer_since from marts.dim_account order by 1") == [
        ("A1", "Alpha", None),
        ("A2", "Beta", date(2024, 5, 1)),
        ("A3", None, None),
    ]
    assert query(wh, "select rep_id, rep_name from marts.dim_rep order by 1") == [("R1", "สมชาย ใจดี"), ("R2", "Anna Lee")]
    # A3 is in no accounts input: recorded as a warning, not quarantined
    assert query(wh, "select outcome, unexpected_count from audit.dq_result where expectation = 'visit_account_in_accounts'") == [("failed", 1)]


def test_marts_schema_names_and_types(tmp_path: Path):
    config = make_scenario(tmp_path, visits=[["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""]])
    visit_mix_flow(str(config))
    columns = query(
        warehouse_of(config),
        "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts' order by table_name, ordinal_position",
    )
    got: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in columns:
        got.setdefault(table, []).append((column, dtype))
    assert got["dim_account"] == [
        ("account_id", "VARCHAR"), ("account_name", "VARCHAR"), ("customer_since", "DATE"), ("region", "VARCHAR"), ("segment", "VARCHAR"),
        ("rep_id", "VARCHAR"), ("first_visit_date", "DATE"), ("last_visit_date", "DATE"), ("lifecycle_stage", "VARCHAR"),
    ]
    assert got["dim_rep"] == [
        ("rep_id", "VARCHAR"), ("valid_from", "DATE"), ("valid_to", "DATE"), ("rep_name", "VARCHAR"), ("team", "VARCHAR"), ("region", "VARCHAR"),
        ("is_current", "BOOLEAN"),
    ]
    assert got["fct_visit"] == [
        ("visit_id", "VARCHAR"), ("rep_id", "VARCHAR"), ("account_id", "VARCHAR"), ("visit_start", "TIMESTAMP WITH TIME ZONE"),
        ("visit_date", "DATE"), ("status", "VARCHAR"), ("channel", "VARCHAR"), ("duration_min", "DOUBLE"), ("deal_id", "VARCHAR"),
        ("visit_type", "VARCHAR"), ("visit_type_label", "VARCHAR"), ("prior_visit_count", "BIGINT"), ("days_since_prior_visit", "BIGINT"),
        ("days_to_next_visit", "BIGINT"), ("customer_since", "DATE"), ("reported_type", "VARCHAR"), ("reported_visit_type", "VARCHAR"),
        ("is_reported_type_mismatch", "BOOLEAN"), ("team", "VARCHAR"), ("region", "VARCHAR"),
    ]
    mix_columns = [
        ("visits_total", "BIGINT"), ("new_prospect_visits", "BIGINT"), ("hot_prospect_visits", "BIGINT"), ("existing_customer_visits", "BIGINT"),
        ("new_prospect_share", "DOUBLE"), ("hot_prospect_share", "DOUBLE"), ("existing_customer_share", "DOUBLE"),
        ("target_new_prospect_share", "DOUBLE"), ("target_hot_prospect_share", "DOUBLE"), ("target_existing_customer_share", "DOUBLE"),
        ("mix_distance", "DOUBLE"),
    ]
    assert got["visit_mix_monthly"] == [("month", "DATE"), ("rep_id", "VARCHAR"), ("team", "VARCHAR"), ("region", "VARCHAR"), *mix_columns]
    assert got["visit_mix"] == [
        ("period_grain", "VARCHAR"), ("period_start", "DATE"), ("iso_year", "INTEGER"), ("iso_week", "INTEGER"), ("level", "VARCHAR"),
        ("level_key", "VARCHAR"), *mix_columns,
    ]
    assert sorted(got) == ["dim_account", "dim_date", "dim_rep", "fct_visit", "reported_type_mismatch", "visit_kpi", "visit_mix",
                           "visit_mix_long", "visit_mix_monthly"]
    # no BI driver has to cope with HUGEINT sums
    assert not [c for c in columns if c[2] == "HUGEINT"]
    # no run metadata in the marts
    assert not [c for c in columns if c[1] in ("run_id", "loaded_at")]


def test_quarantine_rows_reasons_and_raw_row(tmp_path: Path):
    visits = [[f"V{i:02d}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", "note"] for i in range(1, 26)]
    visits += [
        ["V90", "R1", "", "2025-02-01 10:00", "Held", "", "no account"],
        ["V91", "R1", "A1", "31/02/2025", "Held", "", ""],
        ["", "R1", "A1", "2025-02-02 10:00", "Held", "", ""],
        ["V93", "R1", "A1", "2025-02-03 10:00", "Postponed", "", ""],
        ["V94", "R1", "A1", "1999-12-31 10:00", "Held", "", ""],
        ["V95", "", "A1", "2025-02-04 10:00", "Planned", "", ""],
    ]
    config = make_scenario(tmp_path, visits=visits, extra_config="[validation]\nmax_quarantine_share = 0.2\n")
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (31, 6, 25)
    rows = query(warehouse_of(config), "select source, file, row_number, reason, raw_row->>'Id', raw_row->>'Note' from audit.quarantine order by row_number")
    assert rows == [
        ("visits", "visits.csv", 26, "account_id is missing: the visit cannot be classified", "V90", "no account"),
        ("visits", "visits.csv", 27, "visit_start: the value cannot be read as a date and time", "V91", None),
        ("visits", "visits.csv", 28, "visit_id is missing", None, None),
        ("visits", "visits.csv", 29, "status is not one of completed, planned, cancelled, no_show (map it with sources.visits.status_map)", "V93", None),
        ("visits", "visits.csv", 30, "visit_start is before 2000-01-01 (local time)", "V94", None),
        ("visits", "visits.csv", 31, "rep_id is missing", "V95", None),
    ]
    assert query(warehouse_of(config), "select count(*) from marts.fct_visit") == [(25,)]


def test_duplicate_visit_ids_are_all_quarantined(tmp_path: Path):
    visits = [[f"V{i:02d}", "R1", "A1", f"2025-01-{i:02d} 10:00", "", "", ""] for i in range(1, 21)]
    visits.append(["V01", "R1", "A2", "2025-03-01 10:00", "", "", ""])
    config = make_scenario(tmp_path, visits=visits, extra_config="[validation]\nmax_quarantine_share = 0.1\n")
    visit_mix_flow(str(config))
    assert query(warehouse_of(config), "select row_number, reason from audit.quarantine order by 1") == [
        (1, "visit_id appears more than once"),
        (21, "visit_id appears more than once"),
    ]


def test_rebuild_drops_visits_missing_from_the_new_export_and_is_idempotent(tmp_path: Path):
    rows = [
        ["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""],
        ["V2", "R1", "A1", "2025-01-06 10:00", "", "", ""],
    ]
    config = make_scenario(tmp_path, visits=rows, reps=REPS)
    visit_mix_flow(str(config))
    first = marts_digest(warehouse_of(config))
    visit_mix_flow(str(config))
    assert marts_digest(warehouse_of(config)) == first  # same inputs, same marts
    make_scenario(tmp_path, visits=rows[1:], reps=REPS)
    visit_mix_flow(str(config))
    wh = warehouse_of(config)
    assert query(wh, "select visit_id, visit_type from marts.fct_visit") == [("V2", "new_prospect")]
    assert query(wh, "select count(*), count(distinct run_id) from audit.pipeline_run where status = 'succeeded'") == [(3, 3)]


def test_monthly_exports_keep_the_newest_version(tmp_path: Path):
    import shutil

    shutil.copytree(Path(__file__).parent / "fixtures" / "sources" / "monthly", tmp_path / "exports")
    config = tmp_path / "visitmix.toml"
    config.write_text(
        '[warehouse]\npath = "wh/visitmix.duckdb"\n[sources.visits]\npath = "exports/visits_*.csv"\n'
        '[sources.visits.columns]\nvisit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\n'
    )
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (4, 0, 3)
    wh = tmp_path / "wh" / "visitmix.duckdb"
    assert query(wh, "select visit_id, strftime(visit_start at time zone 'Asia/Bangkok', '%Y-%m-%d %H:%M'), visit_type from marts.fct_visit order by 1") == [
        ("V1", "2025-01-05 10:00", "new_prospect"),
        ("V2", "2025-01-21 11:00", "hot_prospect"),  # the February file's version
        ("V3", "2025-02-03 10:00", "hot_prospect"),
    ]
    assert query(wh, "select outcome, unexpected_count, unexpected_sample from audit.dq_result where expectation = 'newest_version_per_key' and suite = 'visits'") == [
        ("passed", 1, '["exports/visits_2025-01.csv:2"]')  # information: a newer version replaced it
    ]
    counts = query(wh, "select row_counts->'visits' from audit.pipeline_run")[0][0]
    assert json.loads(counts) == {"read": 4, "in_scope": 4, "superseded": 1, "quarantined": 0, "accepted": 3}
    assert query(wh, "select file, encoding from audit.source_file order by file") == [
        ("exports/visits_2025-01.csv", "utf-8"),
        ("exports/visits_2025-02.csv", "utf-8"),
    ]


def test_an_organisations_own_labels_are_read_through_reported_type_map(tmp_path: Path):
    """[classification] reported_type_map reaches the classification: with it, a rep's Thai label
    "เยี่ยมครั้งแรก" (first visit) names new_prospect and is no mismatch on a first visit."""
    rows = [["V1", "R1", "A1", "2025-01-06 09:00", "Completed", "เยี่ยมครั้งแรก", ""],
            ["V2", "R1", "A1", "2025-01-07 09:00", "Completed", "เยี่ยม ครั้งแรก", ""]]
    config = make_scenario(tmp_path, visits=rows)
    visit_mix_flow(str(config))
    wh = warehouse_of(config)
    assert query(wh, "select visit_id, reported_visit_type, is_reported_type_mismatch from marts.fct_visit order by 1") == [
        ("V1", None, True), ("V2", None, True)]
    config = make_scenario(tmp_path, visits=rows, classification='timezone = "Asia/Bangkok"\nreported_type_map = { "เยี่ยมครั้งแรก" = "new_prospect" }')
    visit_mix_flow(str(config))
    assert query(wh, "select visit_id, reported_visit_type, is_reported_type_mismatch from marts.fct_visit order by 1") == [
        ("V1", "new_prospect", False), ("V2", None, True)]
    assert query(wh, "select reported_visit_type, visit_type, visits from marts.reported_type_mismatch "
                     "where period_grain = 'month' and level = 'company'") == [("unknown label", "hot_prospect", 1)]
