"""`visitmix status`: is the warehouse healthy? Recent runs from ``audit.pipeline_run``, for people
and for monitoring checks (the exit code).

Exit codes (:func:`health`): 0 healthy; 1 the last run failed, was killed (a marker beside the
warehouse that no live process holds the run lock for) or no run is recorded; 2 the last
run succeeded but the marts are older than ``[status] max_age_hours``; 3 (UNREADABLE, the CLI) the
config or the warehouse cannot be read (a wrong path, a file held read-write by another process), so
nothing is known about the runs — what monitoring systems call "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


from visitmix.duck import open_read_only
from visitmix.errors import WarehouseError
from visitmix.runlock import leftovers, run_in_progress
from visitmix.warehouse import foreign, is_ours, query

HEALTHY, FAILED, STALE, UNREADABLE = 0, 1, 2, 3


@dataclass(frozen=True)
class RunRow:
    """One row of ``audit.pipeline_run`` as shown. Instants are aware (UTC); `duration_s` in seconds."""

    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    run_mode: str
    rows_read: int | None
    rows_quarantined: int | None
    rows_classified: int | None
    watermark: str | None  # JSON, per incremental source
    error_message: str | None


@dataclass(frozen=True)
class Status:
    runs: list[RunRow]  # newest first
    last_success_at: datetime | None  # when the published marts were built
    running: list[str]  # run ids with a marker beside the warehouse (in progress, or killed)
    killed: list[str] = field(default_factory=list)  # of those, the ones no live process holds the run lock for


def read_status(live: Path, limit: int = 10) -> Status:
    """The recent runs of the warehouse at `live` (opened read-only). Raises WarehouseError when it
    does not exist (unless a killed first run left its marker: that is a failure to report) or cannot
    be opened (WarehouseLockedError: another process writes it)."""
    if not live.exists():
        running = sorted({suffix for kind, suffix, _ in leftovers(live) if kind == "running"})
        if running and not run_in_progress(live):  # the first run was killed before it could publish
            return Status([], None, running, running)
        raise WarehouseError(f"warehouse '{live}' does not exist: no run has published yet (visitmix run)")
    con = open_read_only(live)
    try:
        if not is_ours(con):
            raise foreign(live)
        runs = [RunRow(*row) for row in query(con, "recent_runs", {"limit": limit})]
        last_success = query(con, "last_success")[0][0]
    finally:
        con.close()
    running = sorted({suffix for kind, suffix, _ in leftovers(live) if kind == "running"})
    killed = running if running and not run_in_progress(live) else []
    return Status(runs, last_success, running, killed)


def health(status: Status, max_age_hours: float | None, now: datetime | None = None) -> tuple[int, str]:
    """(exit code, one line) for monitoring: see the module docstring."""
    now = now or datetime.now(UTC)
    if status.killed:  # killed (SIGKILL, out of memory, a crash) after the last recorded run
        return FAILED, f"run {status.killed[-1]} was killed before it finished (its process is gone); the next run records it as failed"
    if not status.runs:
        return FAILED, "no run is recorded in audit.pipeline_run"
    last = status.runs[0]
    if last.status != "succeeded":
        return FAILED, f"the last run {last.run_id} {last.status}: {last.error_message or 'no message'}"
    age_h = (now - status.last_success_at).total_seconds() / 3600 if status.last_success_at else None
    if max_age_hours is not None and age_h is not None and age_h > max_age_hours:
        return STALE, f"the marts are {_age(age_h)} old, older than status.max_age_hours = {max_age_hours:g}"
    return HEALTHY, f"healthy: the last run succeeded, the marts are {_age(age_h)} old" if age_h is not None else "healthy"


def _age(hours: float) -> str:
    """An age as read at a glance: hours from one hour on (2.0 h), minutes below (36 min), seconds below
    a minute (a bound of 0.01 h is 36 s: "0.0 h old, older than 0.01" read as a contradiction)."""
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min" if hours * 60 >= 1 else f"{hours * 3600:.0f} s"
