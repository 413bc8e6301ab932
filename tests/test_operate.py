"""Operating visitmix (issue #12): pre-flight failures before Prefect starts, `visitmix status` for
on-call engineers and monitors, `--version`, plain boolean flags in `--help`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from scenario import VISIT_HEADER, make_scenario, query, warehouse_of
from visitmix.cli import app
from visitmix.errors import ValidationFailed
from visitmix.status import FAILED, HEALTHY, STALE, UNREADABLE, RunRow, Status, health

ROWS = [["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""], ["V2", "R1", "A1", "2025-01-06 10:00", "", "", ""]]
MAPPING = 'visit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\n'


def _config(root: Path, visits: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "visitmix.toml"
    config.write_text('[warehouse]\npath = "wh/visitmix.duckdb"\nlock_retries = 1\nlock_retry_delay_s = 0.1\n'
                      f"[sources.visits]\n{visits}\n{extra}", encoding="utf-8")
    return config


def _visits_csv(root: Path, header: list[str] = VISIT_HEADER) -> None:
    write_csv(root / "exports" / "visits.csv", header, ROWS)


PREFLIGHT_CASES = {
    "glob matches nothing": (
        f'path = "exports/*.xlsx"\n[sources.visits.columns]\n{MAPPING}', "",
        "sources.visits.path: no file matches",
    ),
    "mapped column missing from the header": (
        f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING.replace("Start", "Strat")}', "",
        "visits source 'visits.csv': no column 'Strat' for canonical 'visit_start' (set sources.visits.columns.visit_start)",
    ),
    "expression over a missing column": (
        f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING}[sources.visits.expressions]\n'
        "status = \"CASE WHEN Outcome = 'Done' THEN 'completed' END\"\n", "",
        "sources.visits.expressions.status: the expression reads 'Outcome'",
    ),
    "where over a missing column": (
        f'path = "exports/visits.csv"\nwhere = "Kind = \'Visit\'"\n[sources.visits.columns]\n{MAPPING}', "",
        "sources.visits.where: cannot apply 'Kind = 'Visit'' to the columns of 'visits.csv'",
    ),
    "lookup keyed on a missing column": (
        f'path = "exports/visits.csv"\n[[sources.visits.lookups]]\npath = "exports/owners.csv"\non = "OwnerId"\ntake = ["Team"]\n'
        f"[sources.visits.columns]\n{MAPPING}", "",
        "sources.visits.lookups[0].on: the visits source has no column 'OwnerId'",
    ),
    "Parquet file without a mapped column": (
        f'path = "exports/visits.parquet"\n[sources.visits.columns]\n{MAPPING}', "",
        "visits source 'visits.parquet': no column 'Start' for canonical 'visit_start'",
    ),
    "JSON file without a mapped column (read whole: it has no header)": (
        f'path = "exports/visits.json"\n[sources.visits.columns]\n{MAPPING}', "",
        "visits source 'visits.json': no column 'Start' for canonical 'visit_start'",
    ),
    "incremental source without a last-modified column": (
        f'path = "exports/visits.csv"\nmode = "incremental"\n[sources.visits.columns]\n{MAPPING}', "",
        "sources.visits.mode = \"incremental\" extracts rows by their last-modified time, but the visits source 'visits.csv' "
        "has no column 'updated_at'",
    ),
    "accounts file missing": (
        f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING}', '[sources.accounts]\npath = "exports/accounts.csv"\n',
        "sources.accounts.path: file '",
    ),
}


@pytest.mark.parametrize("case", list(PREFLIGHT_CASES))
def test_preflight_failures_stop_before_the_flow_and_are_recorded(tmp_path: Path, case: str):
    visits, extra, message = PREFLIGHT_CASES[case]
    _visits_csv(tmp_path)
    pl.DataFrame({"Id": ["V1"], "Rep": ["R1"], "Account": ["A1"]}).write_parquet(tmp_path / "exports" / "visits.parquet")
    pl.DataFrame({"Id": ["V1"], "Rep": ["R1"], "Account": ["A1"]}).write_json(tmp_path / "exports" / "visits.json")
    config = _config(tmp_path, visits, extra)
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "running the visit-mix flow" not in result.output
    # recorded like any failed run, in an audit-only warehouse (no marts were ever published)
    recorded = query(warehouse_of(config), "select status, rows_published, error_message from audit.pipeline_run")
    assert len(recorded) == 1 and recorded[0][:2] == ("failed", 0) and message in recorded[0][2]


def test_a_header_the_run_accepts_passes_the_preflight(tmp_path: Path):
    """Blank header cells, a BOM, surrounding spaces: the pre-flight names columns as the reader does."""
    root = tmp_path
    (root / "exports").mkdir()
    (root / "exports" / "visits.csv").write_text(
        "\ufeff Id ,Rep,Account,Start,\nV1,R1,A1,2025-01-05 10:00,x\n", encoding="utf-8")
    config = _config(root, f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING}channel = "column_5"\n')
    from visitmix.config import load_config
    from visitmix.preflight import preflight

    preflight(load_config(config))  # no error


def test_preflight_runs_before_any_prefect_server_starts(tmp_path: Path):
    """In a fresh process without PREFECT_API_URL: a typo fails with no Prefect server started (its
    database would be created in PREFECT_HOME) and no Prefect log line."""
    _visits_csv(tmp_path)
    config = _config(tmp_path, f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING.replace("Rep", "Repp")}')
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"PREFECT_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "visitmix.cli", "run", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "no column 'Repp' for canonical 'rep_id'" in done.stderr
    assert not (home / "prefect.db").exists()
    assert "Starting temporary server" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.usefixtures("prefect_harness")
def test_a_read_write_holder_fails_the_preflight_naming_its_pid(tmp_path: Path):
    config = make_scenario(tmp_path, visits=ROWS)
    visit_mix_flow(str(config))
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
                               "sys.stdin.readline()", str(warehouse_of(config))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"  # type: ignore[union-attr]
        result = CliRunner().invoke(app, ["run", "--config", str(config)])
    finally:
        holder.communicate("\n", timeout=30)
    assert result.exit_code == 1
    assert f"is held read-write by process {holder.pid}" in result.output
    assert "running the visit-mix flow" not in result.output


def _row(status: str, finished: datetime, message: str | None = None) -> RunRow:
    return RunRow("r", status, finished - timedelta(seconds=5), finished, 5.0, "full", 2, 0, 2, None, message)


def test_health_exit_codes():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ok = Status([_row("succeeded", now - timedelta(hours=2))], now - timedelta(hours=2), [])
    assert health(ok, None, now) == (HEALTHY, "healthy: the last run succeeded, the marts are 2.0 h old")
    assert health(ok, 3, now)[0] == HEALTHY
    assert health(ok, 1.5, now) == (STALE, "the marts are 2.0 h old, older than status.max_age_hours = 1.5")
    fresh = Status([_row("succeeded", now - timedelta(seconds=50))], now - timedelta(seconds=50), [])
    assert health(fresh, 0.01, now) == (STALE, "the marts are 50 s old, older than status.max_age_hours = 0.01")
    recent = Status([_row("succeeded", now - timedelta(minutes=36))], now - timedelta(minutes=36), [])
    assert health(recent, None, now) == (HEALTHY, "healthy: the last run succeeded, the marts are 36 min old")
    failed = Status([_row("failed", now, "boom"), *ok.runs], ok.last_success_at, [])
    assert health(failed, None, now) == (FAILED, "the last run r failed: boom")
    assert health(Status([], None, []), None, now)[0] == FAILED


@pytest.mark.usefixtures("prefect_harness")
def test_status_lists_runs_and_exits_for_monitoring(tmp_path: Path):
    extra = "[validation]\nmin_volume_share = 0\n[status]\nmax_age_hours = {}\n"
    config = make_scenario(tmp_path, visits=ROWS, extra_config=extra.format(24))
    summary = visit_mix_flow(str(config))
    runner = CliRunner()
    result = runner.invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == HEALTHY, result.output
    assert summary.run_id in result.output and "succeeded" in result.output and "healthy:" in result.output
    make_scenario(tmp_path, visits=ROWS, extra_config=extra.format(0.0001))  # 0.36 s
    time.sleep(0.5)
    result = runner.invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == STALE and "older than status.max_age_hours = 0.0001" in result.output
    make_scenario(tmp_path, visits=[["V1", "R1", "A1", "not a date", "", "", ""]], extra_config=extra.format(24))
    with pytest.raises(ValidationFailed):
        visit_mix_flow(str(config))
    result = runner.invoke(app, ["status", "--warehouse", str(warehouse_of(config))])
    assert result.exit_code == FAILED
    assert "failed" in result.output and summary.run_id in result.output
    missing = runner.invoke(app, ["status", "--warehouse", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == UNREADABLE == 3 and "does not exist" in missing.output  # unknown, not "failed"


def test_version_and_plain_boolean_flags():
    from importlib.metadata import version

    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"visitmix {version('visitmix')}\n"
    help_text = runner.invoke(app, ["run", "--help"]).output
    assert "--full-refresh" in help_text and "--debug" in help_text
    assert "<bool>" not in help_text and "BOOLEAN" not in help_text


@pytest.mark.usefixtures("prefect_harness")
def test_status_tells_a_killed_run_from_one_in_progress(tmp_path: Path):
    """A run killed outright (SIGKILL, out of memory) leaves its marker; no process holds the run lock
    any more, so status exits 1 at once instead of calling the warehouse healthy (QA pass)."""
    from filelock import FileLock

    config = make_scenario(tmp_path, visits=ROWS)
    visit_mix_flow(str(config))
    wh = warehouse_of(config)
    marker = wh.with_name("visitmix.duckdb.running-20261130T000000Z-deadbeef")
    marker.write_text("20261130T000000Z-deadbeef pid 999999\n", encoding="utf-8")
    runner = CliRunner()
    killed = runner.invoke(app, ["status", "--config", str(config)])
    assert killed.exit_code == FAILED, killed.output
    assert "run 20261130T000000Z-deadbeef was killed before it finished (its process is gone); the next run records it as failed" in killed.output
    holder = FileLock(f"{wh}.lock")  # a live run holds the lock: the same marker is a run in progress
    with holder:
        ours = subprocess.run([sys.executable, "-m", "visitmix.cli", "status", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert ours.returncode == HEALTHY, ours.stdout + ours.stderr
    assert "run 20261130T000000Z-deadbeef is in progress" in ours.stdout


def test_status_after_a_first_run_killed_before_any_warehouse_existed(tmp_path: Path):
    config = make_scenario(tmp_path, visits=ROWS)
    wh = warehouse_of(config)
    runner = CliRunner()
    assert runner.invoke(app, ["status", "--config", str(config)]).exit_code == 3  # nothing ran yet: unknown
    wh.parent.mkdir(parents=True)
    wh.with_name("visitmix.duckdb.running-20261201T000000Z-first").write_text("x pid 999999\n", encoding="utf-8")
    killed = runner.invoke(app, ["status", "--config", str(config)])
    assert killed.exit_code == FAILED, killed.output
    assert "run 20261201T000000Z-first was killed before it finished" in killed.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_team_target_for_a_team_no_rep_is_in_is_a_warning_with_the_teams_that_exist(tmp_path: Path):
    target = '[target_mix.teams."{}"]\nnew_prospect = 0.1\nhot_prospect = 0.1\nexisting_customer = 0.8\n'
    reps = [["R1", "Ann", "Northern SME", "North"], ["R2", "Bo", "Key Accounts", "South"]]
    config = make_scenario(tmp_path, visits=ROWS, reps=reps, extra_config=target.format("Northern Sme"))
    summary = visit_mix_flow(str(config))
    expected = ("[target_mix.teams] names 'Northern Sme', which no rep of the reps input is in (names are compared exactly; "
                "its teams: 'Key Accounts', 'Northern SME'): those targets apply to no one")
    assert expected in summary.warnings
    wh = warehouse_of(config)
    assert query(wh, "select severity, outcome, unexpected_count, details from audit.dq_result where expectation = 'target_team_exists'") == [
        ("warn", "failed", 1, expected)
    ]
    make_scenario(tmp_path, visits=ROWS, reps=reps, extra_config=target.format("Northern SME"))
    assert not [w for w in visit_mix_flow(str(config)).warnings if "target_mix" in w]
    assert query(wh, "select d.outcome from audit.dq_result d join audit.pipeline_run r using (run_id) "
                 "where d.expectation = 'target_team_exists' order by r.started_at desc limit 1") == [("passed",)]


@pytest.mark.usefixtures("prefect_harness")
def test_the_summary_says_when_rows_of_other_inputs_were_held_back(tmp_path: Path):
    """A deal repeated in a report export (one row per product line) ties with itself and is held
    back — and with it the account's customer date: the run summary says so, not only the dq-report."""
    deals = [["D1", "A1", "true", "2025-01-01", "100"], ["D1", "A1", "true", "2025-01-01", "100"]]
    config = make_scenario(tmp_path, visits=ROWS, deals=deals, extra_config="[validation]\nmax_quarantine_share = 1\n")
    summary = visit_mix_flow(str(config))
    notes = [w for w in summary.warnings if w.startswith("deals:")]
    assert len(notes) == 1 and notes[0].startswith("deals: 2 rows quarantined, left out of the marts and of customer dates (most common: 2 × ")
    assert notes[0].endswith("; see visitmix dq-report")


