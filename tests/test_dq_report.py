"""The data-quality report an auditor reads at a glance (issue #11, item 2), built from real runs.

Summary first, failed checks before passed ones, a description for every check, times in the
configured zone, one row per quarantine cause, a history page, a layout with no external URL, and
never the text ``None`` — for a run that succeeded, one that failed at a check, one that failed
before anything was loaded, one recorded by the CLI after a pre-flight error, and a killed run.
"""

from __future__ import annotations

import ast
import html as html_text
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from typer.testing import CliRunner

from flows.visit_mix import REFERENCES, visit_mix_flow
from scenario import make_scenario, query, warehouse_of
from visitmix.check_descriptions import OWN_CHECKS, describe
from visitmix.cli import app
from visitmix.errors import SourceError, ValidationFailed
from visitmix.paths import EXPECTATIONS_DIR, PROJECT_ROOT
from visitmix.report import load_report, to_markdown
from visitmix.report.pages import render_run

ZONE = "Asia/Bangkok"
KILLED = "20260115T030000Z-deadbeef"
KILLED_AT = datetime(2026, 1, 15, 3, 4, tzinfo=UTC)  # 10:04 in Bangkok


def _visit(i: int, account: str = "A1", start: str | None = None) -> list[str]:
    return [f"V{i:02d}", "R1", account, start or f"2025-01-{i:02d} 10:00", "Held", "", ""]


# 10 good visits (V06..V10 at A2, which the accounts input does not list), then three bad rows:
# V11 has no account, V12 an unreadable start, V13 both (one row, counted once, under its first reason)
VISITS = [_visit(i, "A1" if i <= 5 else "A2") for i in range(1, 11)] + [
    _visit(11, ""), _visit(12, "A1", "not a date"), _visit(13, "", "not a date"),
]
ACCOUNTS = [["A1", "Alpha", "2020-05-01", "North", "SME"]]
REPS = [["R1", "Rep One", "Team", "North"]]


