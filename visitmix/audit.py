"""The run record: what a run read, checked and held back, as frames for the ``audit`` tables."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from visitmix import progress, termination
from visitmix.check_descriptions import describe
from visitmix.config import Config
from visitmix.dq import ExpectationOutcome
from visitmix.sources import SourceFile
from visitmix.warehouse import AuditRecords

_DQ_SCHEMA = {
    "run_id": pl.String,
    "suite": pl.String,
    "expectation": pl.String,
    "column_name": pl.String,
    "severity": pl.String,
    "outcome": pl.String,
    "element_count": pl.Int64,
    "unexpected_count": pl.Int64,
    "unexpected_sample": pl.String,
    "details": pl.String,
    "description": pl.String,
}
_QUARANTINE_SCHEMA = {
    "run_id": pl.String,
    "source": pl.String,
    "file": pl.String,
    "row_number": pl.Int64,
    "raw_row": pl.String,
    "reason": pl.String,
}


def new_run_id(now: datetime) -> str:
    """Sortable and unique: ``20261130T021500Z-1a2b3c4d``."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class RunRecord:
    """Accumulates a run's audit rows; turned into :class:`AuditRecords` at the end, success or not."""

    run_id: str
    started_at: datetime
    config_sha256: str | None
    flow_run_id: str | None = None
    timezone: str | None = None  # [classification].timezone, for the reports
    bounds: dict[str, float] | None = None  # the [validation] bounds in force (shares in 0..1)
    counts: dict[str, int] = field(default_factory=dict)
    source_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per source, per step
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    quarantine_parts: list[pl.DataFrame] = field(default_factory=list)
    files: list[tuple[str, SourceFile]] = field(default_factory=list)

    # runs found dead when this one started (killed or crashed): recorded as failed with this run
    dead_runs: list[tuple[str, datetime]] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)  # wall-clock seconds per step, in order
    run_mode: str = "full"  # "incremental" when some source was read from its watermark
    visits_from_watermark: bool = False  # the visits source itself was read from its watermark (no volume check)
    watermark: str | None = None  # JSON: per incremental source, the watermark this run publishes
    notes: list[str] = field(default_factory=list)  # warnings for the run summary beyond the checks' own
    # incremental sources read whole as their settings (or the release's read rules) changed: the keys the last run kept
    read_whole: dict[str, pl.DataFrame] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step of the run (seconds add up when a step name repeats); shown as progress.
        Raises RunTerminated first when a stop was requested (visitmix.termination)."""
        termination.check()
        started = time.perf_counter()
        try:
            with progress.step(name):
                yield
        finally:
            self.steps[name] = round(self.steps.get(name, 0.0) + time.perf_counter() - started, 3)

    @classmethod
    def start(
        cls, config_path: Path | None, flow_run_id: str | None, run_id: str | None = None, config: Config | None = None
    ) -> RunRecord:
        """A new record; `config` (the loaded config) gives the timezone and bounds the reports show."""
        now = datetime.now(UTC)
        sha = sha256_file(config_path) if config_path and config_path.is_file() else None
        return cls(
            run_id=run_id or new_run_id(now), started_at=now, config_sha256=sha, flow_run_id=flow_run_id,
            timezone=config.classification.timezone if config else None,
            bounds=config.validation.model_dump() if config else None,
        )

    def add_quarantine(self, source: str, rows: pl.DataFrame) -> None:
        """`rows`: ``source_file, row_number, raw_row, reason`` (see transforms.quarantine)."""
        if rows.height:
            self.quarantine_parts.append(
                rows.select(
                    pl.lit(self.run_id).alias("run_id"),
                    pl.lit(source).alias("source"),
                    pl.col("source_file").alias("file"),
                    "row_number",
                    "raw_row",
                    "reason",
                )
            )

    def quarantine(self) -> pl.DataFrame:
        if not self.quarantine_parts:
            return pl.DataFrame(schema=_QUARANTINE_SCHEMA)
        return pl.concat(self.quarantine_parts)

    def records(self, status: str, error_message: str | None = None) -> AuditRecords:
        """The audit rows of this run. A failed run published nothing: its ``rows_published`` is 0."""
        published = self.counts.get("rows_published") if status == "succeeded" else 0
        run = pl.DataFrame(
            [
                {
                    "run_id": self.run_id,
                    "flow_run_id": self.flow_run_id,
                    "started_at": self.started_at,
                    "finished_at": datetime.now(UTC),
                    "status": status,
                    "error_message": error_message,
                    "config_sha256": self.config_sha256,
                    "rows_read": self.counts.get("rows_read"),
                    "rows_in_scope": self.counts.get("rows_in_scope"),
                    "rows_quarantined": self.counts.get("rows_quarantined"),
                    "rows_classified": self.counts.get("rows_classified"),
                    "rows_published": published,
                    "row_counts": json.dumps(self.source_counts, sort_keys=True),
                    "step_seconds": json.dumps(self.steps),
                    "run_mode": self.run_mode,
                    "watermark": self.watermark if status == "succeeded" else None,
                    "rows_reclassified": self.counts.get("rows_reclassified"),
                    "timezone": self.timezone,
                    "bounds": json.dumps(self.bounds, sort_keys=True) if self.bounds is not None else None,
                }
            ],
            schema_overrides={
                **{k: pl.Int64 for k in ("rows_read", "rows_in_scope", "rows_quarantined", "rows_classified", "rows_published", "rows_reclassified")},
                "timezone": pl.String, "bounds": pl.String,
            },
        )
        files = pl.DataFrame(
            [
                {
                    "run_id": self.run_id,
                    "source": source,
                    "file": f.label if f.label is not None else str(f.path),
                    "size_bytes": f.size_bytes,
                    "sha256": f.sha256,
                    "encoding": f.encoding,
                    "delimiter": f.delimiter,
                    "skipped_empty_rows": f.skipped_empty_rows,
                    "skipped_footer_rows": f.skipped_footer_rows,
                }
                for source, f in self.files
            ],
            schema={"run_id": pl.String, "source": pl.String, "file": pl.String, "size_bytes": pl.Int64, "sha256": pl.String,
                    "encoding": pl.String, "delimiter": pl.String, "skipped_empty_rows": pl.Int64, "skipped_footer_rows": pl.Int64},
        )
        dq = pl.DataFrame(
            [
                {
                    "run_id": self.run_id,
                    **{k: getattr(o, k) for k in list(_DQ_SCHEMA)[1:-1]},
                    "description": describe(o.suite, o.expectation, o.column_name, o.description, o.details),
                }
                for o in self.outcomes
            ],
            schema=_DQ_SCHEMA,
        )
        return AuditRecords(pipeline_run=run, source_file=files, dq_result=dq, quarantine=self.quarantine(), killed_runs=self.dead_runs)