@pytest.mark.parametrize("args", [["--limit", "0"], ["--bogus"]])
def test_a_status_usage_error_is_unknown_for_monitoring_not_stale(args: list[str]):
    result = CliRunner().invoke(app, ["status", *args])
    assert result.exit_code == UNREADABLE == 3  # 2 would read as "the marts are stale"


def test_a_run_waiting_for_the_run_lock_says_for_which_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    from filelock import FileLock

    from visitmix.errors import WarehouseLockedError
    from visitmix.runlock import RunGuard

    live = tmp_path / "visitmix.duckdb"
    live.with_name("visitmix.duckdb.running-20261130T000000Z-first").write_text("x pid 1\n", encoding="utf-8")
    with FileLock(f"{live}.lock"), caplog.at_level("INFO", logger="visitmix"):
        with pytest.raises(WarehouseLockedError, match="another visitmix run is working on"):
            with RunGuard(live, "20261130T000001Z-second", timeout_s=0.2):
                pass
    assert "waiting up to 0 s for run 20261130T000000Z-first: one run at a time per warehouse" in caplog.text


def test_a_reports_folder_that_cannot_be_written_fails_the_preflight(tmp_path: Path):
    _visits_csv(tmp_path)
    (tmp_path / "reports-here").write_text("a file, not a folder", encoding="utf-8")
    config = _config(tmp_path, f'path = "exports/visits.csv"\n[sources.visits.columns]\n{MAPPING}', '[reports]\ndir = "reports-here"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert f"reports folder '{tmp_path / 'reports-here'}' cannot be written" in result.output
    assert "set [reports] dir to a writable folder" in result.output
    assert "running the visit-mix flow" not in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_replaced_visit_that_names_another_account_is_a_warning(tmp_path: Path):
    """Monthly exports whose Id is a per-file row number: February's visit 1 replaces January's visit 1
    (the newest-version rule), though it is another account's visit. Nothing tells the two apart, so
    the run keeps the rule and warns, counting the replaced rows that named another account."""
    jan = [["1", "R1", "A1", "2025-01-06 09:00", "Completed", "", ""], ["2", "R1", "A2", "2025-01-07 09:00", "Completed", "", ""],
           ["3", "R1", "A3", "2025-01-08 09:00", "Completed", "", ""]]
    config = make_scenario(tmp_path, visits=jan)
    config.write_text(config.read_text(encoding="utf-8").replace('path = "visits.csv"', 'path = "visits*.csv"'), encoding="utf-8")
    feb = [["1", "R1", "A4", "2025-02-03 09:00", "Completed", "", ""], ["2", "R1", "A2", "2025-02-04 09:00", "Completed", "", ""]]
    write_csv(tmp_path / "visits_2025-02.csv", VISIT_HEADER, feb)  # sorts after visits.csv: the newer file
    summary = visit_mix_flow(str(config))
    details = ("older rows whose newer version of the same visit_id (which replaced them) names another account_id or deal_id: the visit was "
               "moved to another account in the CRM, or the visit_id column is not unique across files and deliveries (a row number "
               "or a per-export counter), so unrelated rows replaced each other: check the export's id column")
    assert f"visits: {details} (1 row)" in summary.warnings
    wh = warehouse_of(config)
    assert query(wh, "select severity, outcome, element_count, unexpected_count, unexpected_sample, details from audit.dq_result "
                     "where expectation = 'versions_name_another_account'") == [("warn", "failed", 2, 1, '["visits.csv:1"]', details)]
    assert query(wh, "select visit_id, account_id from marts.fct_visit order by visit_id") == [("1", "A4"), ("2", "A2"), ("3", "A3")]
    # February re-delivers January's rows unchanged: replaced, none moved
    write_csv(tmp_path / "visits_2025-02.csv", VISIT_HEADER, jan[:2])
    summary = visit_mix_flow(str(config))
    assert not [w for w in summary.warnings if "another account_id" in w]
    assert query(wh, "select outcome, element_count, unexpected_count from audit.dq_result where expectation = "
                     "'versions_name_another_account' and run_id = (select max(run_id) from audit.pipeline_run)") == [("passed", 2, 0)]
