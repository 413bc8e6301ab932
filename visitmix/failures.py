"""A failed run, told once and recorded once: its message, its audit record and its report.

Every run that got as far as reading its config and then failed — a bad file, a check, a
SIGTERM from a scheduler, a bug — is recorded in ``audit.pipeline_run`` (when the warehouse can
be written) and gets its data-quality report. The message never carries a cell value: errors
visitmix raises are built without them, and the messages of data libraries (Polars, DuckDB,
Arrow), which quote the offending cells, are replaced by their type.
"""

from __future__ import annotations

import logging
from pathlib import Path

from visitmix.errors import RunTerminated, VisitmixError

logger = logging.getLogger("visitmix")

# Runs of this process whose failure is already in the audit trail (the flow records its own;
# the CLI records what happened before or around it).
recorded_runs: set[str] = set()

_DATA_LIBRARY_MODULES = ("polars", "duckdb", "pyarrow", "pandas", "great_expectations", "fastexcel", "sqlalchemy")


def stop_signal(exc: BaseException) -> str | None:
    """The signal that stopped the run, when `exc` is one or arose while one was being handled
    (Prefect may fail in its own clean-up of a task the signal interrupted)."""
    from visitmix import termination

    if termination.requested():  # also an error the interruption caused (DuckDB's "Query interrupted")
        return termination.requested()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RunTerminated) or type(current).__name__ == "TerminationSignal":
            return "SIGTERM"
        if isinstance(current, KeyboardInterrupt):
            return "SIGINT (Ctrl-C)"
        current = current.__cause__ or current.__context__
    return None


def failure_message(exc: BaseException) -> str:
    """One line for `exc`: visitmix's own message, or what happened without quoting any data."""
    signal_name = stop_signal(exc)
    if signal_name:
        return str(RunTerminated.from_signal(signal_name))
    if isinstance(exc, VisitmixError):
        return str(exc)
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    if module in _DATA_LIBRARY_MODULES:
        # their messages quote the offending cells: the type and the library only
        return f"unexpected {name} from {module} (its message is not shown, it may quote data); rerun with --debug for details"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected {name}: {text}" if text else f"unexpected {name}"


def record_failure(live: Path, reports_dir: Path, record, exc: BaseException) -> str:  # noqa: ANN001 - a RunRecord
    """Append the failed run to the warehouse's audit trail and write its report; returns the message.

    Call inside the run's RunGuard. A warehouse that cannot be written (held read-write by a BI
    tool, a read-only folder) is logged as a warning: the run still fails with its own message.
    """
    import duckdb

    from visitmix.report import write_reports
    from visitmix.runlock import forget_runs
    from visitmix.warehouse import record_failed_run

    message = failure_message(exc)
    try:
        record_failed_run(live, record.run_id, record.records("failed", message))
        recorded_runs.add(record.run_id)
        forget_runs(live, [run_id for run_id, _ in record.dead_runs])
        write_reports(live, record.run_id, reports_dir)
    except (VisitmixError, OSError, duckdb.Error) as audit_exc:
        logger.warning("the failed run could not be recorded in audit.pipeline_run: %s", failure_message(audit_exc))
    return message
