"""The main job: visit exports in → validated → classified → DuckDB marts with the visit mix."""

from __future__ import annotations

import shutil
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
from visitmix.canonicalise import BUDDHIST_ERA_UNREAD, GREGORIAN_UNREAD
from visitmix import gx_worker, partitioned, termination
from visitmix.config import Config, load_config
from visitmix.dq import ExpectationOutcome, SuiteResult, run_suite, stopping, suite_parameters
from visitmix.errors import ValidationFailed
from visitmix.failures import record_failure
from visitmix.paths import SAMPLE_CONFIG
from visitmix.prepare import FILE_ORDER, VERSIONS_MOVED, PreparedSource, describe_statuses
from visitmix.runlock import RunGuard, forget_runs
from visitmix.state import KeptState, NewState, classification_fingerprint, load_state, source_fingerprint

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


# outcomes whose details say which config key would read the rows: repeated when the bound stops a run
HINTED = (BUDDHIST_ERA_UNREAD, GREGORIAN_UNREAD)
# warnings the run summary repeats (the rest are in the data-quality report): a reference the parent
# input lacks, dates whose day/month order was assumed, years the calendar setting cannot read
SUMMARY_WARNINGS = ("_in_accounts", "_in_reps", "date_order_assumed", BUDDHIST_ERA_UNREAD, GREGORIAN_UNREAD, "target_team_exists",
                    "kept_ids_dropped", "new_rows_before_watermark", VERSIONS_MOVED, FILE_ORDER)
MAX_LISTED_TEAMS = 5


def _target_teams(config: Config, reps: pl.DataFrame | None) -> list[ExpectationOutcome]:
    """A team target whose team no rep has (a typo: "Northern Sme") would silently measure that team's
    reps against the company's target: a warning naming the config key and the teams that exist."""
    targeted = sorted({team for team, _, _ in config.target_mix.entries() if team is not None})
    if not targeted or reps is None:
        return []
    teams = set(reps.get_column("team").drop_nulls().unique().to_list())
    unknown = [t for t in targeted if t not in teams]
    listed = ", ".join(repr(t) for t in sorted(teams)[:MAX_LISTED_TEAMS]) + (" …" if len(teams) > MAX_LISTED_TEAMS else "")
    details = (
        f"[target_mix.teams] names {', '.join(repr(t) for t in unknown)}, which no rep of the reps input is in "
        f"(names are compared exactly; its teams: {listed or 'none'}): those targets apply to no one"
    ) if unknown else f"every team target names a team of the reps input ({len(targeted)})"
    return [ExpectationOutcome.counted("target_mix", "target_team_exists", "team", len(targeted), len(unknown), details)]


def _summary_warning(o: ExpectationOutcome) -> str:
    """One SUMMARY_WARNINGS outcome as the run summary's line."""
    if o.expectation.endswith(("_in_accounts", "_in_reps")):
        return f"{o.unexpected_count} {o.details}"
    if o.expectation == "target_team_exists":
        return o.details or ""
    if o.expectation in ("kept_ids_dropped", "new_rows_before_watermark"):  # their details count the rows
        return f"{o.suite}: {o.details}"
    if o.expectation in (VERSIONS_MOVED, FILE_ORDER):
        return f"{o.suite}: {o.details} ({o.unexpected_count} row{'s' if o.unexpected_count != 1 else ''})"
    return f"{o.suite}: {o.details} ({o.unexpected_count} value{'s' if o.unexpected_count != 1 else ''})"


def _top_reasons(held: pl.DataFrame, n: int) -> str:
    """The `n` most common quarantine reasons, ``count × reason``; reasons never hold cell values."""
    reasons = held.group_by("reason").len().sort(["len", "reason"], descending=[True, False]).head(n)
    return "; ".join(f"{count} × {reason}" for reason, count in reasons.iter_rows())


