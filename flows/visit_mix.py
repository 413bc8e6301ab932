"""The main job: visit exports in → validated → classified → DuckDB marts with the visit mix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.tasks import exponential_backoff

from flows import tasks
from transforms import references
from transforms.canonical import empty_canonical
from transforms.schema import ENTITIES, VISIT_TYPES
from visitmix.audit import RunRecord
from visitmix.config import Config, load_config
from visitmix.dq import ExpectationOutcome, suite_parameters
from visitmix.errors import ValidationFailed
from visitmix.failures import record_failure
from visitmix.paths import SAMPLE_CONFIG
from visitmix.sources import RawSource
from visitmix.runlock import RunGuard

# Inputs are processed in this order: visits may take account and rep from the accepted deals.
SOURCE_ORDER = ("reps", "accounts", "deals", "visits")


@dataclass
class RunSummary:
    run_id: str
    warehouse: Path
    rows_read: int  # visit rows in the files
    rows_in_scope: int  # after the source's `where` filter
    rows_quarantined: int
    rows_classified: int
    mix: dict[str, int] = field(default_factory=dict)
    mart_rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    report: Path | None = None  # the HTML data-quality report


def _quarantine_bound(name: str, in_scope: int, held: pl.DataFrame, limit: float) -> None:
    if in_scope and held.height / in_scope > limit:
        reasons = (  # reasons never hold cell values: safe for logs and messages
            held.group_by("reason")
            .len()
            .sort(["len", "reason"], descending=[True, False])
            .head(3)
        )
        top = "; ".join(f"{n} × {r}" for r, n in reasons.iter_rows())
        raise ValidationFailed(
            f"{held.height} of {in_scope} {name} rows ({held.height / in_scope:.1%}) failed row-level checks, "
            f"above validation.max_quarantine_share = {limit:g}; nothing was published. Most common: {top}"
        )


# Referential checks: (child input, its column, parent input). Broken references are warnings.
REFERENCES = (("visits", "account_id", "accounts"), ("visits", "rep_id", "reps"), ("deals", "account_id", "accounts"))


def _reference_outcomes(accepted: dict[str, pl.DataFrame], configured: set[str]) -> list[ExpectationOutcome]:
    """Broken references are warnings (recorded, not quarantined): a visit is still classified."""
    outcomes = []
    for child, column, parent in REFERENCES:
        if child not in configured or parent not in configured:
            continue
        rows = accepted[child]
        bad = references.dangling(rows.lazy(), column, accepted[parent].lazy(), ENTITIES[parent].key).collect()
        expectation = f"{child.removesuffix('s')}_{column.removesuffix('_id')}_in_{parent}"
        details = f"{child} whose {column} is not in the {parent} input" + (" (still classified)" if child == "visits" else "")
        outcomes.append(ExpectationOutcome.counted(child, expectation, column, rows.height, bad, details))
    return outcomes


@flow(name="visit-mix", log_prints=False)
def visit_mix_flow(config_path: str | None = None, run_id: str | None = None) -> RunSummary:
    """Load the configured exports, validate, classify every visit and publish the marts.

    `config_path`: a TOML config (see README); None runs on the bundled sample. `run_id`: the
    id to record the run under (the CLI passes the one it announced); default a new one.
    Returns a :class:`RunSummary`. Raises a :class:`VisitmixError` subclass with a message
    naming the file, row, column or config key at fault; a failed run — also one stopped by
    SIGTERM — publishes nothing and is recorded in ``audit.pipeline_run`` when the warehouse
    can be written.
    """
    logger = get_run_logger()
    config: Config = load_config(Path(config_path) if config_path else None)
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    record = RunRecord.start(Path(config_path) if config_path else SAMPLE_CONFIG, str(flow_run.id) if flow_run else None, run_id)
    live = config.warehouse.path
    logger.info("run %s: warehouse %s", record.run_id, live)
    with RunGuard(live, record.run_id) as guard:
        record.dead_runs = guard.dead_runs
        try:
            summary = _run(config, record, live)
        except BaseException as exc:  # also SIGTERM (Prefect's TerminationSignal) and Ctrl-C
            record_failure(live, config.reports.dir, record, exc)
            raise
    summary.report = tasks.write_dq_report(live, record.run_id, config.reports.dir)
    return summary


def _lookup_outcomes(name: str, raw: RawSource) -> list[ExpectationOutcome]:
    """A lookup key that matches several disagreeing rows is a warning: the smallest value was taken."""
    return [
        ExpectationOutcome.counted(
            name, "lookup_key_unique", column, raw.rows_read, count,
            f"{label}: keys of the source that match several different rows (the smallest value is used)",
        )
        for label, column, count in raw.ambiguous_lookups
    ]


def _load_source(name: str, config: Config, record: RunRecord, deals: pl.DataFrame, parameters: dict) -> pl.DataFrame:
    """Extract → canonicalise → (link deals) → newest versions → validate → quarantine one source.

    Returns the accepted canonical rows; records files, outcomes and quarantine in `record`.
    Raises ValidationFailed on an error-severity check or when the quarantine bound is exceeded.
    """
    source = getattr(config.sources, name)
    extract = tasks.extract_source
    if source.uri is not None:  # a database may be briefly unreachable: Prefect retries
        extract = extract.with_options(retries=2, retry_delay_seconds=[1, 3], retry_condition_fn=tasks.is_transient)
    raw = extract(name, source, config.base_dir)
    record.files.extend((name, f) for f in raw.files)
    record.outcomes.extend(_lookup_outcomes(name, raw))
    frame, temporal = tasks.canonicalise(raw, source, config.classification.timezone)
    record.outcomes.extend(temporal)
    if name == "visits" and source.take_from_deal:
        frame = tasks.link_deals(frame, deals, source.take_from_deal)
    in_scope = frame.height
    frame, versions_outcome = tasks.keep_newest_versions(frame, name)
    record.outcomes.append(versions_outcome)
    result = tasks.validate(frame, name, parameters)
    record.outcomes.extend(result.outcomes)
    good, held = tasks.split_quarantine(raw, frame, result)
    record.add_quarantine(name, held)
    record.source_counts[name] = {
        "read": raw.rows_read,
        "in_scope": in_scope,
        "superseded": in_scope - frame.height,
        "quarantined": held.height,
        "accepted": good.height,
    }
    if name == "visits":
        record.counts.update(rows_read=raw.rows_read, rows_in_scope=in_scope, rows_quarantined=held.height)
    if result.errors:
        raise ValidationFailed(f"{name}: error-severity checks failed, nothing was published: {tasks.describe(result.errors)}")
    _quarantine_bound(name, in_scope, held, config.validation.max_quarantine_share)
    return good


def _run(config: Config, record: RunRecord, live: Path) -> RunSummary:
    logger = get_run_logger()
    configured = {n for n in SOURCE_ORDER if getattr(config.sources, n) is not None}
    accepted: dict[str, pl.DataFrame] = {n: empty_canonical(ENTITIES[n]) for n in SOURCE_ORDER}
    parameters = suite_parameters(config.classification.timezone, datetime.now(UTC))
    for name in SOURCE_ORDER:
        if getattr(config.sources, name) is not None:
            accepted[name] = _load_source(name, config, record, accepted["deals"], parameters)
            logger.info("%s: %d rows accepted", name, accepted[name].height)

    visits = accepted["visits"]
    record.outcomes.extend(_reference_outcomes(accepted, configured))
    classified, customer = tasks.classify_visits(visits, accepted["accounts"], accepted["deals"], config.classification)
    mix = dict(classified.filter(pl.col("visit_type").is_not_null()).group_by("visit_type").len().iter_rows())
    record.counts["rows_classified"] = sum(mix.values())
    record.counts["rows_published"] = classified.height
    target = config.target_mix
    frames = {
        "visits_frame": visits,
        "accounts_frame": accepted["accounts"],
        "deals_frame": accepted["deals"],
        "reps_frame": accepted["reps"],
        "classified_frame": classified,
        "customers_frame": customer,
        "target_mix_frame": pl.DataFrame(
            {
                "new_prospect_share": [target.new_prospect],
                "hot_prospect_share": [target.hot_prospect],
                "existing_customer_share": [target.existing_customer],
            }
        ),
    }
    publish = tasks.publish_warehouse.with_options(
        retries=config.warehouse.lock_retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=config.warehouse.lock_retry_delay_s)
        if config.warehouse.lock_retry_delay_s
        else 0,
    )
    mart_rows = publish(live, record, frames, config.validation.min_volume_share)
    warnings = [
        f"{o.unexpected_count} {o.details}" for o in record.outcomes if o.severity == "warn" and o.outcome == "failed" and o.expectation.endswith(("_in_accounts", "_in_reps"))
    ]
    return RunSummary(
        run_id=record.run_id,
        warehouse=live,
        rows_read=record.counts.get("rows_read", 0),
        rows_in_scope=record.counts.get("rows_in_scope", 0),
        rows_quarantined=record.counts.get("rows_quarantined", 0),
        rows_classified=record.counts["rows_classified"],
        mix={t: int(mix.get(t, 0)) for t in VISIT_TYPES},
        mart_rows=mart_rows,
        warnings=warnings,
    )
