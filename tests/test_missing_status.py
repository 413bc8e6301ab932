"""A visit without status decided by its start: ``missing_status = "by_start"`` (transforms/status.py),
set by the Salesforce and HubSpot presets, whose calendar exports hold upcoming meetings without status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from flows.visit_mix import visit_mix_flow
from scenario import query
from transforms.status import status_by_start

NOW = datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_a_missing_status_is_planned_before_the_start_and_completed_after():
    frame = pl.DataFrame(
        {"visit_id": ["a", "b", "c", "d", "e", "f"], "status": [None, None, "cancelled", None, "completed", None],
         "visit_start": [datetime(2025, 3, 3, 23, 59, tzinfo=UTC), datetime(2025, 3, 4, 0, 1, tzinfo=UTC),
                         datetime(2025, 3, 9, tzinfo=UTC), None, datetime(2025, 3, 9, tzinfo=UTC), datetime(2025, 3, 4, 0, 2, tzinfo=UTC)]},
        schema_overrides={"visit_start": pl.Datetime("us", "UTC")},
    )
    # the run starts at 00:01 UTC (07:01 in Bangkok): a start exactly then has passed, one a minute later has not;
    # a written status is never changed; a visit without a start is completed (and held back for its start)
    decided = status_by_start(frame, datetime(2025, 3, 4, 7, 1, tzinfo=ZoneInfo("Asia/Bangkok")))
    assert decided.get_column("status").to_list() == ["completed", "completed", "cancelled", "completed", "completed", "planned"]
    assert decided.columns == frame.columns
    full = frame.with_columns(pl.col("status").fill_null("planned"))
    assert status_by_start(full, NOW) is full  # nothing missing: not copied


HEADER = "Id,AccountId,OwnerId,ActivityDateTime,ActivityDate,IsAllDayEvent,IsDeleted,Type,SystemModstamp\n"


def _event(number: int, day: int, modified: int = 1) -> str:
    return (f"00U00000000000{number}AAA,001000000000001AAA,005000000000001AAA,2025-03-{day:02d}T03:00:00.000Z,2025-03-{day:02d},"
            f"false,false,Meeting,2025-03-{modified:02d}T00:00:00.000Z\n")


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "sf.toml"
    config.write_text('[warehouse]\npath = "wh/visitmix.duckdb"\n[classification]\ntimezone = "Asia/Bangkok"\n'
                      f'[sources.visits]\npreset = "salesforce"\npath = "Event.csv"\n{extra}', encoding="utf-8")
    return config


def _at(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    """The run starts at `now` (the instant the suite bounds and missing statuses are decided by)."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime.now's signature
            return now.astimezone(tz)

    monkeypatch.setattr("flows.visit_mix.datetime", Clock)


def _types(wh: Path) -> list[tuple]:
    return query(wh, "select visit_id, status, visit_type from marts.fct_visit order by visit_id")