def _quarantine_bound(name: str, prepared: PreparedSource, limit: float) -> None:
    """Fail when more than `limit` of the source's rows are held back: of this run's rows, or for an
    incremental source of all its kept rows (as a full run over the same rows would count them)."""
    held, (count, in_scope) = prepared.held, prepared.quarantine_share
    if in_scope and count / in_scope > limit:
        top = _top_reasons(held, 3)
        hints = "".join(f"; {o.unexpected_count} {o.details}" for o in prepared.outcomes if o.expectation in HINTED and o.unexpected_count)
        # its own sentence: in parentheses after the list it read as a note on the last reason
        words = describe_statuses(prepared.unknown_statuses, name) if prepared.unknown_statuses else ""
        vocabulary = f". {words[0].upper()}{words[1:]}" if words else ""
        raise ValidationFailed(
            f"{count} of {in_scope} {name} rows ({count / in_scope:.1%}) failed row-level checks, "
            f"above validation.max_quarantine_share = {limit:g}; nothing was published. Most common: {top}{hints}{vocabulary}"
        )


# Referential checks: (child input, its column, parent input). Broken references are warnings.
REFERENCES = (("visits", "account_id", "accounts"), ("visits", "rep_id", "reps"), ("deals", "account_id", "accounts"))


def _references(
    accepted: dict[str, pl.DataFrame], configured: set[str], max_share: float, spilled: partitioned.Classified | None = None
) -> tuple[list[ExpectationOutcome], dict[str, pl.DataFrame]]:
    """Broken references are warnings (recorded, not quarantined): a visit is still classified —
    unless more than `max_share` of a source's rows have one: then the two inputs most likely write
    ids differently, the mix would be wrong, and the outcome is an error that stops the run.

    Returns the outcomes, and per visit key column (``account_id``, ``rep_id``) the distinct ids
    the visits use beyond those their parent input lists — which dim_account / dim_rep add, so
    that those marts need no pass over every visit. `spilled`: visits processed in partitions,
    whose references were counted there (visitmix.partitioned).
    """
    outcomes = []
    beyond: dict[str, pl.DataFrame] = {}
    for child, column, parent in REFERENCES:
        if child not in configured:
            continue
        if child == "visits" and spilled is not None:
            beyond[column] = spilled.beyond[column]
            if parent not in configured:
                continue
            total, bad = spilled.rows_checked, spilled.dangling[column]
        else:
            rows = accepted[child]
            total = rows.height
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
        if total and bad.height / total > max_share:
            severity = "error"
            details = (
                f"{bad.height} of {total} {child} rows ({bad.height / total:.0%}) reference a {column} the "
                f"{parent} input does not list, above validation.max_unknown_reference_share = {max_share:g}: the two exports "
                f"probably write ids differently (leading zeros, a prefix, 15- vs 18-character Salesforce ids); "
                f"check sources.{child}.columns.{column} and sources.{parent}.columns.{ENTITIES[parent].key}"
            )
        outcomes.append(ExpectationOutcome.counted(child, expectation, column, total, bad, details, severity=severity))
    return outcomes, beyond


