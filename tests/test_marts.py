"""Marts at every level and period, targets with history and per team, rep history, KPIs (issue #10).

One small history, every expected value worked out by hand from the rules (see the comments):

    accounts  A1 customer since 2024-06-01, owner R1   A2 owner R1 (won 2025-07-09)
              A3 owner R2 (won 2025-07-16)             A4 customer since 2024-01-01, owner R2
              A5 owner R2 (never won)                  A6 (no owner)
    reps      R1, R2 in Team A; R3 in Team A until 2025-03-15, then Team B
    targets   company 0.20/0.25/0.55, from 2025-07-01 0.30/0.30/0.40; Team B 0.10/0.10/0.80
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from scenario import query

pytestmark = pytest.mark.usefixtures("prefect_harness")

VISITS = [
    # id, rep, account, date, status, label                                 type (by hand)
    ("V01", "R1", "A1", "2024-12-30", "completed", ""),  # existing: ISO week 2025-W01
    ("V02", "R1", "A1", "2025-01-06", "completed", "New Prospect Visit"),  # existing; labelled "new"
    ("V03", "R1", "A2", "2025-01-10", "completed", ""),  # new; next completed visit V14, day 90
    ("V04", "R1", "A1", "2025-01-20", "completed", ""),  # existing
    ("V05", "R2", "A3", "2025-01-15", "completed", ""),  # new; next completed visit V15, day 91
    ("V06", "R2", "A5", "2025-01-20", "completed", ""),  # new; next completed visit V12, day 49
    ("V07", "R2", "A4", "2025-02-12", "completed", ""),  # existing: covers A4 in February
    ("V08", "R1", "A2", "2025-03-05", "cancelled", ""),
    ("V09", "R1", "A2", "2025-03-06", "no_show", ""),
    ("V10", "R1", "A2", "2025-03-07", "planned", ""),
    ("V11", "R1", "A1", "2025-03-08", "completed", ""),  # existing
    ("V12", "R3", "A5", "2025-03-10", "completed", ""),  # hot; R3 still in Team A
    ("V13", "R3", "A5", "2025-03-20", "completed", ""),  # hot; R3 in Team B now
    ("V14", "R1", "A2", "2025-04-10", "completed", ""),  # hot; A2 won 90 days later
    ("V15", "R2", "A3", "2025-04-16", "completed", ""),  # hot; A3 won 91 days later
    ("V16", "R2", "A5", "2025-04-21", "completed", ""),  # hot
    ("V17", "R1", "A2", "2025-08-01", "completed", ""),  # existing (since 2025-07-09)
    ("V20", "R1", "A6", "2025-08-15", "completed", ""),  # new; no follow-up, window still open
    ("V19", "R2", "A5", "2025-09-10", "completed", ""),  # hot
    ("V18", "R2", "A3", "2025-09-30", "completed", ""),  # existing (since 2025-07-16); the data's last day
    ("V21", "R2", "A5", "2025-12-15", "planned", ""),  # planned ahead: not the data's last day (as_of_date)
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("marts")
    write_csv(root / "visits.csv", ["Id", "Rep", "Account", "Start", "Status", "Label"],
              [[i, r, a, f"{d} 10:00", s, label] for i, r, a, d, s, label in VISITS])
    write_csv(root / "accounts.csv", ["account_id", "customer_since", "owner"],
              [["A1", "2024-06-01", "R1"], ["A2", "", "R1"], ["A3", "", "R2"], ["A4", "2024-01-01", "R2"], ["A5", "", "R2"], ["A6", "", ""],
               ["A7", "2025-12-01", "R9"]])  # R9 owns an account and appears nowhere else
    write_csv(root / "deals.csv", ["deal_id", "account_id", "is_won", "close_date"],
              [["D1", "A2", "true", "2025-07-09"], ["D2", "A3", "true", "2025-07-16"]])
    write_csv(root / "reps.csv", ["rep_id", "team", "region", "valid_from", "valid_to"],
              [["R1", "Team A", "North", "", ""], ["R2", "Team A", "North", "", ""],
               ["R3", "Team A", "North", "", "2025-03-15"], ["R3", "Team B", "South", "2025-03-15", ""],
               ["R4", "Team A", "North", "", "2025-06-30"]])  # R4 left
    (root / "visitmix.toml").write_text(
        '[warehouse]\npath = "wh/visitmix.duckdb"\n[classification]\ntimezone = "UTC"\n[calendar]\nfiscal_year_start_month = 10\n'
        "[target_mix]\nnew_prospect = 0.30\nhot_prospect = 0.30\nexisting_customer = 0.40\nvalid_from = 2025-07-01\n"
        "[[target_mix.history]]\nnew_prospect = 0.20\nhot_prospect = 0.25\nexisting_customer = 0.55\n"
        '[target_mix.teams."Team B"]\nnew_prospect = 0.10\nhot_prospect = 0.10\nexisting_customer = 0.80\n'
        '[sources.visits]\npath = "visits.csv"\n[sources.visits.columns]\nvisit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\n'
        'visit_start = "Start"\nstatus = "Status"\nreported_type = "Label"\n'
        '[sources.accounts]\npath = "accounts.csv"\n[sources.accounts.columns]\nrep_id = "owner"\n'
        '[sources.deals]\npath = "deals.csv"\n[sources.reps]\npath = "reps.csv"\n'
    )
    visit_mix_flow(str(root / "visitmix.toml"))
    return root / "wh" / "visitmix.duckdb"


def mix(wh: Path, grain: str, start: str, level: str, key: str) -> tuple:
    return query(
        wh,
        "select visits_total, new_prospect_visits, hot_prospect_visits, existing_customer_visits, new_prospect_share, "
        "target_new_prospect_share, target_hot_prospect_share, target_existing_customer_share from marts.visit_mix "
        f"where period_grain = '{grain}' and period_start = '{start}' and level = '{level}' and level_key = '{key}'",
    )[0]


def test_iso_week_of_the_year_boundary(warehouse: Path):
    assert query(warehouse, "select iso_year, iso_week, visits_total from marts.visit_mix "
                 "where period_grain = 'week' and period_start = '2024-12-30' and level = 'company'") == [(2025, 1, 1)]
    assert query(warehouse, "select iso_year, iso_week, buddhist_year from marts.dim_date where date = '2024-12-30'") == [(2025, 1, 2567)]


def test_a_team_share_is_computed_from_counts_not_averaged(warehouse: Path):
    # Team A, January: R1 V02 V03 V04 (1 new of 3), R2 V05 V06 (2 new of 2) -> 3 new of 5 = 0.6,
    # while the mean of the reps' shares would be (1/3 + 1) / 2 = 0.667
    assert mix(warehouse, "month", "2025-01-01", "team", "Team A")[:5] == (5, 3, 0, 2, 0.6)
    assert mix(warehouse, "month", "2025-01-01", "rep", "R1")[4] == pytest.approx(1 / 3)
    assert mix(warehouse, "month", "2025-01-01", "rep", "R2")[4] == 1.0
    # every level adds up to the company
    assert query(warehouse, "select level, sum(visits_total) from marts.visit_mix where period_grain = 'quarter' group by 1 order by 1") == [
        ("company", 17), ("region", 17), ("rep", 17), ("team", 17)
    ]


def test_a_rep_month_without_visits_is_a_zero_row(warehouse: Path):
    assert mix(warehouse, "month", "2025-02-01", "rep", "R1") == (0, 0, 0, 0, None, 0.20, 0.25, 0.55)
    # but not outside the rep's first..last visit (R3: March only)
    assert query(warehouse, "select count(*) from marts.visit_mix where level = 'rep' and level_key = 'R3' and period_grain = 'month'") == [(1,)]


def test_targets_per_team_and_changed_mid_year(warehouse: Path):
    assert mix(warehouse, "month", "2025-03-01", "team", "Team B")[5:] == (0.10, 0.10, 0.80)  # R3's V13
    assert mix(warehouse, "quarter", "2025-04-01", "company", "company")[5:] == (0.20, 0.25, 0.55)  # Q2 keeps the old target
    assert mix(warehouse, "quarter", "2025-07-01", "company", "company")[5:] == (0.30, 0.30, 0.40)
    # R3 in March: the rep's team on the 1st (Team A, no own target) -> the company's
    assert mix(warehouse, "month", "2025-03-01", "rep", "R3")[5:] == (0.20, 0.25, 0.55)


def test_a_rep_moving_team_mid_month(warehouse: Path):
    assert query(warehouse, "select visit_id, team, region from marts.fct_visit where rep_id = 'R3' order by 1") == [
        ("V12", "Team A", "North"), ("V13", "Team B", "South"),
    ]
    # March by team: Team A has V11 (R1) and V12 (R3), Team B has V13
    assert mix(warehouse, "month", "2025-03-01", "team", "Team A")[:4] == (2, 0, 1, 1)
    assert mix(warehouse, "month", "2025-03-01", "team", "Team B")[:4] == (1, 0, 1, 0)
    assert query(warehouse, "select rep_id, valid_from, valid_to, team, is_current from marts.dim_rep where rep_id = 'R3' order by valid_from nulls first") == [
        ("R3", None, date(2025, 3, 15), "Team A", False), ("R3", date(2025, 3, 15), None, "Team B", True),
    ]
    # a rep who left has no current row; an account owner seen nowhere else still gets one
    assert query(warehouse, "select rep_id, valid_to, team, is_current from marts.dim_rep where rep_id in ('R4', 'R9') order by 1") == [
        ("R4", date(2025, 6, 30), "Team A", False), ("R9", None, None, True),
    ]


def kpi(wh: Path, grain: str, start: str, level: str, key: str, columns: str) -> tuple:
    return query(wh, f"select {columns} from marts.visit_kpi where period_grain = '{grain}' and period_start = '{start}' "
                     f"and level = '{level}' and level_key = '{key}'")[0]


def test_progression_window_edges(warehouse: Path):
    # January: V03 followed up on day 90 (counts), V05 on day 91 (does not), V06 on day 49
    cols = "new_prospect_visits, progressed_new_visits, is_progression_window_complete, new_to_hot_progression_share"
    assert kpi(warehouse, "month", "2025-01-01", "company", "company", cols) == (3, 2, True, pytest.approx(2 / 3))
    assert kpi(warehouse, "month", "2025-01-01", "rep", "R1", cols) == (1, 1, True, 1.0)
    assert kpi(warehouse, "month", "2025-01-01", "rep", "R2", cols) == (2, 1, True, 0.5)
    # August: V20's window (to 2025-11-29) has not passed on the data's last day, 2025-09-30 (the
    # latest completed visit: V21, planned for December, does not move it)
    assert kpi(warehouse, "month", "2025-08-01", "company", "company", cols) == (1, 0, False, None)
    assert query(warehouse, "select distinct as_of_date from marts.visit_kpi") == [(date(2025, 9, 30),)]


def test_hot_to_won(warehouse: Path):
    # Q2: A2 (last hot 04-10, won 07-09: day 90), A3 (04-16, won 07-16: day 91), A5 (never)
    cols = "hot_accounts, won_hot_accounts, is_win_window_complete, hot_to_won_share"
    assert kpi(warehouse, "quarter", "2025-04-01", "company", "company", cols) == (3, 1, True, pytest.approx(1 / 3))
    assert kpi(warehouse, "quarter", "2025-07-01", "company", "company", cols) == (1, 0, False, None)


def test_coverage_plan_adherence_and_mismatch(warehouse: Path):
    cols = "customers_at_start, covered_customers, existing_customer_coverage_share"
    # customers on 1 February: A1 (owner R1), A4 (owner R2); only A4 was visited in February
    assert kpi(warehouse, "month", "2025-02-01", "company", "company", cols) == (2, 1, 0.5)
    assert kpi(warehouse, "month", "2025-02-01", "rep", "R1", cols) == (1, 0, 0.0)
    assert kpi(warehouse, "month", "2025-02-01", "rep", "R2", cols) == (1, 1, 1.0)
    assert kpi(warehouse, "month", "2025-02-01", "team", "Team A", cols) == (2, 1, 0.5)
    # R1 in March: V08 cancelled, V09 no-show, V11 completed (V10 still planned is not counted)
    assert kpi(warehouse, "month", "2025-03-01", "rep", "R1", "completed_visits, resolved_visits, plan_adherence_share") == (1, 3, pytest.approx(1 / 3))
    # January: one labelled visit, "new" typed on an existing customer
    assert kpi(warehouse, "month", "2025-01-01", "company", "company", "labelled_visits, mismatched_labels, reported_type_mismatch_share") == (1, 1, 1.0)
    assert query(warehouse, "select reported_visit_type, visit_type, visits from marts.reported_type_mismatch "
                 "where period_grain = 'month' and level = 'company'") == [("new_prospect", "existing_customer", 1)]


def test_star_schema_dimensions(warehouse: Path):
    assert query(warehouse, "select account_id, rep_id, first_visit_date, last_visit_date, lifecycle_stage from marts.dim_account order by 1") == [
        ("A1", "R1", date(2024, 12, 30), date(2025, 3, 8), "customer"),
        ("A2", "R1", date(2025, 1, 10), date(2025, 8, 1), "customer"),
        ("A3", "R2", date(2025, 1, 15), date(2025, 9, 30), "customer"),
        ("A4", "R2", date(2025, 2, 12), date(2025, 2, 12), "customer"),
        ("A5", "R2", date(2025, 1, 20), date(2025, 9, 10), "prospect"),
        ("A6", None, date(2025, 8, 15), date(2025, 8, 15), "prospect"),
        ("A7", "R9", None, None, "customer"),
    ]
    # 2024 is a leap year; whole ISO weeks: 2024-01-01 is a Monday, 2025-12-31 a Wednesday (its week ends 2026-01-04)
    assert query(warehouse, "select count(*), min(date), max(date) from marts.dim_date") == [(735, date(2024, 1, 1), date(2026, 1, 4))]
    # fiscal years start in October here: 2024-12-30 is in the first quarter of FY2025
    assert query(warehouse, "select fiscal_year, fiscal_quarter from marts.dim_date where date in ('2024-09-30', '2024-12-30') order by date") == [(2024, 4), (2025, 1)]
    assert query(warehouse, "select channel, duration_min, deal_id from marts.fct_visit where visit_id = 'V01'") == [(None, None, None)]
