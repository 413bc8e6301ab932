"""The data-quality report of one run, from the audit tables: Markdown (CLI, Prefect artifact) and HTML.

An auditor's questions — what was loaded, what was rejected and why, which checks ran — answered
from ``audit.pipeline_run``, ``audit.source_file``, ``audit.dq_result`` and ``audit.quarantine``.
The report never shows cell values: quarantine reasons and error messages are built without them
(reason codes and ``file:row`` references); the raw rows stay in ``audit.quarantine``, in the
warehouse only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from visitmix.duck import connect
from visitmix.errors import VisitmixError
from visitmix.paths import SQL_DIR

@dataclass(frozen=True)
class RunReport:
    run: dict
    files: list[dict]
    checks: list[dict]
    quarantine: list[dict]  # source, reason (redacted), rows

    @property
    def failed_checks(self) -> list[dict]:
        return [c for c in self.checks if c["outcome"] != "passed"]


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, str] | None = None) -> list[dict]:
    """Rows of ``sql/report/<query>.sql`` as dicts (small results: one run's files and checks)."""
    result = con.execute((SQL_DIR / "report" / f"{query}.sql").read_text(encoding="utf-8"), params or {})
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def load_report(warehouse: Path, run_id: str | None = None) -> RunReport:
    """Read the report of `run_id` (default: the latest run) from the warehouse, read-only.

    Raises VisitmixError when the warehouse or the run does not exist.
    """
    if not warehouse.exists():
        raise VisitmixError(f"warehouse '{warehouse}' does not exist: run `visitmix run` first")
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error as exc:
        raise VisitmixError(f"cannot open warehouse '{warehouse}' read-only: {exc}") from None
    try:
        if run_id is None:
            latest = _rows(con, "latest_run")
            if not latest:
                raise VisitmixError(f"warehouse '{warehouse}' has no recorded run")
            run_id = latest[0]["run_id"]
        runs = _rows(con, "run", {"run_id": run_id})
        if not runs:
            raise VisitmixError(f"run '{run_id}' is not in {warehouse} (audit.pipeline_run)")
        files = _rows(con, "files", {"run_id": run_id})
        checks = _rows(con, "checks", {"run_id": run_id})
        quarantine = _rows(con, "quarantine_by_reason", {"run_id": run_id})
    finally:
        con.close()
    run = dict(runs[0])
    return RunReport(run=run, files=files, checks=checks, quarantine=quarantine)


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def to_markdown(report: RunReport) -> str:
    """The report as Markdown: summary, files, failed and errored checks, quarantine by reason."""
    run = report.run
    lines = [
        f"# visitmix run `{run['run_id']}`: {run['status']}",
        "",
        f"- started {run['started_at']}, finished {run['finished_at']}",
        f"- visit rows read {_cell(run['rows_in_scope'])}, quarantined {_cell(run['rows_quarantined'])}, "
        f"classified {_cell(run['rows_classified'])}, published {_cell(run['rows_published'])}",
        f"- config sha256 `{_cell(run['config_sha256'])}`",
    ]
    if run["error_message"]:
        lines += ["", f"**Error:** {run['error_message']}"]
    lines += ["", "## Source files", "", "| source | file | bytes | encoding |", "|---|---|---|---|"]
    lines += [f"| {f['source']} | {_cell(f['file'])} | {_cell(f['size_bytes'])} | {_cell(f['encoding'])} |" for f in report.files]
    passed = len(report.checks) - len(report.failed_checks)
    lines += ["", f"## Checks: {passed} of {len(report.checks)} passed", ""]
    if report.failed_checks:
        lines += ["| suite | check | column | severity | outcome | unexpected / rows |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {c['suite']} | {c['expectation']} | {_cell(c['column_name'])} | {c['severity']} | {c['outcome']} | "
            f"{_cell(c['unexpected_count'])} / {_cell(c['element_count'])} |"
            for c in report.failed_checks
        ]
    lines += ["", "## Quarantine by reason", ""]
    if report.quarantine:
        lines += ["| source | reason | rows |", "|---|---|---|"]
        lines += [f"| {q['source']} | {_cell(q['reason'])} | {q['rows']} |" for q in report.quarantine]
    else:
        lines.append("No rows were quarantined.")
    return "\n".join(lines) + "\n"


_ENV = Environment(loader=PackageLoader("visitmix", "templates"), autoescape=select_autoescape(["html"]))


def write_html(report: RunReport, folder: Path) -> Path:
    """Write ``<folder>/<run_id>.html`` and ``<folder>/index.html`` (the latest run); returns the first."""
    folder.mkdir(parents=True, exist_ok=True)
    html = _ENV.get_template("dq_report.html").render(report=report)
    path = folder / f"{report.run['run_id']}.html"
    path.write_text(html, encoding="utf-8")
    (folder / "index.html").write_text(html, encoding="utf-8")
    return path


def write_reports(warehouse: Path, run_id: str, folder: Path) -> Path | None:
    """Load the run's report from the warehouse and write its HTML; None when the folder is not writable."""
    report = load_report(warehouse, run_id)
    try:
        return write_html(report, folder)
    except OSError:
        return None