@flow(name="visit-mix", log_prints=False)
def visit_mix_flow(config_path: str | None = None, run_id: str | None = None, full_refresh: bool = False) -> RunSummary:
    """Load the configured exports, validate, classify every visit and publish the marts.

    `config_path`: a TOML config (see README); None runs on the bundled sample. `run_id`: the
    id to record the run under (the CLI passes the one it announced); default a new one.
    `full_refresh`: read incremental sources whole, as if nothing had been kept (rows deleted in the
    source disappear; the state is rebuilt).
    Returns a :class:`RunSummary`. Raises a :class:`VisitmixError` subclass with a message
    naming the file, row, column or config key at fault; a failed run — also one stopped by
    SIGTERM — publishes nothing and is recorded in ``audit.pipeline_run`` when the warehouse
    can be written.
    """
    logger = get_run_logger()
    termination.new_run()
    config: Config = load_config(Path(config_path) if config_path else None)
    flow_run = get_run_context().flow_run  # type: ignore[union-attr]
    record = RunRecord.start(Path(config_path) if config_path else SAMPLE_CONFIG, str(flow_run.id) if flow_run else None, run_id, config)
    live = config.warehouse.path
    logger.info("run %s: warehouse %s", record.run_id, live)
    with termination.watch(), RunGuard(live, record.run_id) as guard:  # a SIGTERM is noted, then Prefect's handler raises
        record.dead_runs = guard.dead_runs
        try:
            summary = _run(config, record, live, full_refresh)
        except BaseException as exc:  # also SIGTERM (Prefect's TerminationSignal) and Ctrl-C
            if not termination.published():  # after the swap the run is recorded as succeeded: the CLI says what came after
                record_failure(live, config.reports.dir, record, exc)
            raise
        finally:
            shutil.rmtree(partitioned.spill_folder(live, record.run_id), ignore_errors=True)
            if termination.published():  # the dead runs are recorded with this run's audit rows (a failure records them too)
                forget_runs(live, [run_id for run_id, _ in record.dead_runs])
    with termination.waiting():  # published: a SIGTERM now waits for the run's report
        summary.report = tasks.write_dq_report(live, record.run_id, config.reports.dir)
    return summary


def _load_source(
    name: str, config: Config, record: RunRecord, deals: Handle | None, parameters: dict, extract: tasks.Extract,
    spill: partitioned.Spill | None = None,
) -> PreparedSource:
    """One source through the ``load_source`` task; records its outcomes, counts and quarantine.

    A transient failure (TransientSourceError: a refused connection, a time-out, a locked file) is
    retried by Prefect with exponential backoff (``[extraction]``); nothing else is. Raises
    ValidationFailed on an error-severity check or when the quarantine bound is exceeded.
    """
    source = getattr(config.sources, name)
    retry = config.extraction
    load = tasks.load_source.with_options(
        retries=retry.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=retry.retry_delay_s) if retry.retry_delay_s else 0,
        retry_condition_fn=tasks.is_transient,
    )
    prepared: PreparedSource = handoff.take(
        load(name, source, config.base_dir, config.classification.timezone, parameters, record, deals, extract, spill)
    )
    outcomes = list(prepared.outcomes)
    if name in record.read_whole:
        check = tasks.kept_ids_outcome(name, prepared.accepted, prepared.held.height, record.read_whole.pop(name),
                                       config.validation.min_volume_share)
        outcomes += [check, *tasks.dropped_kept_keys(check)]
    record.outcomes.extend(outcomes)
    record.add_quarantine(name, prepared.held)
    if name != "visits" and prepared.held.height:  # the summary counts visits: say what else was held back
        record.notes.append(f"{name}: {prepared.held.height} rows quarantined, left out of the marts and of customer dates "
                            f"(most common: {_top_reasons(prepared.held, 1)}); see visitmix dq-report")
    record.source_counts[name] = prepared.counts
    if name == "visits":
        counts = prepared.counts
        record.counts.update(rows_read=counts["read"], rows_in_scope=counts["in_scope"], rows_quarantined=counts["quarantined"])
    errors = stopping(outcomes)
    if errors:
        raise ValidationFailed(f"{name}: error-severity checks failed, nothing was published: {tasks.describe(errors)}")
    _quarantine_bound(name, prepared, config.validation.max_quarantine_share)
    return prepared


def _kept_state(config: Config, live: Path, full_refresh: bool, settings: dict[str, str], record: RunRecord) -> KeptState:
    """The state the last published run kept for this config's incremental sources (none on a full
    refresh). A source whose `settings` (source_fingerprint) changed since is read whole: its kept
    rows hold values as the old settings read them. Such a source's kept keys go to
    `record.read_whole` (checked once it is read: :func:`flows.tasks.kept_ids_outcome`) and a note
    to the run summary."""
    if full_refresh or not settings:
        return KeptState()
    kept = load_state(live, list(settings))
    changed = kept.drop_changed(settings)
    for name, rows in changed.items():
        by = ENTITIES[name].versions_by
        record.read_whole[name] = rows.select(by).filter(pl.col(by[0]).is_not_null()).unique()
        record.notes.append(
            f"{name}: read whole, as its settings (or the rules this release reads them with) changed since the last run, "
            f"which kept {rows.height} rows; every visit classified again"
        )
    if changed:
        get_run_logger().info("read whole as their settings changed: %s", ", ".join(changed))
    return kept


