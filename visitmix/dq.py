"""One generic runner for the Great Expectations suites in ``expectations/``.

Each suite is evaluated twice: exactly, on every row, by its compiled form (:mod:`visitmix.checks`,
vectorised Polars — linear at any size), and by Great Expectations itself on a sample of the same
rows (the first rows and the rows the compiled checks flagged; :mod:`visitmix.gx_worker`). The two
must agree on the sample, expectation by expectation; a disagreement is an ``error`` outcome,
which stops the run — the compiled form never silently drifts from GX's semantics.

Each expectation's ``meta`` says what a failure means:

* ``severity``: ``warn`` (recorded; row-level failures quarantine rows when ``quarantine`` is
  true) or ``error`` (the run fails before publishing);
* ``reason`` (a fixed text, never a cell value) or ``reason_column`` (take the reason from that
  column of the failing row): the quarantine reason.

Outcomes are ``passed``, ``failed`` or ``error`` (the check could not be computed, or GX and the
compiled form disagree). Samples in the results hold row references only (``file:row`` or a mart
key), never cell values, so no names or notes leak into reports.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from transforms.schema import SOURCE_FILE, SOURCE_ROW
from visitmix import checks, gx_worker
from visitmix.paths import EXPECTATIONS_DIR

SAMPLE_SIZE = 10  # row references kept per check
GX_SAMPLE_ROWS = 5_000  # rows GX validates per suite: this many first rows, and as many flagged ones


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation: str
    column_name: str | None
    severity: str
    outcome: str  # passed | failed | error
    element_count: int | None
    unexpected_count: int | None
    unexpected_sample: str | None  # JSON list of "file:row" strings, at most SAMPLE_SIZE
    details: str | None = None  # engine error message, or the user-facing reason: what happened
    description: str | None = None  # what the check checks (suite checks: meta.description; see check_descriptions)

    @classmethod
    def counted(
        cls,
        suite: str,
        expectation: str,
        column_name: str | None,
        element_count: int,
        unexpected: pl.DataFrame | int,
        details: str,
        severity: str = "warn",
        failed: bool | None = None,
    ) -> ExpectationOutcome:
        """A check visitmix computes itself (not through GX): `unexpected` is the offending rows
        (sampled by lineage) or their count; it failed when there are any, unless `failed` says."""
        count = unexpected if isinstance(unexpected, int) else unexpected.height
        sample = None if isinstance(unexpected, int) else row_sample(unexpected)
        return cls(
            suite=suite,
            expectation=expectation,
            column_name=column_name,
            severity=severity,
            outcome="failed" if (count > 0 if failed is None else failed) else "passed",
            element_count=element_count,
            unexpected_count=count,
            unexpected_sample=sample,
            details=details,
        )


def row_sample(rows: pl.DataFrame) -> str | None:
    """The first SAMPLE_SIZE rows as a JSON list of "file:row" (lineage only, never cell values)."""
    sample = [f"{f}:{r}" for f, r in rows.select(SOURCE_FILE, SOURCE_ROW).head(SAMPLE_SIZE).iter_rows()]
    return json.dumps(sample, ensure_ascii=False) if sample else None  # as the suites' samples: Thai file names as written


def stopping(outcomes: list[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """Outcomes that must stop the run: an error-severity check that failed, or any check GX
    could not compute (its rows could not be told apart, so nothing is published)."""
    return [o for o in outcomes if o.outcome == "error" or (o.severity == "error" and o.outcome != "passed")]


def suite_parameters(timezone: str, now: datetime) -> dict[str, str]:
    """Values for the suites' ``$PARAMETER`` references, for a run at `now` (aware) in `timezone`.

    ``min_visit_start``: 2000-01-01 00:00 local time; ``max_visit_start``: a day after `now`;
    ``max_date``: the same bound for date columns (naive); ``run_started_at``: `now` (no suite reads
    it: the instant :func:`transforms.status.status_by_start` decides missing statuses by).
    """
    tomorrow = now + timedelta(days=1)
    return {
        "run_started_at": now.isoformat(),
        "min_visit_start": datetime(2000, 1, 1, tzinfo=ZoneInfo(timezone)).isoformat(),
        "max_visit_start": tomorrow.isoformat(),
        "max_date": tomorrow.replace(tzinfo=None).isoformat(),
    }


def load_suite_definition(name: str) -> dict[str, Any]:
    """The suite file ``expectations/<name>.json`` as a dict (GX's own suite serialisation)."""
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class CrossCheck:
    """GX's verdict on a sample, pending in the worker, and the compiled verdict on the same sample."""

    suite: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    sample: pl.DataFrame
    compiled: checks.Evaluated
    future: Future

    def resolve(self) -> list[ExpectationOutcome]:
        """One outcome for the suite's sample agreement; an ``error`` names each disagreeing check."""
        try:
            gx_results = gx_worker.result(self.future, self.sample, self.definition, self.parameters)
        except Exception as exc:  # noqa: BLE001 - GX itself failed: the checks cannot be confirmed
            return [ExpectationOutcome(self.suite, "gx_sample_agreement", None, "error", "error", self.sample.height, None, None,
                                       f"Great Expectations could not validate the sample ({type(exc).__name__})")]
        disagreeing = []
        for check, gx in zip(self.compiled.checks, gx_results, strict=True):
            if check.order in self.compiled.uncomputable and gx["error"]:
                continue  # neither can compute it: the check's own outcome is already an error
            ours = (self.compiled.passed[check.order], self.compiled.unexpected_counts[check.order])
            theirs = (gx["success"], gx["unexpected_count"])
            if gx["error"] or ours[0] != theirs[0] or (ours[1] is not None and theirs[1] is not None and ours[1] != theirs[1]):
                disagreeing.append(f"{check.expectation}[{check.column or ''}]")
        details = (
            f"Great Expectations and the compiled checks agree on a sample of {self.sample.height:,} rows"
            if not disagreeing
            else f"Great Expectations and the compiled checks disagree on a sample of {self.sample.height:,} rows: {', '.join(disagreeing)}"
        )
        return [ExpectationOutcome(self.suite, "gx_sample_agreement", None, "error", "error" if disagreeing else "passed",
                                   self.sample.height, len(disagreeing), None, details)]


@dataclass
class SuiteResult:
    suite: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    # per row of the validated frame: the first quarantining check's reason, NULL = not held back
    reason: pl.Series | None = None
    cross_check: CrossCheck | None = None

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """The outcomes that must stop the run (see :func:`stopping`)."""
        return stopping(self.outcomes)


def _details(check: checks.Check, description: str | None) -> str | None:
    return check.reason or description or None


def _samples(frame: pl.DataFrame, evaluated: checks.Evaluated, index_columns: tuple[str, ...]) -> list[str | None]:
    """Per check: the first SAMPLE_SIZE failing rows as a JSON list of their index columns."""
    label = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in index_columns], separator=":")
    out: list[str | None] = []
    for mask in evaluated.masks:
        if mask is None or not mask.any():
            out.append(None)
            continue
        rows = frame.select(label.alias("ref")).filter(mask).head(SAMPLE_SIZE).get_column("ref").to_list()
        out.append(json.dumps(rows, ensure_ascii=False))
    return out


