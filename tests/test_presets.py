"""CRM presets: the Salesforce mapping file on the shared (Fivetran-style) Salesforce export."""

from __future__ import annotations

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
    assert merged["columns"]["rep_id"] == "owner_id"
    assert merged["where"] == "lower(coalesce(is_deleted, 'false')) <> 'true'"
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
        ("sf_task_data.csv", 4, "account_id is missing: the visit cannot be classified")
    ]
    # every opportunity is flagged deleted: a correct drop leaves no deals, so every account is a prospect
    assert query(wh, "select count(*) from staging.deals") == [(0,)]
    types = dict(query(wh, "select visit_id, visit_type from marts.fct_visit"))
    hot = {k for k, v in types.items() if v == "hot_prospect"}
    # all activities share one instant: ties go by id in plain (case-sensitive) string order
    assert hot == {"00T1G00003UfZPYUA3", "00T1G00003UfZQ7UAN", "00T1G00003UfFl8UAF"}
    assert sorted(set(types.values())) == ["hot_prospect", "new_prospect"]
    assert len(types) == 19
    # events keep their type (Call / Meeting) as the channel
    assert query(wh, "select channel, count(*) from core.visit where visit_id like '00U%' group by 1 order by 1") == [("Call", 6), ("Meeting", 4)]