def _classify_in_memory(
    accepted: dict[str, Handle], config: Config, parameters: dict, kept: KeptState, new_state: NewState, record: RunRecord
) -> tuple[pl.DataFrame, pl.DataFrame, SuiteResult]:
    """Classify the accepted visits (taking their Handle), reusing the kept classification of an
    incremental run when the settings allow; then the fct_visit suite. Returns the classified
    visits, the customers and the suite's result."""
    reuse = kept.classified is not None and kept.customers is not None and kept.fingerprint == new_state.fingerprint
    previous = handoff.put((kept.classified, kept.customers), "kept classification") if reuse else None
    kept.classified = kept.customers = None
    with record.step("classify"):
        result: tasks.Classified = handoff.take(
            tasks.classify_visits(accepted.pop("visits"), accepted["accounts"], accepted["deals"], config.classification, previous)
        )
    record.counts["rows_reclassified"] = result.reclassified_rows
    if result.reclassified_accounts is not None:
        get_run_logger().info(
            "incremental: %d visits of %d touched accounts classified again", result.reclassified_rows, result.reclassified_accounts
        )
    if "visits" in new_state.rows:
        new_state.classified, new_state.customers = result.visits, result.customers
    with record.step("checks fct_visit"):
        mart = run_suite(result.visits, "fct_visit", parameters, index_columns=("visit_id",))
    return result.visits, result.customers, mart


