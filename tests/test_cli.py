"""The `visitmix` command: exit codes and one clear message, no traceback unless --debug."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenario import make_scenario
from visitmix.cli import app

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_run_prints_a_summary(tmp_path: Path):
    config = make_scenario(tmp_path, visits=[["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""], ["V2", "R1", "A1", "2025-01-06 10:00", "", "", ""]])
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "visit rows read             2" in result.output
    assert "new_prospect              1  (50.0%)" in result.output
    assert str(tmp_path / "wh" / "visitmix.duckdb") in result.output
    assert "Traceback" not in result.output


def test_bad_config_exits_non_zero_with_the_key(tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text("[classification]\ntimezon = 'UTC'\n[sources.visits]\npath = 'v.csv'\n")
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert f"visitmix: error: {config}: unknown config key 'classification.timezon'" in result.output
    assert "Traceback" not in result.output


def test_missing_environment_variable_in_a_uri_fails_before_prefect_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VISITMIX_TEST_UNSET", raising=False)
    config = tmp_path / "db.toml"
    config.write_text('[sources.visits]\nuri = "postgresql://crm:${VISITMIX_TEST_UNSET}@127.0.0.1/crm"\ntable = "visits"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert "visitmix: error: sources.visits.uri: environment variable 'VISITMIX_TEST_UNSET' is not set" in result.output
    assert "running the visit-mix flow" not in result.output


@pytest.mark.parametrize("columns", ["x integer", "run_id varchar, status varchar, started_at timestamp, finished_at timestamp, x integer"])
def test_a_database_with_someone_elses_audit_pipeline_run_is_refused_by_every_command(tmp_path: Path, columns: str):
    """A QA pass found a DuckDB file with its own audit.pipeline_run(x) met with tracebacks (status
    exiting 1, "the last run failed"), "no marts yet" from export and an internal SQL error from run;
    another tool's generic run log (run_id, status, started_at, finished_at) is not visitmix's either."""
    import duckdb

    config = make_scenario(tmp_path, visits=[["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""]])
    wh = tmp_path / "wh" / "visitmix.duckdb"
    wh.parent.mkdir()
    with duckdb.connect(str(wh)) as con:
        con.execute(f"create schema audit; create table audit.pipeline_run ({columns})")
        con.execute("insert into audit.pipeline_run (x) values (1)")
    refused = f"'{wh}' is a DuckDB database visitmix did not create"
    for args, code in ((["status", "--warehouse", str(wh)], 3), (["dq-report", "--warehouse", str(wh)], 1),
                       (["export", "--warehouse", str(wh), "--out", str(tmp_path / "out"), "--format", "csv"], 1),
                       (["run", "--config", str(config)], 1)):
        result = CliRunner().invoke(app, args)
        assert (result.exit_code, refused in result.output, "Traceback" in result.output) == (code, True, False), (args, result.output)
    assert duckdb.connect(str(wh), read_only=True).execute("select x from audit.pipeline_run").fetchall() == [(1,)]


def test_a_foreign_warehouse_file_is_refused_before_prefect_starts(tmp_path: Path):
    import duckdb

    config = make_scenario(tmp_path, visits=[["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""]])
    (tmp_path / "wh").mkdir()
    duckdb.connect(str(tmp_path / "wh" / "visitmix.duckdb")).close()
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert "is a DuckDB database visitmix did not create" in result.output
    assert "running the visit-mix flow" not in result.output
