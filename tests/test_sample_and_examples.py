"""The bundled sample and the shipped real-export example, end to end with exact counts."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow
from oracle import classify_oracle, local
from scenario import query
from visitmix.paths import PROJECT_ROOT, SAMPLE_DIR

pytestmark = pytest.mark.usefixtures("prefect_harness")

STATUS = {"held": "completed", "completed": "completed", "done": "completed", "": "completed", "canceled": "cancelled",
          "cancelled": "cancelled", "not held": "cancelled", "no show": "no_show", "scheduled": "planned"}


def _read(name: str) -> list[dict[str, str]]:
    with (SAMPLE_DIR / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sample_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    summary = visit_mix_flow(None)
    warehouse = tmp_path / "warehouse" / "visitmix.duckdb"
    assert summary.warehouse == warehouse
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (2033, 4, 1758)
    assert summary.mix == {"new_prospect": 157, "hot_prospect": 537, "existing_customer": 1064}
    rows = summary.mart_rows
    assert {k: rows[k] for k in ("dim_account", "dim_rep", "fct_visit", "visit_mix_monthly")} == {
        "dim_account": 240, "dim_rep": 9, "fct_visit": 2029, "visit_mix_monthly": 154
    }
    # 2025 and 2026, the years the visits span, widened to whole ISO weeks:
    # Mon 2024-12-30 (2 days before) to Sun 2027-01-03 (3 days after)
    assert rows["dim_date"] == 730 + 2 + 3
    assert rows["visit_mix_long"] == 3 * rows["visit_mix"]  # one row per visit type
    assert query(warehouse, "select reason, count(*) from audit.quarantine group by 1 order by 1") == [
        ("account_id is missing: the visit cannot be classified", 3),
        ("visit_start: the value cannot be read as a date and time", 1),
    ]

    # Cross-check every visit type against the independent oracle, read straight from the CSVs.
    tz = "Asia/Bangkok"
    visits = [
        {"visit_id": r["Visit ID"], "account_id": r["Account Code"], "visit_start": local(r["Start Time"], tz), "status": STATUS[r["Status"].lower()]}
        for r in _read("visits.csv")
        if r["Account Code"] and not r["Start Time"].startswith("31/02")
    ]
    accounts = [{"account_id": r["Account Code"], "customer_since": date.fromisoformat(r["Customer Since"]) if r["Customer Since"] else None} for r in _read("accounts.csv")]
    deals = [{"account_id": r["Account Code"], "is_won": r["Won"] == "true", "close_date": date.fromisoformat(r["Close Date"]) if r["Close Date"] else None} for r in _read("deals.csv")]
    expected = classify_oracle(visits, accounts, deals, tz, 365)
    got = dict(query(warehouse, "select visit_id, visit_type from marts.fct_visit"))
    assert got == {k: v["visit_type"] for k, v in expected.items()}
    # the mix mart adds up to the classified visits
    assert query(warehouse, "select sum(visits_total), sum(new_prospect_visits), sum(hot_prospect_visits), sum(existing_customer_visits) from marts.visit_mix_monthly") == [(1758, 157, 537, 1064)]


# Hand-computed from tests/fixtures/aivia_crm_demo (see its README): Meeting/Call activities only,
# account and rep through the deal; AC-1008 won DL-3006 on 2025-08-06.
AIVIA_EXPECTED = {
    "AT-5001": ("AC-1010", "U-01", "new_prospect", 0),
    "AT-5003": ("AC-1006", "U-01", "new_prospect", 0),
    "AT-5004": ("AC-1006", "U-01", "hot_prospect", 1),
    "AT-5005": ("AC-1006", "U-04", "hot_prospect", 2),
    "AT-5010": ("AC-1005", "U-02", "new_prospect", 0),
    "AT-5008": ("AC-1005", "U-02", "hot_prospect", 1),
    "AT-5011": ("AC-1005", "U-04", "hot_prospect", 2),
    "AT-5007": ("AC-1005", "U-02", "hot_prospect", 3),
    "AT-5013": ("AC-1008", "U-06", "existing_customer", 0),
    "AT-5014": ("AC-1008", "U-06", "existing_customer", 1),
    "AT-5018": ("AC-1002", "U-02", "new_prospect", 0),
    "AT-5022": ("AC-1002", "U-04", "hot_prospect", 1),
    "AT-5016": ("AC-1002", "U-02", "hot_prospect", 2),  # same deal and day as AT-5017: id order
    "AT-5017": ("AC-1002", "U-02", "hot_prospect", 3),
    "AT-5020": ("AC-1002", "U-04", "hot_prospect", 4),
    "AT-5023": ("AC-1011", "U-06", "new_prospect", 0),
    "AT-5024": ("AC-1011", "U-06", "hot_prospect", 1),
    "AT-5026": ("AC-1011", "U-01", "hot_prospect", 2),
    "AT-5027": ("AC-1011", "U-01", "hot_prospect", 3),
    "AT-5028": ("AC-1011", "U-01", "hot_prospect", 4),
    "AT-5030": ("AC-1001", "U-01", "new_prospect", 0),
    "AT-5031": ("AC-1001", "U-02", "hot_prospect", 1),
    "AT-5034": ("AC-1004", "U-06", "new_prospect", 0),
    "AT-5033": ("AC-1004", "U-06", "hot_prospect", 1),
    "AT-5036": ("AC-1003", "U-06", "new_prospect", 0),
    "AT-5037": ("AC-1003", "U-06", "hot_prospect", 1),
    "AT-5035": ("AC-1003", "U-06", "hot_prospect", 2),
    "AT-5039": ("AC-1007", "U-06", "new_prospect", 0),
    "AT-5040": ("AC-1007", "U-06", "hot_prospect", 1),
    "AT-5043": ("AC-1012", "U-02", "new_prospect", 0),
    "AT-5041": ("AC-1012", "U-02", "hot_prospect", 1),
    "AT-5045": ("AC-1009", "U-05", "new_prospect", 0),
    "AT-5044": ("AC-1009", "U-05", "hot_prospect", 1),
}


def test_aivia_crm_demo_example(tmp_path: Path):
    # run the shipped example against a copy so the test writes only under tmp_path
    example = (PROJECT_ROOT / "examples" / "aivia_crm_demo.toml").read_text()
    fixtures = PROJECT_ROOT / "tests" / "fixtures" / "aivia_crm_demo"
    config = tmp_path / "aivia.toml"
    config.write_text(example.replace("../tests/fixtures/aivia_crm_demo", str(fixtures)).replace("../warehouse", "wh"))
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_in_scope, summary.rows_quarantined, summary.rows_classified) == (45, 33, 0, 33)
    assert summary.mix == {"new_prospect": 11, "hot_prospect": 20, "existing_customer": 2}
    wh = tmp_path / "wh" / "aivia_crm_demo.duckdb"
    got = {r[0]: r[1:] for r in query(wh, "select visit_id, account_id, rep_id, visit_type, prior_visit_count from marts.fct_visit")}
    assert got == AIVIA_EXPECTED
    assert query(wh, "select customer_since from marts.dim_account where account_id = 'AC-1008'") == [(date(2025, 8, 6),)]
    assert query(wh, "select rep_id, rep_name, team from marts.dim_rep where rep_id = 'U-05'") == [("U-05", "Sales Rep 05", "SMB")]