def _gx_sample(frame: pl.DataFrame, evaluated: checks.Evaluated, columns: list[str]) -> pl.DataFrame:
    """The rows GX validates: the first GX_SAMPLE_ROWS, and up to as many rows the checks flagged."""
    flagged = pl.any_horizontal([m for m in evaluated.masks if m is not None]) if any(m is not None for m in evaluated.masks) else None
    head = frame.select(columns).head(GX_SAMPLE_ROWS)
    if flagged is None or frame.height <= GX_SAMPLE_ROWS:
        return head
    tail = frame.select(columns).slice(GX_SAMPLE_ROWS).filter(frame.select(flagged).to_series().slice(GX_SAMPLE_ROWS)).head(GX_SAMPLE_ROWS)
    return pl.concat([head, tail])


def run_suite(
    frame: pl.DataFrame,
    suite_name: str,
    parameters: dict[str, Any] | None = None,
    index_columns: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW),
    cross_check: bool = True,
) -> SuiteResult:
    """Validate `frame` against ``expectations/<suite_name>.json``.

    In: a frame holding the columns the suite checks and the `index_columns` that name a row in
    samples (canonical inputs: ``source_file`` / ``source_row_number``; marts: their key).
    `parameters` fill ``{"$PARAMETER": name}``. Out: one outcome per expectation in suite order
    with exact counts, the per-row quarantine reason, and the pending GX cross-check on a sample
    (resolve it with ``result.cross_check.resolve()`` before publishing; none when `cross_check` is
    False: a partition of rows another partition's sample already stands for).
    """
    definition = load_suite_definition(suite_name)
    parameters = parameters or {}
    compiled = checks.compile_suite(definition, frame.schema, parameters)
    evaluated = checks.evaluate(frame, compiled)
    samples = _samples(frame, evaluated, index_columns)
    description = definition.get("meta", {}).get("descriptions", {})
    outcomes = [
        ExpectationOutcome(
            suite=suite_name,
            expectation=check.expectation,
            column_name=check.column,
            severity=check.severity,
            outcome="error" if i in evaluated.uncomputable else "passed" if evaluated.passed[i] else "failed",
            element_count=evaluated.element_counts[i],
            unexpected_count=evaluated.unexpected_counts[i],
            unexpected_sample=samples[i],
            details=(
                f"the check cannot be computed on this data ({evaluated.uncomputable[i]}); its bad rows are unknown"
                if i in evaluated.uncomputable
                else _details(check, description.get(str(i)))
            ),
            description=check.description,
        )
        for i, check in enumerate(compiled)
    ]
    if not cross_check:
        return SuiteResult(suite=suite_name, outcomes=outcomes, reason=evaluated.reason)
    columns = [c for c in checks.check_columns(compiled) if c in frame.columns]
    sample = _gx_sample(frame, evaluated, list(dict.fromkeys([*columns, *[c for c in index_columns if c in frame.columns]])))
    on_sample = checks.evaluate(sample, checks.compile_suite(definition, sample.schema, parameters))
    cross = CrossCheck(suite_name, definition, parameters, sample, on_sample, gx_worker.submit(sample, definition, parameters))
    return SuiteResult(suite=suite_name, outcomes=outcomes, reason=evaluated.reason, cross_check=cross)