@pytest.mark.usefixtures("prefect_harness")
def test_salesforce_events_ahead_of_the_run_are_planned_not_quarantined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Salesforce Events have no Status: three held, two upcoming on 5 and 9 March. Read as completed
    (the issue's rule for a missing status) the upcoming two were quarantined as completed visits in
    the future — 40 % of the rows, so the run failed. The preset reads them as the calendar says."""
    (tmp_path / "Event.csv").write_text(HEADER + "".join(_event(n, d) for n, d in ((1, 1), (2, 2), (3, 3), (4, 5), (5, 9))))
    _at(monkeypatch, NOW)
    summary = visit_mix_flow(str(_config(tmp_path)))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (5, 0, 3)
    wh = tmp_path / "wh" / "visitmix.duckdb"
    assert _types(wh) == [("00U000000000001", "completed", "new_prospect"), ("00U000000000002", "completed", "hot_prospect"),
                          ("00U000000000003", "completed", "hot_prospect"), ("00U000000000004", "planned", None),
                          ("00U000000000005", "planned", None)]
    # the rule stays the default: with missing_status = "completed" the upcoming ones are held back
    with pytest.raises(Exception, match=r"2 of 5 visits rows \(40.0%\) failed row-level checks"):
        visit_mix_flow(str(_config(tmp_path, 'missing_status = "completed"\n')))


@pytest.mark.usefixtures("prefect_harness")
def test_an_incremental_source_decides_kept_missing_statuses_again_each_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A meeting planned at the first run and held since, never modified (no row after the watermark),
    is completed in the second run — as a full run on the same rows then counts it."""
    # the upcoming meeting was last modified before the others: the second run extracts only those
    (tmp_path / "Event.csv").write_text(HEADER + _event(1, 1, modified=2) + _event(2, 2, modified=2) + _event(3, 6, modified=1))
    config = _config(tmp_path, 'mode = "incremental"\n')
    _at(monkeypatch, NOW)
    visit_mix_flow(str(config))
    wh = tmp_path / "wh" / "visitmix.duckdb"
    assert _types(wh)[-1] == ("00U000000000003", "planned", None)
    _at(monkeypatch, datetime(2025, 3, 10, tzinfo=UTC))
    summary = visit_mix_flow(str(config))
    assert summary.rows_read == 2  # the rows at the watermark (2 March); the third is a kept one
    incremental = _types(wh)
    assert incremental == [("00U000000000001", "completed", "new_prospect"), ("00U000000000002", "completed", "hot_prospect"),
                           ("00U000000000003", "completed", "hot_prospect")]
    visit_mix_flow(str(_config(tmp_path)))  # a full run at the same time
    assert _types(wh) == incremental


def test_only_visits_have_a_missing_status(tmp_path: Path):
    from visitmix.config import load_config
    from visitmix.errors import ConfigError

    config = tmp_path / "c.toml"
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.deals]\npath = "d.csv"\nmissing_status = "by_start"\n')
    with pytest.raises(ConfigError, match=r"sources.deals.missing_status: only visits have a status"):
        load_config(config)
    config.write_text('[sources.visits]\npath = "v.csv"\nmissing_status = "planned"\n')
    with pytest.raises(ConfigError, match=r"missing_status"):
        load_config(config)


def test_files_without_a_status_column_under_by_start_are_pointed_to_an_expression(tmp_path: Path):
    """Without a preset, a glob of event files (no Status) and task files (Status) under by_start: the
    per-file check names the remedy that reads them so (an expression, NULL in files lacking it)."""
    from visitmix.canonicalise import canonicalise
    from visitmix.config import load_config
    from visitmix.errors import SourceError
    from visitmix.sources import read_source

    (tmp_path / "a_events.csv").write_text("Id,Rep,Account,Start\nE1,R1,A1,2025-03-01 10:00\nE2,R1,A1,2025-03-09 10:00\n")
    (tmp_path / "b_tasks.csv").write_text("Id,Rep,Account,Start,Status\nT1,R1,A1,2025-03-02 10:00,Cancelled\n")
    config = tmp_path / "c.toml"
    mapping = '[sources.visits.columns]\nvisit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\n'
    config.write_text(f'[sources.visits]\npath = "*.csv"\nmissing_status = "by_start"\n{mapping}status = "Status"\n')
    loaded = load_config(config)
    with pytest.raises(SourceError, match=r"'a_events.csv': no column 'Status' .* map it as an expression, which a file may lack: "
                                          r"\[sources.visits.expressions\] status = '\"Status\"'"):
        canonicalise(read_source("visits", loaded.sources.visits, loaded.base_dir), loaded.sources.visits, "Asia/Bangkok")
    config.write_text(f'[sources.visits]\npath = "*.csv"\nmissing_status = "by_start"\n{mapping}'
                      "[sources.visits.expressions]\nstatus = '\"Status\"'\n")
    loaded = load_config(config)
    frame = canonicalise(read_source("visits", loaded.sources.visits, loaded.base_dir), loaded.sources.visits, "Asia/Bangkok").frame
    decided = status_by_start(frame, NOW)
    assert decided.select("visit_id", "status").rows() == [("E1", "completed"), ("E2", "planned"), ("T1", "cancelled")]
