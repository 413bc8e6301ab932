"""The report's sentences, written once for the HTML, Markdown and terminal renderings."""

from __future__ import annotations

from visitmix.report import formatting as fmt
from visitmix.report.bounds import BoundUse
from visitmix.report.model import CheckResult, RunReport


def when(report: RunReport) -> str:
    """When the run started and ended, in its zone, and how long it took."""
    run, zone = report.run, report.zone
    if run.recorded_later:
        return f"Ended by {fmt.moment(run.finished_at, zone)}, when its build file was last written; its start is not known."
    return f"Started {fmt.moment(run.started_at, zone)}, finished {fmt.moment(run.finished_at, zone)}, took {fmt.duration(run.duration_s)}."


def checks(report: RunReport) -> str:
    """Checks per standing, or that none ran."""
    if not report.checks:
        return "No check ran before the run ended."
    tally = report.tally()
    return (
        f"Checks: {tally['passed']:,} passed, {tally['failed']:,} failed and stop the run, {fmt.plural(tally['warning'], 'warning')}, "
        f"{fmt.plural(tally['error'], 'error')} (could not be computed), {tally['information']:,} information."
    )


def rows(report: RunReport) -> str:
    """Visit rows through the run (rows, each counted once)."""
    run = report.run
    if run.rows_read is None:
        return "No visit rows were read before the run ended; nothing was published."
    return (
        f"Visit rows: {fmt.count(run.rows_read)} read, {fmt.count(report.rows_in_scope)} in scope, "
        f"{fmt.count(run.rows_quarantined)} quarantined, {fmt.count(run.rows_classified)} classified, "
        f"{fmt.count(report.rows_published)} published to marts.fct_visit."
    )


def zone_note(report: RunReport) -> str:
    """Which zone the times are in."""
    if report.is_zone_recorded:
        return f"Times are in {report.zone}, the configured classification timezone."
    return f"Times are in {report.zone}: this run recorded no zone, so the latest one a run of this warehouse recorded is used."


def happened(check: CheckResult) -> str:
    """What happened, with the first failing rows (``file:row`` or mart keys)."""
    parts = [check.happened] if check.happened else []
    if check.rows:
        parts.append("first rows " + ", ".join(check.rows))
    return "; ".join(parts) or fmt.NOTHING


def limit(bound: BoundUse) -> str:
    return f"{bound.direction} {fmt.share(bound.limit)}" if bound.limit is not None else "not recorded"


def stop_line(check: CheckResult) -> str:
    """A check that stopped the run, by what it checks and what happened."""
    return f"{check.description or check.name}: {check.happened or check.outcome}"


def unmeasured_bounds(report: RunReport) -> str:
    """For a run that read nothing: the bounds it had, none of them measured."""
    if not report.limits:
        return "The run recorded no bounds and ended before any was measured."
    direction = {"min_volume_share": "at least"}
    listed = ", ".join(f"{name} {direction.get(name, 'at most')} {fmt.share(value)}" for name, value in report.limits.items())
    return f"The run ended before any bound was measured; in force: {listed}."
