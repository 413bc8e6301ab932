"""Read one run's report from the audit tables (read-only), with the queries in ``sql/report/``.

Every query selects the audit columns by name, so a warehouse written before a column was added
(``timezone``, ``bounds``, ``description``) still reads; so do the rows of killed runs, which
hold only their id, times, status and error message.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from visitmix.check_descriptions import describe
from visitmix.duck import open_read_only
from visitmix.errors import VisitmixError
from visitmix.paths import SQL_DIR
from visitmix.report.bounds import kept_ids_bounds, quarantine_bounds, reference_bounds, volume_bound
from visitmix.report.model import CheckResult, FileRead, HistoryEntry, QuarantineCause, RunReport, SourceRows

HISTORY_RUNS = 50  # runs on the history page
ROWS_PER_CAUSE = 5  # file:row references shown per quarantine cause
DEFAULT_ZONE = "UTC"  # when no run of the warehouse recorded its zone
BOUND_NAMES = ("max_quarantine_share", "min_volume_share", "max_unknown_reference_share")  # [validation]


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> list[dict]:
    """Rows of ``sql/report/<query>.sql`` as dicts (small results: one run's files and checks)."""
    result = con.execute((SQL_DIR / "report" / f"{query}.sql").read_text(encoding="utf-8"), params or {})
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _entry(row: dict) -> HistoryEntry:
    # a killed run is recorded by the next run with only its id, times, status and error message
    recorded_later = row.get("row_counts") is None and row.get("step_seconds") is None and row["status"] == "failed"
    return HistoryEntry(
        run_id=row["run_id"], status=row["status"], started_at=row.get("started_at"), finished_at=row.get("finished_at"),
        recorded_later=recorded_later, rows_read=row.get("rows_read"), rows_quarantined=row.get("rows_quarantined"),
        rows_classified=row.get("rows_classified"), error_message=row.get("error_message"),
    )


def _check(row: dict) -> CheckResult:
    try:
        sample = tuple(str(r) for r in json.loads(row["unexpected_sample"])) if row.get("unexpected_sample") else ()
    except ValueError:
        sample = ()
    return CheckResult(
        suite=row["suite"], expectation=row["expectation"], column_name=row.get("column_name"), severity=row["severity"],
        outcome=row["outcome"], element_count=row.get("element_count"), unexpected_count=row.get("unexpected_count"),
        rows=sample, details=row.get("details"),
        description=describe(row["suite"], row["expectation"], row.get("column_name"), row.get("description"), row.get("details")),
    )


def _file(row: dict) -> FileRead:
    return FileRead(
        source=row["source"], file=row["file"], size_bytes=row.get("size_bytes"), sha256=row.get("sha256"),
        encoding=row.get("encoding"), delimiter=row.get("delimiter"), skipped_empty_rows=row.get("skipped_empty_rows"),
        skipped_footer_rows=row.get("skipped_footer_rows"),
    )


def _sources(row_counts: dict) -> list[SourceRows]:
    order = {"visits": 0, "accounts": 1, "deals": 2, "reps": 3}
    return [
        SourceRows(name, c.get("read"), c.get("in_scope"), c.get("superseded"), c.get("quarantined"), c.get("accepted"),
                   c.get("kept_quarantined"), c.get("kept_rows"))
        for name, c in sorted(row_counts.items(), key=lambda item: (order.get(item[0], 9), item[0]))
        if isinstance(c, dict)
    ]


def _bound(bounds: dict, name: str) -> float | None:
    value = bounds.get(name)
    return float(value) if isinstance(value, int | float) else None


def load_report(warehouse: Path, run_id: str | None = None) -> RunReport:
    """Read the report of `run_id` (default: the latest run) from the warehouse file, read-only.

    Returns a :class:`RunReport` with its checks in report order and the warehouse's last
    HISTORY_RUNS runs. Raises VisitmixError when the warehouse or the run does not exist.
    """
    if not warehouse.exists():
        raise VisitmixError(f"warehouse '{warehouse}' does not exist: run `visitmix run` first")
    con = open_read_only(warehouse)
    try:
        from visitmix.warehouse import foreign, is_ours

        if not is_ours(con):
            raise foreign(warehouse)
        try:
            if run_id is None:
                latest = _rows(con, "latest_run")
                if not latest:
                    raise VisitmixError(f"warehouse '{warehouse}' has no recorded run")
                run_id = latest[0]["run_id"]
            runs = _rows(con, "run", {"run_id": run_id})
        except duckdb.CatalogException:
            raise VisitmixError(f"'{warehouse}' has no audit.pipeline_run: it is not a visitmix warehouse") from None
        if not runs:
            raise VisitmixError(f"run '{run_id}' is not in {warehouse} (audit.pipeline_run)")
        run = runs[0]
        files = [_file(r) for r in _rows(con, "files", {"run_id": run_id})]
        checks = sorted((_check(r) for r in _rows(con, "checks", {"run_id": run_id})), key=CheckResult.sort_key)
        causes = [
            QuarantineCause(r["source"], r["cause"], r["rows"], tuple(r["first_rows"] or ()))
            for r in _rows(con, "quarantine_by_cause", {"run_id": run_id, "sample_size": ROWS_PER_CAUSE})
        ]
        previous = _rows(con, "previous_successful_run", {"run_id": run_id, "started_at": run["started_at"]})
        history = _rows(con, "history", {"limit": HISTORY_RUNS})
    finally:
        con.close()
    recorded = run.get("timezone")
    zone = recorded or next((h["timezone"] for h in history if h.get("timezone")), DEFAULT_ZONE)
    bounds = _json(run.get("bounds"))
    sources = _sources(_json(run.get("row_counts")))
    visits = next((s for s in sources if s.source == "visits"), None)
    return RunReport(
        run=_entry(run),
        zone=zone,
        is_zone_recorded=bool(recorded),
        flow_run_id=run.get("flow_run_id"),
        config_sha256=run.get("config_sha256"),
        rows_in_scope=run.get("rows_in_scope"),
        rows_published=run.get("rows_published"),
        sources=sources,
        files=files,
        checks=checks,
        bounds=[
            *quarantine_bounds(sources, _bound(bounds, "max_quarantine_share")),
            volume_bound(visits.in_scope if visits else None, previous[0]["rows_in_scope"] if previous else None,
                         _bound(bounds, "min_volume_share"),
                         run.get("run_mode") == "incremental" and any(c.suite == "visits" and c.expectation == "rows_before_watermark" for c in checks)),
            *kept_ids_bounds(checks, _bound(bounds, "min_volume_share")),
            *reference_bounds(checks, _bound(bounds, "max_unknown_reference_share"), run["status"] == "succeeded"),
        ] if sources else [],
        limits={name: value for name in BOUND_NAMES if (value := _bound(bounds, name)) is not None},
        quarantine=causes,
        history=[_entry(h) for h in history],
    )
