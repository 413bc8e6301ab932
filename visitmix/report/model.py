"""The data-quality report of one run, as plain values: what the HTML, Markdown and terminal show.

Shapes only and the rules that order and judge them (which checks come first, how close a run came
to each bound); reading the audit tables is :mod:`visitmix.report.load`. Nothing here holds a cell
value: counts, reasons, ``file:row`` references and error messages only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from visitmix.report.bounds import BoundUse

# How a check ended, in the order the report lists them: what stops a run first.
STANDINGS = ("error", "failed", "warning", "information", "passed")
STANDING_LABELS = {
    "error": "error: could not be computed",
    "failed": "failed: stops the run",
    "warning": "failed: warning",
    "information": "information",
    "passed": "passed",
}
# visitmix's own checks whose details name what they count ("visits whose account_id is not in
# the accounts input"): the report writes the count before them.
COUNTED = frozenset({"newest_version_per_key", "optional_value_readable", "epoch_timestamps", "visit_account_in_accounts",
                     "visit_rep_in_reps", "deal_account_in_accounts"})
# Suites in the order the report lists them within one standing: inputs, then the marts.
SUITE_ORDER = ("visits", "accounts", "deals", "reps", "fct_visit", "visit_mix_monthly")


@dataclass(frozen=True)
class CheckResult:
    """One check of the run (a row of ``audit.dq_result``). Counts are rows; `rows` are ``file:row`` references."""

    suite: str
    expectation: str
    column_name: str | None
    severity: str  # info | warn | error
    outcome: str  # passed | failed | error
    element_count: int | None  # rows the check saw
    unexpected_count: int | None  # rows that failed it
    rows: tuple[str, ...] = ()  # first failing rows: "file:row", or a mart key
    details: str | None = None  # what happened in this run
    description: str | None = None  # what is checked, whatever the outcome

    @property
    def standing(self) -> str:
        """One of :data:`STANDINGS`. Counters (severity ``info``) are information, never failures."""
        if self.outcome == "error":
            return "error"
        if self.severity == "info":
            return "information"
        if self.outcome == "passed":
            return "passed"
        return "failed" if self.severity == "error" else "warning"

    @property
    def name(self) -> str:
        """``suite.expectation[column]``, as run messages name checks."""
        return f"{self.suite}.{self.expectation}" + (f"[{self.column_name}]" if self.column_name else "")

    @property
    def happened(self) -> str | None:
        """What happened: a suite check's `details` is the reason its failing rows are given, so a
        passed one has nothing to say; visitmix's own checks always say what they found (after
        the count, for those whose details name what they count)."""
        if self.expectation.startswith("expect_") and self.outcome == "passed":
            return None
        if self.expectation in COUNTED and self.details and self.unexpected_count is not None and not self.details[:1].isdigit():
            return f"{self.unexpected_count:,} {self.details}"
        return self.details

    def sort_key(self) -> tuple:
        suite = SUITE_ORDER.index(self.suite) if self.suite in SUITE_ORDER else len(SUITE_ORDER)
        return (STANDINGS.index(self.standing), suite, self.suite, self.expectation, self.column_name or "")


@dataclass(frozen=True)
class SourceRows:
    """Rows of one input through the run (``audit.pipeline_run.row_counts``)."""

    source: str
    read: int | None  # rows in the files
    in_scope: int | None  # after the source's `where`
    superseded: int | None  # older versions of a key, replaced by the newest
    quarantined: int | None  # held back (audit.quarantine), one per row
    accepted: int | None  # passed the row-level checks
    # incremental sources: rows held back among all kept rows, and the kept rows (what
    # max_quarantine_share is measured on); None for a full read
    kept_quarantined: int | None = None
    kept_rows: int | None = None

    @property
    def label(self) -> str:
        """The input's name as the tables show it: an incremental one says so (its read to
        quarantined columns count this run's batch, accepted every row kept so far)."""
        return f"{self.source} (incremental)" if self.kept_rows is not None else self.source


@dataclass(frozen=True)
class FileRead:
    """One file (or database table) the run read (``audit.source_file``)."""

    source: str
    file: str
    size_bytes: int | None
    sha256: str | None
    encoding: str | None
    delimiter: str | None
    skipped_empty_rows: int | None
    skipped_footer_rows: int | None  # None: the run stopped before the file was mapped


@dataclass(frozen=True)
class QuarantineCause:
    """Rows of one input held back for one cause (each row counted once, under its first reason)."""

    source: str
    cause: str
    rows: int
    first_rows: tuple[str, ...]  # "file:row"


@dataclass(frozen=True)
class HistoryEntry:
    """One run in the history page (``audit.pipeline_run``)."""

    run_id: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    recorded_later: bool  # a killed run, recorded by the next one: only its end is known
    rows_read: int | None
    rows_quarantined: int | None
    rows_classified: int | None
    error_message: str | None

    @property
    def duration_s(self) -> float | None:
        if self.recorded_later or self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunReport:
    """Everything the report of one run shows. Times are aware; `zone` is the zone to show them in."""

    run: HistoryEntry
    zone: str  # IANA name: the run's [classification].timezone, else the latest recorded one, else UTC
    is_zone_recorded: bool  # False: the run recorded no zone (killed, or before zones were recorded)
    flow_run_id: str | None
    config_sha256: str | None
    rows_in_scope: int | None
    rows_published: int | None  # rows in marts.fct_visit; 0 for a failed run
    sources: list[SourceRows] = field(default_factory=list)
    files: list[FileRead] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)  # in report order: see CheckResult.sort_key
    bounds: list[BoundUse] = field(default_factory=list)  # empty when the run measured none (it read nothing)
    limits: dict[str, float] = field(default_factory=dict)  # the [validation] bounds recorded with the run
    quarantine: list[QuarantineCause] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)  # the warehouse's latest runs, newest first

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def status(self) -> str:
        return self.run.status

    def tally(self) -> dict[str, int]:
        """Checks per standing, every standing present."""
        out = dict.fromkeys(STANDINGS, 0)
        for check in self.checks:
            out[check.standing] += 1
        return out

    @property
    def stopping(self) -> list[CheckResult]:
        """The checks that stop a run: errors, and failed error-severity checks."""
        return [c for c in self.checks if c.standing in ("error", "failed")]

    @property
    def rows_quarantined(self) -> int:
        """Rows held back over every input (rows, not check hits: each row once)."""
        return sum(q.rows for q in self.quarantine)

    @property
    def verdict(self) -> str:
        """One sentence: can the run be trusted, and what was published."""
        if self.status == "succeeded":
            warnings = self.tally()["warning"]
            if warnings:
                return f"Succeeded with {warnings} warning{'s' if warnings != 1 else ''}: the marts were published; the warnings below say what to look at."
            return "Succeeded: every check passed and the marts were published."
        if self.run.recorded_later:
            return "Failed: the run ended before publishing (killed or crashed) and was recorded by the next run; nothing was published."
        return "Failed: nothing was published; the previous marts are unchanged."