def merge_outcomes(
    parts: list[list[ExpectationOutcome]], rows: int, definition: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None
) -> list[ExpectationOutcome]:
    """Outcomes of the same checks on disjoint partitions of `rows` rows, as one run over all of them.

    Each list holds the same checks in the same order. Counts add up; the sample keeps the first
    SAMPLE_SIZE references in partition order; a check that could not be computed on one partition
    stays an error. A table-level check (no element count: the row count of suite `definition`, its
    `parameters` as for :func:`run_suite`) is decided again on `rows`. Exact for row-level checks, and
    for uniqueness when all copies of a value fall in one partition (split by a hash of the key).
    """
    bounds = {}
    if definition is not None:
        compiled = checks.compile_suite(definition, {}, parameters or {})
        bounds = {c.order: c.row_count_bounds for c in compiled if c.row_count_bounds is not None}
    merged = []
    for position, same in enumerate(zip(*parts, strict=True)):
        first = same[0]
        errors = [o for o in same if o.outcome == "error"]
        counts = [o.unexpected_count for o in same]
        unexpected = None if any(c is None for c in counts) else sum(counts)
        elements = None if any(o.element_count is None for o in same) else sum(o.element_count for o in same)
        sample = [ref for o in same if o.unexpected_sample for ref in json.loads(o.unexpected_sample)][:SAMPLE_SIZE]
        if errors:
            outcome, details = "error", errors[0].details
        elif elements is None and position in bounds:
            low, high = bounds[position]
            outcome, details = ("passed" if (low is None or rows >= low) and (high is None or rows <= high) else "failed"), first.details
        else:
            outcome, details = ("failed" if any(o.outcome == "failed" for o in same) else "passed"), first.details
        merged.append(replace(first, outcome=outcome, element_count=elements, unexpected_count=unexpected,
                              unexpected_sample=json.dumps(sample, ensure_ascii=False) if sample else None, details=details))
    return merged