def _no_external_url(html: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc=", html, re.I)
    assert not re.search(r"<link[^>]*\bhref=", html, re.I)
    assert not re.search(r"<img[^>]*\bsrc=", html, re.I)
    assert "url(" not in html and "@import" not in html


def _dq_report(args: list[str]):
    return CliRunner().invoke(app, ["dq-report", *args])


def _assert_no_none(report_warehouse: Path, run_id: str, folder: Path | None = None) -> tuple[str, str, str]:
    """The run's report in HTML, Markdown and the terminal, none of them saying None."""
    report = load_report(report_warehouse, run_id)
    html = (folder / f"{run_id}.html").read_text(encoding="utf-8") if folder else render_run(report)
    _no_external_url(html)
    html = html_text.unescape(html)
    markdown = to_markdown(report)
    result = _dq_report(["--warehouse", str(report_warehouse), "--run-id", run_id])
    assert result.exit_code == 0, result.output
    for text in (html, markdown, result.output):
        assert "None" not in text
    return html, markdown, result.output


@dataclass
class Runs:
    config: Path
    warehouse: Path
    reports: Path
    good: str  # succeeded, with warnings and quarantined rows
    short: str  # failed at the volume check
    good_started: datetime


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Runs:  # noqa: ANN001 - the session harness
    root = tmp_path_factory.mktemp("report")
    config = make_scenario(root, visits=VISITS, accounts=ACCOUNTS, reps=REPS, extra_config="[validation]\nmax_quarantine_share = 0.5\n")
    good = visit_mix_flow(str(config)).run_id
    wh = warehouse_of(config)
    # a run killed outright leaves its marker: the next run records it as failed
    marker = wh.with_name(f"visitmix.duckdb.running-{KILLED}")
    marker.write_text("killed\n")
    os.utime(marker, (KILLED_AT.timestamp(), KILLED_AT.timestamp()))
    make_scenario(root, visits=[_visit(i) for i in range(1, 6)], accounts=ACCOUNTS, reps=REPS,
                  extra_config="[validation]\nmax_quarantine_share = 0.5\n")
    with pytest.raises(ValidationFailed, match="row_count_vs_previous_run"):
        visit_mix_flow(str(config))
    short = query(wh, f"select run_id from audit.pipeline_run where status = 'failed' and run_id <> '{KILLED}'")[0][0]
    started = query(wh, f"select started_at from audit.pipeline_run where run_id = '{good}'")[0][0]
    return Runs(config, wh, wh.parent / "reports" / "visitmix", good, short, started)


@pytest.mark.usefixtures("prefect_harness")
def test_a_succeeded_run_summary_first_with_exact_counts(runs: Runs):
    report = load_report(runs.warehouse, runs.good)
    assert report.status == "succeeded" and report.zone == ZONE and report.is_zone_recorded
    visits = report.sources[0]
    assert (visits.source, visits.read, visits.in_scope, visits.superseded, visits.quarantined, visits.accepted) == ("visits", 13, 13, 0, 3, 10)
    # one row per cause, each row once: V13 fails three checks but is counted under its first reason
    assert [(q.source, q.cause, q.rows, q.first_rows) for q in report.quarantine] == [
        ("visits", "visit_start: the value cannot be read as a date and time", 2, ("visits.csv:12", "visits.csv:13")),
        ("visits", "account_id is missing: the visit cannot be classified", 1, ("visits.csv:11",)),
    ]
    assert report.rows_quarantined == 3
    hits = sum(c.unexpected_count or 0 for c in report.checks if c.suite == "visits" and c.expectation.startswith("expect_"))
    assert hits > 3  # the checks hit more often than there are rows held back
    bounds = {(b.key, b.scope): b for b in report.bounds}
    q = bounds[("max_quarantine_share", "visits")]
    assert (q.measured, q.share, q.limit, q.status) == ("3 of 13 rows quarantined", 3 / 13, 0.5, "within")
    ref = bounds[("max_unknown_reference_share", "visits → accounts (account_id)")]
    assert (ref.share, ref.limit, ref.status) == (0.5, 0.5, "within")
    assert ref.measured == "5 of 10 rows name an id the accounts input does not list"
    volume = bounds[("min_volume_share", "visits")]
    assert (volume.status, volume.limit) == ("not applicable", 0.5)

    html = (runs.reports / f"{runs.good}.html").read_text(encoding="utf-8")
    order = [html.index(s) for s in ('id="summary"', "Rows per input", "Bounds in force", "Files read", 'id="checks"', 'id="quarantine"')]
    assert order == sorted(order)
    assert "Succeeded with 3 warnings" in html  # two quarantining checks (parse errors, no account) and the unknown account
    started = f"{runs.good_started.astimezone(ZoneInfo(ZONE)):%Y-%m-%d %H:%M} ({ZONE})"
    assert f"Started {started}" in html
    assert "+00:00" not in html and not re.search(r"\d\d:\d\d:\d\d", html)  # no UTC offsets, no seconds or microseconds
    assert re.search(r"took [0-9.,]+ s\.", html)
    assert "3 rows held back" in html and "Visit rows: 13 read, 13 in scope, 3 quarantined, 10 classified, 10 published" in html
    assert 'href="history.html"' in html
    _no_external_url(html)
    markdown = to_markdown(report)
    assert markdown.index("## Summary") < markdown.index("### Bounds in force") < markdown.index("## Checks") < markdown.index("## Quarantine")
    assert f"Started {started}" in markdown


def test_failed_checks_come_before_passed_ones_and_counters_are_information(runs: Runs):
    report = load_report(runs.warehouse, runs.good)
    standings = [c.standing for c in report.checks]
    ranks = ["error", "failed", "warning", "information", "passed"]
    assert standings == sorted(standings, key=ranks.index)
    warnings = {c.name for c in report.checks if c.standing == "warning"}
    assert warnings == {
        "visits.expect_column_values_to_be_null[parse_error]",
        "visits.expect_column_values_to_not_be_null[account_id]",
        "visits.visit_account_in_accounts[account_id]",
    }
    # one row per cause: the two unreadable starts (V12, V13) are parse errors, not also "visit_start is missing"
    start = next(c for c in report.checks if c.name == "visits.expect_column_values_to_not_be_null[visit_start]")
    assert (start.standing, start.element_count, start.unexpected_count) == ("passed", 11, 0)
    information = {c.expectation for c in report.checks if c.standing == "information"}
    assert "newest_version_per_key" in information
    assert all(c.standing == "information" for c in report.checks if c.severity == "info")
    html = (runs.reports / f"{runs.good}.html").read_text(encoding="utf-8")
    groups = [html.index(f'<tr class="group"><td colspan="5">{label}') for label in ("failed: warning (3)", "information (4)", "passed (")]
    assert groups == sorted(groups)


def test_every_recorded_check_has_a_description(runs: Runs):
    for run_id in (runs.good, runs.short):
        stored = query(runs.warehouse, f"select suite, expectation, column_name, description from audit.dq_result where run_id = '{run_id}'")
        assert stored and all(d for *_, d in stored), [s for s in stored if not s[3]]
        report = load_report(runs.warehouse, run_id)
        assert all(c.description for c in report.checks)
    report = load_report(runs.warehouse, runs.good)
    account = next(c for c in report.checks if c.name == "visits.expect_column_values_to_not_be_null[account_id]")
    assert account.description == "Every visit has an account (a visit without one cannot be classified)"
    assert account.details == "account_id is missing: the visit cannot be classified"  # what happened, apart
    # the two bounds on visit_start are told apart
    bounds = [c.description for c in report.checks if c.name == "visits.expect_column_values_to_be_between[visit_start]"]
    assert sorted(bounds) == ["No visit starts before 2000-01-01 (local time)", "No visit that is not planned starts more than a day after the run"]


def test_every_check_a_run_can_record_has_a_description():
    """Suite expectations carry meta.description; visitmix's own checks are in OWN_CHECKS."""
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        for spec in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert spec.get("meta", {}).get("description"), f"{path.name}: {spec['type']} {spec.get('kwargs')}"
    # every name an ExpectationOutcome is created under, in the code
    names: set[str] = set()
    for folder in ("visitmix", "flows", "transforms"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "expectation" for t in node.targets):
                    if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                        names.add(node.value.value)  # expectation = "single_calendar_era", passed on below
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == "counted" or called == "ExpectationOutcome":
                    arg = next((k.value for k in node.keywords if k.arg == "expectation"), node.args[1] if len(node.args) > 1 else None)
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        names.add(arg.value)
    names |= {f"{child.removesuffix('s')}_{column.removesuffix('_id')}_in_{parent}" for child, column, parent in REFERENCES}
    assert names >= {"newest_version_per_key", "gx_sample_agreement", "row_count_vs_previous_run", "date_order_assumed",
                     "single_calendar_era", "dst_adjusted_times", "optional_value_readable", "visit_rep_in_reps"}
    assert not names - set(OWN_CHECKS), names - set(OWN_CHECKS)
    assert describe("visits", "epoch_timestamps", "visit_start") == (
        "Values of visit_start written as epoch seconds or milliseconds, read as UTC instants; a count, never a failure"
    )


def test_a_run_that_failed_at_a_check_names_it_and_never_says_none(runs: Runs):
    html, markdown, terminal = _assert_no_none(runs.warehouse, runs.short, runs.reports)
    report = load_report(runs.warehouse, runs.short)
    message = query(runs.warehouse, f"select error_message from audit.pipeline_run where run_id = '{runs.short}'")[0][0]
    assert message.startswith("error-severity checks failed, nothing was published: visits.row_count_vs_previous_run")
    assert [c.name for c in report.stopping] == ["visits.row_count_vs_previous_run"]
    assert report.checks[0].name == "visits.row_count_vs_previous_run"  # first in the list
    volume = next(b for b in report.bounds if b.key == "min_volume_share")
    assert (volume.measured, volume.share, volume.status) == ("5 visit rows; the last successful run that read them whole had 13", 5 / 13, "exceeded")
    assert [f.file for f in report.files] == ["accounts.csv", "reps.csv", "visits.csv"]
    for text in (html, markdown, terminal):
        assert "Failed: nothing was published; the previous marts are unchanged." in text
        assert "Stopped the run" in text or "stopped the run" in text
        assert "The visits input has at least validation.min_volume_share of the visit rows" in text
    assert message in terminal and message in markdown
    assert html.index("Stopped the run") < html.index('id="checks"')


def test_a_killed_run_shows_what_is_known(runs: Runs):
    report = load_report(runs.warehouse, KILLED)
    assert report.run.recorded_later and report.zone == ZONE and not report.is_zone_recorded
    html, markdown, terminal = _assert_no_none(runs.warehouse, KILLED)
    for text in (html, markdown, terminal):
        assert "ended before publishing (killed or crashed); its partial build was removed" in text
        assert f"Ended by 2026-01-15 10:04 ({ZONE})" in text
        assert "No check ran before the run ended." in text
    _no_external_url(html)


def test_history_page_lists_runs_and_links_their_pages(runs: Runs):
    history = (runs.reports / "history.html").read_text(encoding="utf-8")
    _no_external_url(history)
    assert "None" not in history
    for run_id in (runs.good, runs.short):
        assert f'<a href="{run_id}.html"><code>{run_id}</code></a>' in history
    assert f"<code>{KILLED}</code>" in history and f'href="{KILLED}.html"' not in history  # no page to link to
    assert history.index(runs.short) < history.index(runs.good)  # newest first
    assert "ended by 2026-01-15 10:04 (start not known)" in history
    assert f"Times are in {ZONE}" in history
    row = history[history.index(f'<a href="{runs.good}.html">'):].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', row)[1:] == ["13", "3", "10"]  # read, quarantined, classified
    assert (runs.reports / "index.html").read_text(encoding="utf-8") == (runs.reports / f"{runs.short}.html").read_text(encoding="utf-8")


def test_dq_report_prints_aligned_text_and_exit_codes(runs: Runs, tmp_path: Path):
    result = _dq_report(["--config", str(runs.config)])  # the latest run: failed, still a report
    assert result.exit_code == 0, result.output
    assert "#" not in result.output.splitlines()[0] and "|---|" not in result.output  # not Markdown
    assert result.output.index("Rows per input") < result.output.index("Checks (what stops a run first)")
    assert re.search(r"visits\s+5\s+5\s+0\s+0\s+5", result.output)  # aligned columns
    missing = _dq_report(["--warehouse", str(tmp_path / "nowhere.duckdb")])
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [f"visitmix: error: warehouse '{tmp_path / 'nowhere.duckdb'}' does not exist: run `visitmix run` first"]
    unknown = _dq_report(["--warehouse", str(runs.warehouse), "--run-id", "no-such-run"])
    assert unknown.exit_code == 1
    assert unknown.output.strip().splitlines() == [f"visitmix: error: run 'no-such-run' is not in {runs.warehouse} (audit.pipeline_run)"]


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_that_failed_before_loading_shows_the_files_read_so_far(tmp_path: Path):
    config = make_scenario(tmp_path, visits=VISITS, accounts=ACCOUNTS)
    config.write_text(config.read_text().replace('visit_start = "Start"', 'visit_start = "Begins"'))
    with pytest.raises(SourceError, match="no column 'Begins'"):
        visit_mix_flow(str(config))
    wh = warehouse_of(config)
    run_id = query(wh, "select run_id from audit.pipeline_run")[0][0]
    html, markdown, terminal = _assert_no_none(wh, run_id, wh.parent / "reports" / "visitmix")
    report = load_report(wh, run_id)
    assert [(f.source, f.file, f.skipped_footer_rows) for f in report.files] == [("accounts", "accounts.csv", 0), ("visits", "visits.csv", None)]
    assert {c.suite for c in report.checks} == {"accounts"}  # the checks that ran
    for text in (html, markdown, terminal):
        assert "no column 'Begins' for canonical 'visit_start'" in text
        assert "No visit rows were read before the run ended; nothing was published." in text
        assert "visits.csv" in text


def test_a_run_recorded_by_the_cli_after_a_preflight_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VISITMIX_TEST_UNSET", raising=False)
    config = tmp_path / "db.toml"
    config.write_text('[warehouse]\npath = "wh/visitmix.duckdb"\n[classification]\ntimezone = "Asia/Bangkok"\n'
                      '[sources.visits]\nuri = "postgresql://crm:${VISITMIX_TEST_UNSET}@127.0.0.1/crm"\ntable = "visits"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    wh = tmp_path / "wh" / "visitmix.duckdb"
    run_id, timezone, bounds = query(wh, "select run_id, timezone, bounds from audit.pipeline_run")[0]
    assert timezone == ZONE
    assert json.loads(bounds) == {"max_quarantine_share": 0.05, "max_unknown_reference_share": 0.5, "min_volume_share": 0.5}
    html, markdown, terminal = _assert_no_none(wh, run_id, tmp_path / "wh" / "reports" / "visitmix")
    for text in (html, markdown, terminal):
        assert "sources.visits.uri: environment variable 'VISITMIX_TEST_UNSET' is not set" in text
        assert "No file was read before the run ended." in text
    printed = _dq_report(["--config", str(config)])
    assert printed.exit_code == 0 and "environment variable 'VISITMIX_TEST_UNSET' is not set" in printed.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_warehouse_written_before_the_new_audit_columns_still_loads(tmp_path: Path):
    config = make_scenario(tmp_path, visits=[_visit(i) for i in range(1, 6)], reps=REPS)
    old = visit_mix_flow(str(config)).run_id
    wh = warehouse_of(config)
    con = duckdb.connect(str(wh))
    try:  # as a warehouse written before this change: no zone, no bounds, no descriptions
        for table, column in (("pipeline_run", "timezone"), ("pipeline_run", "bounds"), ("dq_result", "description")):
            con.execute(f"alter table audit.{table} drop column {column}")
    finally:
        con.close()
    report = load_report(wh, old)
    assert report.zone == "UTC" and not report.is_zone_recorded
    assert all(c.description for c in report.checks)  # found again from the suite files
    assert {b.status for b in report.bounds if b.key == "max_quarantine_share"} == {"bound not recorded"}
    assert "None" not in render_run(report) + to_markdown(report)
    new = visit_mix_flow(str(config)).run_id  # the history is copied by name
    assert query(wh, f"select timezone from audit.pipeline_run where run_id in ('{old}', '{new}') order by started_at") == [(None,), (ZONE,)]
    assert load_report(wh, old).zone == ZONE  # the latest recorded zone


def test_the_kept_keys_bound_names_the_whole_version_key():
    """A rep's versions are kept by (rep_id, valid_from): the bounds row says so (it named rep_id only)."""
    from visitmix.report.bounds import kept_ids_bounds
    from visitmix.report.model import CheckResult

    checks = [CheckResult("reps", "kept_ids_in_whole_read", "rep_id", "error", "passed", 6, 2),
              CheckResult("visits", "kept_ids_in_whole_read", "visit_id", "error", "failed", 8, 5),
              CheckResult("visits", "row_count_vs_previous_run", None, "error", "passed", 8, 0)]
    rows = [(b.scope, b.measured, b.share, b.status) for b in kept_ids_bounds(checks, 0.5)]
    assert rows == [
        ("reps (read whole)", "4 of the 6 keys the last run kept (by rep_id, valid_from) are still in the input", 4 / 6, "within"),
        ("visits (read whole)", "3 of the 8 keys the last run kept (by visit_id) are still in the input", 3 / 8, "exceeded"),
    ]
