"""Trust: volume check, no personal data outside the warehouse, kill mid-load, reports."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, marts_digest, query, warehouse_of
from visitmix.errors import ValidationFailed

pytestmark = pytest.mark.usefixtures("prefect_harness")

CANARY = "canary.person@example.com"


def _visits(n: int) -> list[list[str]]:
    return [[f"V{i}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", "ok"] for i in range(1, n + 1)]


def test_volume_check_catches_a_half_empty_export(tmp_path: Path):
    config = make_scenario(tmp_path, visits=_visits(10))
    visit_mix_flow(str(config))
    before = marts_digest(warehouse_of(config))
    make_scenario(tmp_path, visits=_visits(4))
    with pytest.raises(ValidationFailed, match=r"row_count_vs_previous_run: 4 visit rows, fewer than validation.min_volume_share = 0.5 of the 10 of the last successful run that read the visits whole"):
        visit_mix_flow(str(config))
    assert marts_digest(warehouse_of(config)) == before
    make_scenario(tmp_path, visits=_visits(5))  # exactly half is enough
    visit_mix_flow(str(config))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def all_logs():
    handler = _Collect()
    loggers = [logging.getLogger(n) for n in ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "visitmix")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler.messages
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_personal_data_stays_in_the_warehouse(tmp_path: Path, all_logs: list[str], capfd: pytest.CaptureFixture):
    visits = _visits(20) + [
        ["V90", "R1", "A1", CANARY, "Held", "", CANARY],  # unparseable start: quarantined, reason quotes it
        ["V91", "R1", "A1", "2025-02-01 10:00", CANARY, "", ""],  # unknown status
        ["V92", "R1", "", "2025-02-01 10:00", "Held", CANARY, CANARY],  # no account
    ]
    reps = [["R1", CANARY, "Team", "North"]]
    config = make_scenario(tmp_path, visits=visits, reps=reps, extra_config="[validation]\nmax_quarantine_share = 0.2\n")
    summary = visit_mix_flow(str(config))
    wh = warehouse_of(config)
    # the raw rows are kept, in the warehouse only
    assert query(wh, f"select count(*) from audit.quarantine where raw_row::varchar like '%{CANARY}%'") == [(3,)]
    dq_text = query(wh, "select string_agg(concat_ws('|', suite, expectation, column_name, unexpected_sample, details), '\n') from audit.dq_result")[0][0]
    assert CANARY not in dq_text
    assert CANARY not in summary.report.read_text(encoding="utf-8")
    # a failed run (bound exceeded) must not put it in its message either
    config.write_text(config.read_text().replace("max_quarantine_share = 0.2", "max_quarantine_share = 0.01"))
    with pytest.raises(ValidationFailed) as info:
        visit_mix_flow(str(config))
    assert CANARY not in str(info.value)
    assert CANARY not in (tmp_path / "wh" / "reports" / "visitmix" / "index.html").read_text(encoding="utf-8")
    out, err = capfd.readouterr()
    assert all_logs, "the log capture saw nothing"
    assert CANARY not in "\n".join(all_logs) + out + err


def test_kill_mid_load_keeps_previous_marts_and_next_run_succeeds(tmp_path: Path):
    config = make_scenario(tmp_path, visits=_visits(5))
    visit_mix_flow(str(config))
    wh = warehouse_of(config)
    before = marts_digest(wh)
    history = query(wh, "select run_id, status from audit.pipeline_run")
    # a big export, so that building the new warehouse takes a moment
    n = 200_000
    pl.DataFrame({"i": pl.int_range(0, n, eager=True)}).select(
        Id=pl.format("V{}", pl.col("i")),
        Rep=pl.lit("R1"),
        Account=pl.format("A{}", pl.col("i") % 5000),
        Start=(pl.datetime(2024, 1, 1) + pl.duration(minutes=pl.col("i"))).dt.strftime("%Y-%m-%d %H:%M"),
        Status=pl.lit("Held"),
        Label=pl.lit(""),
        Note=pl.lit(""),
    ).write_csv(tmp_path / "visits.csv")
    from prefect.settings import PREFECT_API_URL

    # the subprocess talks to the test harness's server instead of starting its own
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / ".prefect"), PREFECT_API_URL=str(PREFECT_API_URL.value()))
    proc = subprocess.Popen([sys.executable, "-m", "visitmix.cli", "run", "--config", str(config)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(wh.parent.glob("visitmix.duckdb.building-*")):
            assert proc.poll() is None, "the run ended before it started building"
            assert time.monotonic() < deadline, "the run never started building"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert marts_digest(wh) == before
    assert query(wh, "select run_id, status from audit.pipeline_run") == history
    killed_run = next(p for p in wh.parent.glob("visitmix.duckdb.building-*") if p.suffix != ".wal").name.split(".building-")[1]
    summary = visit_mix_flow(str(config))
    assert summary.rows_classified == n
    assert not list(wh.parent.glob("visitmix.duckdb.building-*"))
    # the killed run is on the record too
    assert query(wh, f"select status, error_message from audit.pipeline_run where run_id = '{killed_run}'") == [
        ("failed", "ended before publishing (killed or crashed); its partial build was removed")
    ]


def test_accounts_and_deals_suites_pass_and_fail_as_specified(tmp_path: Path):
    accounts = [
        ["A1", "Alpha", "2020-05-01", "North", "SME"],
        ["A2", "Beta", "1900-01-01", "North", "SME"],  # Excel's placeholder date: quarantined
        ["A3", "Gamma", "2150-01-01", "North", "SME"],  # in the future: quarantined
        ["A4", "Delta", "", "North", "SME"],
        ["A5", "Epsilon", "1970-01-01", "North", "SME"],  # epoch zero, a placeholder too: quarantined
        ["A6", "Zeta", "1970-01-02", "North", "SME"],  # the day after is a date
    ]
    deals = [
        ["D1", "A1", "true", "2024-01-01", "100"],
        ["D2", "A4", "true", "", "50"],  # won without a close date: a warning
        ["D3", "A4", "false", "1899-12-30", "10"],  # placeholder close date: quarantined
        ["D4", "A4", "false", "", "-5"],  # negative amount: a warning
        ["D5", "A1", "true", "1970-01-01", "1"],  # epoch zero: quarantined (else A1 a customer since 1970)
        ["D6", "A4", "false", "1970-01-02", "1"],  # the day after is a date
    ]
    visits = [[f"V{i}", "R1", f"A{1 + i % 4}", f"2025-01-{i:02d} 10:00", "Held", "", ""] for i in range(1, 21)]
    config = make_scenario(tmp_path, visits=visits, accounts=accounts, deals=deals, extra_config="[validation]\nmax_quarantine_share = 0.5\n")
    visit_mix_flow(str(config))
    wh = warehouse_of(config)
    assert query(wh, "select source, row_number, reason from audit.quarantine order by source, row_number") == [
        ("accounts", 2, "customer_since is 1970-01-01 or earlier, or in the future: a placeholder, not a date"),
        ("accounts", 3, "customer_since is 1970-01-01 or earlier, or in the future: a placeholder, not a date"),
        ("accounts", 5, "customer_since is 1970-01-01 or earlier, or in the future: a placeholder, not a date"),
        ("deals", 3, "close_date is 1970-01-01 or earlier: a placeholder, not a date"),
        ("deals", 5, "close_date is 1970-01-01 or earlier: a placeholder, not a date"),
    ]
    outcomes = dict(
        ((suite, expectation, column), (outcome, unexpected))
        for suite, expectation, column, outcome, unexpected in query(
            wh, "select suite, expectation, column_name, outcome, unexpected_count from audit.dq_result where suite in ('accounts', 'deals')"
        )
    )
    assert outcomes[("deals", "expect_column_values_to_be_between", "amount")] == ("failed", 1)
    assert outcomes[("deals", "expect_column_values_to_not_be_null", "close_date")] == ("failed", 1)
    assert outcomes[("deals", "expect_column_values_to_be_unique", "deal_id")] == ("passed", 0)
    assert outcomes[("accounts", "expect_column_values_to_be_unique", "account_id")] == ("passed", 0)
    # A1 became a customer on 2020-05-01 (declared) — D1 won later; A2's placeholder was not used
    assert query(wh, "select account_id, customer_since from marts.dim_account order by 1") == [
        ("A1", date(2020, 5, 1)), ("A2", None), ("A3", None), ("A4", None), ("A6", date(1970, 1, 2)),
    ]
