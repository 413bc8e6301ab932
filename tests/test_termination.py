"""SIGTERM at any point of a run: before the swap it stops the run (recorded as failed, exit 143, the
old marts stay), also when library code swallows the exception or turns it into its own; from the
swap on it waits, and the run that went live is reported as such (found by a QA pass)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenario import make_scenario, marts_digest, query, warehouse_of
from visitmix import termination, warehouse
from visitmix.cli import app
from visitmix.errors import RunTerminated

@pytest.fixture(autouse=True)
def _fresh_state():
    termination.reset()
    yield
    termination.reset()  # a stop request must not leak into the next test's runs


VISITS = [["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""], ["V2", "R1", "A1", "2025-01-06 10:00", "", "", ""]]
MORE = [*VISITS, ["V3", "R1", "A1", "2025-01-07 10:00", "", "", ""]]


def test_a_request_stops_until_publishing_begins_and_waits_after():
    termination.reset()
    with pytest.raises(RunTerminated, match="stopped by SIGTERM before publishing"):
        termination.request("SIGTERM")
    with pytest.raises(RunTerminated):
        termination.check()  # swallowed once: the next step stops the run
    termination.reset()
    with termination.publishing():
        termination.request("SIGTERM")  # no exception: the swap completes
    assert termination.published() and termination.requested() == "SIGTERM"
    termination.check()  # nothing left to stop
    termination.new_run()  # the next flow run of this process: stoppable again
    with pytest.raises(RunTerminated):
        termination.check()
    termination.reset()


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the CLI's handler runs at the next bytecode


def _sigterm_inside_a_statement(as_query_error: bool) -> None:
    """A SIGTERM while DuckDB runs a statement: Prefect's handler (the flow's) raises its
    TerminationSignal, which DuckDB turns into its own "Query interrupted" error — or which library
    code swallows (`as_query_error` False)."""
    try:
        _sigterm()
    except BaseException:  # noqa: BLE001 - as DuckDB does with an exception raised inside a query
        if as_query_error:
            raise RuntimeError("Query interrupted") from None


def _published_then_run_again(tmp_path: Path) -> tuple[Path, str]:
    config = make_scenario(tmp_path, visits=VISITS)
    assert CliRunner().invoke(app, ["run", "--config", str(config)]).exit_code == 0
    before = marts_digest(warehouse_of(config))
    make_scenario(tmp_path, visits=MORE)  # the next run would publish three visits
    return config, before


def _run_is_stopped_before_publishing(config: Path, before: str) -> None:
    """`visitmix run` exits 143 saying it was stopped by SIGTERM before publishing; the marts are as
    before and the run is recorded as failed with that message."""
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 143, result.output
    assert result.output.strip().splitlines()[-1].startswith("visitmix: error: stopped by SIGTERM before publishing")
    wh = warehouse_of(config)
    assert marts_digest(wh) == before
    last = query(wh, "select status, rows_published, error_message from audit.pipeline_run order by started_at desc limit 1")[0]
    assert last[:2] == ("failed", 0) and last[2].startswith("stopped by SIGTERM before publishing")


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("how", ["swallowed by a library", "turned into a query error"])
def test_sigterm_before_the_swap_is_a_failed_run_whatever_a_library_makes_of_it(tmp_path: Path, monkeypatch, how: str):
    config, before = _published_then_run_again(tmp_path)
    real = warehouse.run_sql_file

    def interrupted(con, path):  # noqa: ANN001
        if path.name == "30_fct_visit.sql":
            _sigterm_inside_a_statement(how == "turned into a query error")
        real(con, path)

    monkeypatch.setattr(warehouse, "run_sql_file", interrupted)
    _run_is_stopped_before_publishing(config, before)


@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_during_the_swap_lets_the_new_marts_go_live_and_says_so(tmp_path: Path, monkeypatch):
    config, before = _published_then_run_again(tmp_path)
    real = warehouse._swap_in

    def swap(building, live):  # noqa: ANN001
        _sigterm()  # inside termination.publishing(): the request waits
        real(building, live)

    monkeypatch.setattr(warehouse, "_swap_in", swap)
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 143, result.output
    assert "SIGTERM arrived while the run was publishing: the new marts are live; exit code 143" in result.output
    wh = warehouse_of(config)
    assert marts_digest(wh) != before
    assert query(wh, "select count(*) from marts.fct_visit") == [(3,)]
    run_id, status = query(wh, "select run_id, status from audit.pipeline_run order by started_at desc limit 1")[0]
    assert status == "succeeded"
    assert (tmp_path / "wh" / "reports" / "visitmix" / f"{run_id}.html").is_file()  # its report was written
    monkeypatch.undo()
    from flows.visit_mix import visit_mix_flow

    assert visit_mix_flow(str(config)).rows_read == 3  # the request ended with its command: the next run runs


@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_while_the_audit_is_appended_before_the_swap_is_a_stopped_run(tmp_path: Path, monkeypatch):
    config, before = _published_then_run_again(tmp_path)
    real = warehouse._append_audit

    calls = []

    def interrupted(con, records):  # noqa: ANN001
        calls.append(1)
        if len(calls) == 1:  # not again for the failed run's own audit rows
            _sigterm_inside_a_statement(True)
        real(con, records)

    monkeypatch.setattr(warehouse, "_append_audit", interrupted)
    _run_is_stopped_before_publishing(config, before)


@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_right_after_the_swap_says_the_run_published(tmp_path: Path, monkeypatch):
    config, before = _published_then_run_again(tmp_path)
    real = warehouse.WarehouseBuild.publish

    def publish(self, audit):  # noqa: ANN001
        real(self, audit)
        _sigterm()  # the swap is done; Prefect's handler stops the task

    monkeypatch.setattr(warehouse.WarehouseBuild, "publish", publish)
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 143, result.output
    run_id, status = query(warehouse_of(config), "select run_id, status from audit.pipeline_run order by started_at desc limit 1")[0]
    assert status == "succeeded" and marts_digest(warehouse_of(config)) != before
    assert result.output.strip().splitlines()[-1] == (
        f"visitmix: error: run {run_id} published: its marts are live and recorded as succeeded; then SIGTERM arrived before "
        "the run ended, so its data-quality report may be missing (visitmix dq-report reads it from the warehouse)"
    )
    assert "could not be recorded" not in result.output and "before publishing" not in result.output


def test_a_sigterm_during_an_import_is_handled_a_moment_later_and_noted_for_the_whole_flow():
    """A signal handled inside the import machinery can leave a module's import lock held (Prefect's
    crash handling then waited forever for it, found by a QA pass): it is noted and sent again a
    moment later. Inside the flow (`watch`), every SIGTERM is noted before Prefect's handler runs,
    so a query it interrupts during a read is reported as the stop it is."""
    import threading
    import time
    import types

    calls: list[str] = []
    delivered = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: (calls.append("again"), delivered.set()))
    try:
        safe = termination.import_safe(lambda signum, frame: calls.append("handled"))
        bootstrap = types.SimpleNamespace(f_code=types.SimpleNamespace(co_filename="<frozen importlib._bootstrap>"), f_back=None)
        inside = types.SimpleNamespace(f_code=types.SimpleNamespace(co_filename=__file__), f_back=bootstrap)
        safe(signal.SIGTERM, inside)
        assert calls == [] and termination.requested() == "SIGTERM"
        deadline = time.monotonic() + 5
        while not delivered.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal comes back to this (main) thread's handler
        assert calls == ["again"]
        safe(signal.SIGTERM, types.SimpleNamespace(f_code=types.SimpleNamespace(co_filename=__file__), f_back=None))
        assert calls == ["again", "handled"]
        termination.reset()
        with termination.watch():  # the flow's: noted, then the handler in place (here the recorder)
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 5
            while calls[-1] != "again" or len(calls) < 3:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert termination.requested() == "SIGTERM"
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_debug_prints_the_traceback_and_keeps_the_message_and_exit_code(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text('[sources.visits]\npath = "missing.csv"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--debug"])
    assert result.exit_code == 1, result.output  # as without --debug (a SIGTERM: 143 with or without)
    assert "Traceback" in result.output and result.output.strip().splitlines()[-1].startswith("visitmix: error:")
