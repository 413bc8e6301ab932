"""Bad input: a clear message naming file, column, row or key — and the previous marts untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, marts_digest, query, warehouse_of
from visitmix.errors import ConfigError, SourceError, ValidationFailed, WarehouseError

pytestmark = pytest.mark.usefixtures("prefect_harness")

GOOD = [[f"V{i}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", ""] for i in range(1, 11)]


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A scenario whose first run succeeded; returns its config path."""
    config = make_scenario(tmp_path, visits=GOOD)
    visit_mix_flow(str(config))
    return config


def _assert_untouched(config: Path, before: str, error: str) -> None:
    wh = warehouse_of(config)
    assert marts_digest(wh) == before
    assert query(wh, "select status, error_message from audit.pipeline_run order by started_at") == [
        ("succeeded", None),
        ("failed", error),
    ]


def test_missing_column_lists_what_the_file_has(published: Path):
    before = marts_digest(warehouse_of(published))
    text = published.read_text().replace('visit_start = "Start"', 'visit_start = "Start Time"')
    published.write_text(text)
    with pytest.raises(SourceError) as info:
        visit_mix_flow(str(published))
    message = str(info.value)
    assert "visits source 'visits.csv'" in message
    assert "no column 'Start Time' for canonical 'visit_start' (set sources.visits.columns.visit_start)" in message
    assert "Its columns are: Id, Rep, Account, Start, Status, Label, Note" in message
    _assert_untouched(published, before, message)


def test_unknown_config_key(published: Path):
    published.write_text(published.read_text() + "\n[validation]\nmax_quarantine_shar = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'validation.max_quarantine_shar'"):
        visit_mix_flow(str(published))


def test_unreadable_file(published: Path):
    before = marts_digest(warehouse_of(published))
    (published.parent / "visits.parquet").write_bytes(b"this is not parquet")
    published.write_text(published.read_text().replace('path = "visits.csv"', 'path = "visits.parquet"'))
    with pytest.raises(SourceError) as info:
        visit_mix_flow(str(published))
    assert "cannot read visits source file '" in str(info.value)
    assert "visits.parquet' as Parquet" in str(info.value)
    _assert_untouched(published, before, str(info.value))


def test_missing_file(published: Path):
    published.write_text(published.read_text().replace('path = "visits.csv"', 'path = "exports/visits_*.csv"'))
    with pytest.raises(SourceError, match=r"sources.visits.path: no file matches '.*exports/visits_\*.csv'"):
        visit_mix_flow(str(published))


def test_quarantine_bound_exceeded(published: Path):
    before = marts_digest(warehouse_of(published))
    rows = GOOD + [["V99", "R1", "", "2025-02-01 10:00", "Held", "", ""]]  # 1 of 11 = 9.1% > 5%
    make_scenario(published.parent, visits=rows)
    with pytest.raises(ValidationFailed) as info:
        visit_mix_flow(str(published))
    message = str(info.value)
    assert message.startswith("1 of 11 visits rows (9.1%) failed row-level checks, above validation.max_quarantine_share = 0.05")
    assert "1 × account_id is missing" in message
    _assert_untouched(published, before, message)
    # the failed run still says what it held back and why
    assert query(warehouse_of(published), "select row_number, reason from audit.quarantine") == [
        (11, "account_id is missing: the visit cannot be classified")
    ]


def test_failure_inside_publish_leaves_previous_marts(published: Path, monkeypatch: pytest.MonkeyPatch):
    before = marts_digest(warehouse_of(published))
    make_scenario(published.parent, visits=GOOD[:5])

    def broken(con):  # noqa: ANN001
        raise WarehouseError("mart check marts_keys.sql failed, nothing was published: simulated")

    monkeypatch.setattr("visitmix.warehouse._check_marts", broken)
    with pytest.raises(WarehouseError):
        visit_mix_flow(str(published))
    _assert_untouched(published, before, "mart check marts_keys.sql failed, nothing was published: simulated")
    assert not list(published.parent.glob("wh/*.building-*"))
