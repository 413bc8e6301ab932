"""The main job: visit exports in → validated → classified → DuckDB marts with the visit mix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.tasks import exponential_backoff

from flows import handoff, tasks
from flows.handoff import Handle
from transforms import references
from transforms.canonical import empty_canonical
from transforms.schema import ENTITIES, VISIT_TYPES
from visitmix.audit import RunRecord
from visitmix import gx_worker
from visitmix.config import Config, load_config
from visitmix.dq import ExpectationOutcome, run_suite, stopping, suite_parameters
from visitmix.errors import ValidationFailed
from visitmix.failures import record_failure
from visitmix.paths import SAMPLE_CONFIG
from visitmix.prepare import PreparedSource, describe_statuses
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


def _quarantine_bound(name: str, in_scope: int, held: pl.DataFrame, limit: float, unknown_statuses: list[str]) -> None:
    if in_scope and held.height / in_scope > limit:
        reasons = (  # reasons never hold cell values: safe for logs and messages
            held.group_by("reason")
            .len()
            .sort(["len", "reason"], descending=[True, False])
            .head(3)
        )
        top = "; ".join(f"{n} × {r}" for r, n in reasons.iter_rows())
        vocabulary = f" ({describe_statuses(unknown_statuses, name)})" if unknown_statuses else ""
        raise ValidationFailed(
            f"{held.height} of {in_scope} {name} rows ({held.height / in_scope:.1%}) failed row-level checks, "
            f"above validation.max_quarantine_share = {limit:g}; nothing was published. Most common: {top}{vocabulary}"
        )


# Referential checks: (child input, its column, parent input). Broken references are warnings.
REFERENCES = (("visits", "account_id", "accounts"), ("visits", "rep_id", "reps"), ("deals", "account_id", "accounts"))


def _references(
    accepted: dict[str, pl.DataFrame], configured: set[str], max_share: float
) -> tuple[list[ExpectationOutcome], dict[str, pl.DataFrame]]:
    """Broken references are warnings (recorded, not quarantined): a visit is still classified —
    unless more than `max_share` of a source's rows have one: then the two inputs most likely write
    ids differently, the mix would be wrong, and the outcome is an error that stops the run.

    Returns the outcomes, and per visit key column (``account_id``, ``rep_id``) the distinct ids
    the visits use beyond those their parent input lists — which dim_account / dim_rep add, so
    that those marts need no pass over every visit.
    """
    outcomes = []
    beyond: dict[str, pl.DataFrame] = {}
    for child, column, parent in REFERENCES:
        if child not in configured:
            continue
        rows = accepted[child]
        if parent not in configured:
            if child == "visits":
                beyond[column] = rows.select(pl.col(column).unique())
            continue
        bad = references.dangling(rows.lazy(), column, accepted[parent].lazy(), ENTITIES[parent].key).collect()
        if child == "visits":
            beyond[column] = bad.select(pl.col(column).unique())
        expectation = f"{child.removesuffix('s')}_{column.removesuffix('_id')}_in_{parent}"
        details = f"{child} whose {column} is not in the {parent} input" + (" (still classified)" if child == "visits" else "")
        severity = "warn"
        if rows.height and bad.height / rows.height > max_share:
            severity = "error"
            details = (
                f"{bad.height} of {rows.height} {child} rows ({bad.height / rows.height:.0%}) reference a {column} the "
                f"{parent} input does not list, above validation.max_unknown_reference_share = {max_share:g}: the two exports "
                f"probably write ids differently (leading zeros, a prefix, 15- vs 18-character Salesforce ids); "
                f"check sources.{child}.columns.{column} and sources.{parent}.columns.{ENTITIES[parent].key}"
            )
        outcomes.append(ExpectationOutcome.counted(child, expectation, column, rows.height, bad, details, severity=severity))
    return outcomes, beyond


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
    record = RunRecord.start(Path(config_path) if config_path else SAMPLE_CONFIG, str(flow_run.id) if flow_run else None, run_id, config)
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


def _load_source(name: str, config: Config, record: RunRecord, deals: Handle | None, parameters: dict) -> PreparedSource:
    """One source through the ``load_source`` task; records its outcomes, counts and quarantine.

    Raises ValidationFailed on an error-severity check or when the quarantine bound is exceeded.
    """
    source = getattr(config.sources, name)
    load = tasks.load_source
    if source.uri is not None:  # a database may be briefly unreachable: Prefect retries
        load = load.with_options(retries=2, retry_delay_seconds=[1, 3], retry_condition_fn=tasks.is_transient)
    prepared: PreparedSource = handoff.take(load(name, source, config.base_dir, config.classification.timezone, parameters, record, deals))
    record.outcomes.extend(prepared.outcomes)
    record.add_quarantine(name, prepared.held)
    record.source_counts[name] = prepared.counts
    if name == "visits":
        counts = prepared.counts
        record.counts.update(rows_read=counts["read"], rows_in_scope=counts["in_scope"], rows_quarantined=counts["quarantined"])
    errors = stopping(prepared.outcomes)
    if errors:
        raise ValidationFailed(f"{name}: error-severity checks failed, nothing was published: {tasks.describe(errors)}")
    _quarantine_bound(name, prepared.counts["in_scope"], prepared.held, config.validation.max_quarantine_share, prepared.unknown_statuses)
    return prepared


def _run(config: Config, record: RunRecord, live: Path) -> RunSummary:
    logger = get_run_logger()
    gx_worker.start()  # GX imports in the background while the sources are read (the CLI starts it earlier)
    configured = {n for n in SOURCE_ORDER if getattr(config.sources, n) is not None}
    accepted = {n: handoff.put(empty_canonical(ENTITIES[n]), n) for n in SOURCE_ORDER}
    cross_checks = []
    parameters = suite_parameters(config.classification.timezone, datetime.now(UTC))
    for name in SOURCE_ORDER:
        if getattr(config.sources, name) is not None:
            prepared = _load_source(name, config, record, accepted["deals"], parameters)
            handoff.drop(accepted[name])
            accepted[name] = handoff.put(prepared.accepted, name)
            if prepared.cross_check is not None:
                cross_checks.append(prepared.cross_check)
            logger.info("%s: %d rows accepted", name, prepared.accepted.height)
            del prepared
    with record.step("reference checks"):
        outcomes, beyond = _references({n: handoff.peek(h) for n, h in accepted.items()}, configured, config.validation.max_unknown_reference_share)
        record.outcomes.extend(outcomes)
    if stopping(outcomes):
        raise ValidationFailed(f"error-severity checks failed, nothing was published: {tasks.describe(stopping(outcomes))}")
    with record.step("classify"):
        classified, customer = handoff.take(tasks.classify_visits(accepted.pop("visits"), accepted["accounts"], accepted["deals"], config.classification))
    with record.step("checks fct_visit"):
        mart = run_suite(classified, "fct_visit", parameters, index_columns=("visit_id",))
    record.outcomes.extend(mart.outcomes)
    if stopping(mart.outcomes):
        raise ValidationFailed(f"fct_visit: error-severity checks failed, nothing was published: {tasks.describe(stopping(mart.outcomes))}")
    if mart.cross_check is not None:
        cross_checks.append(mart.cross_check)
    mix = dict(classified.filter(pl.col("visit_type").is_not_null()).group_by("visit_type").len().iter_rows())
    record.counts["rows_classified"] = sum(mix.values())
    record.counts["rows_published"] = classified.height
    target = config.target_mix
    frames = {
        "accounts_frame": handoff.take(accepted["accounts"]),
        "deals_frame": handoff.take(accepted["deals"]),
        "reps_frame": handoff.take(accepted["reps"]),
        "customers_frame": customer,
        "classified_frame": classified,
        "visit_accounts_frame": beyond["account_id"],
        "visit_reps_frame": beyond["rep_id"],
        "target_mix_frame": pl.DataFrame(
            {
                "new_prospect_share": [target.new_prospect],
                "hot_prospect_share": [target.hot_prospect],
                "existing_customer_share": [target.existing_customer],
            }
        ),
    }
    del classified
    publish = tasks.publish_warehouse.with_options(
        retries=config.warehouse.lock_retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=config.warehouse.lock_retry_delay_s)
        if config.warehouse.lock_retry_delay_s
        else 0,
    )
    stored = handoff.put(frames, "marts input")
    del frames
    try:
        mart_rows = publish(live, record, stored, config.validation.min_volume_share, cross_checks, parameters)
    finally:
        handoff.drop(stored)
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