def _run(config: Config, record: RunRecord, live: Path, full_refresh: bool = False) -> RunSummary:
    logger = get_run_logger()
    gx_worker.start()  # GX imports in the background while the sources are read (the CLI starts it earlier)
    configured = {n for n in SOURCE_ORDER if getattr(config.sources, n) is not None}
    accepted = {n: handoff.put(empty_canonical(ENTITIES[n]), n) for n in SOURCE_ORDER}
    cross_checks = []
    parameters = suite_parameters(config.classification.timezone, datetime.now(UTC))
    settings = {
        n: source_fingerprint(s, config.classification.timezone)
        for n in SOURCE_ORDER if (s := getattr(config.sources, n)) is not None and s.mode == "incremental"
    }
    with record.step("read kept state"):
        kept = _kept_state(config, live, full_refresh, settings, record)
    new_state = NewState(fingerprint=classification_fingerprint(config.classification), settings=settings)
    if kept.rows:
        record.run_mode = "incremental"
        record.visits_from_watermark = "visits" in kept.rows
    spill = partitioned.Spill(partitioned.spill_folder(live, record.run_id), config.processing.max_visits_in_memory)
    spilled: partitioned.Spilled | None = None
    for name in SOURCE_ORDER:
        source = getattr(config.sources, name)
        if source is not None:
            extract = tasks.Extract(
                source.mode == "incremental",
                handoff.put(kept.rows.pop(name), f"kept {name}") if name in kept.rows else None,
                kept.watermarks.get(name),
                record.started_at,
                kept.date_orders.get(name),
            )
            try:
                prepared = _load_source(name, config, record, accepted["deals"], parameters, extract, spill)
            finally:
                handoff.drop(extract.kept)
            handoff.drop(accepted[name])
            accepted[name] = handoff.put(prepared.accepted, name)
            if prepared.kept is not None:
                new_state.rows[name], new_state.watermarks[name] = prepared.kept, prepared.watermark
                new_state.date_orders[name] = prepared.date_orders
            if prepared.cross_check is not None:
                cross_checks.append(prepared.cross_check)
            logger.info("%s: %d rows accepted", name, prepared.counts["accepted"])
            spilled = prepared.spilled or spilled
            del prepared
    in_parts = None
    if spilled is not None:  # classified per account partition, references counted there (visitmix.partitioned)
        with record.step("classify"):
            in_parts, customer = handoff.take(tasks.classify_spilled(
                spilled, accepted["accounts"], accepted["deals"], accepted["reps"], configured, config.classification, parameters
            ))
    with record.step("reference checks"):
        outcomes, beyond = _references(
            {n: handoff.peek(h) for n, h in accepted.items()}, configured, config.validation.max_unknown_reference_share, in_parts
        )
        record.outcomes.extend(outcomes)
    if stopping(outcomes):
        raise ValidationFailed(f"error-severity checks failed, nothing was published: {tasks.describe(stopping(outcomes))}")
    record.outcomes.extend(_target_teams(config, handoff.peek(accepted["reps"]) if "reps" in configured else None))
    if in_parts is None:
        classified, customer, mart = _classify_in_memory(accepted, config, parameters, kept, new_state, record)
        fct_outcomes, fct_cross_check = mart.outcomes, mart.cross_check
        # one column, lazily: filtering the whole frame first would copy every classified visit (GBs at 10M)
        mix = dict(classified.lazy().select("visit_type").drop_nulls().group_by("visit_type").len().collect().iter_rows())
        published = classified.height
    else:
        handoff.drop(accepted.pop("visits"))
        classified, fct_outcomes, fct_cross_check = [str(p) for p in in_parts.paths], in_parts.outcomes, in_parts.cross_check
        mix, published = in_parts.mix, in_parts.rows
        record.counts["rows_reclassified"] = in_parts.rows  # recorded once the references passed, as in memory
    record.watermark = new_state.watermark_json()
    record.outcomes.extend(fct_outcomes)
    if stopping(fct_outcomes):
        raise ValidationFailed(f"fct_visit: error-severity checks failed, nothing was published: {tasks.describe(stopping(fct_outcomes))}")
    if fct_cross_check is not None:
        cross_checks.append(fct_cross_check)
    record.counts["rows_classified"] = sum(mix.values())
    record.counts["rows_published"] = published
    target = config.target_mix
    frames = {
        "accounts_frame": handoff.take(accepted["accounts"]),
        "deals_frame": handoff.take(accepted["deals"]),
        "reps_frame": handoff.take(accepted["reps"]),
        "customers_frame": customer,
        "classified_frame": classified,
        "visit_accounts_frame": beyond["account_id"],
        "visit_reps_frame": beyond["rep_id"],
        "targets_frame": pl.DataFrame(
            [
                {"team": team, "valid_from": valid_from, "new_prospect_share": t.new_prospect,
                 "hot_prospect_share": t.hot_prospect, "existing_customer_share": t.existing_customer}
                for team, valid_from, t in target.entries()
            ],
            schema={"team": pl.String, "valid_from": pl.Date, "new_prospect_share": pl.Float64,
                    "hot_prospect_share": pl.Float64, "existing_customer_share": pl.Float64},
        ),
        "settings_frame": pl.DataFrame(
            {
                "fiscal_year_start_month": [config.calendar.fiscal_year_start_month],
                "progression_window_days": [config.kpi.progression_window_days],
                "win_window_days": [config.kpi.win_window_days],
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
    kept_next = handoff.put(new_state, "state for the next run") if new_state.rows else None
    del frames, new_state
    try:
        mart_rows = publish(live, record, stored, config.validation.min_volume_share, cross_checks, parameters, kept_next)
    finally:
        handoff.drop(stored, kept_next)
    warnings = [
        _summary_warning(o) for o in record.outcomes
        if o.severity == "warn" and o.outcome == "failed" and o.expectation.endswith(SUMMARY_WARNINGS)
    ]
    warnings = [*record.notes, *warnings]
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
