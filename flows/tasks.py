"""Thin Prefect tasks: each does I/O or calls one function from transforms/ or visitmix/."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from transforms import canonical, classify, customers, quarantine, references, versions
from transforms.schema import ENTITIES, LINEAGE_COLUMNS, Entity
from visitmix.config import ClassificationConfig, SourceConfig
from visitmix import report
from visitmix.audit import RunRecord
from visitmix.dq import ExpectationOutcome, SuiteResult, stopping, validate_frame
from visitmix.errors import ConfigError, SourceError, ValidationFailed, WarehouseLockedError
from visitmix.sources import RawSource, read_source
from visitmix.warehouse import WarehouseBuild


@task(cache_policy=NO_CACHE)
def extract_source(name: str, config: SourceConfig, base: Path) -> RawSource:
    """Read one configured source's files, named relative to `base` (see visitmix.sources.read_source)."""
    return read_source(name, config, base)


@task(cache_policy=NO_CACHE)
def canonicalise(raw: RawSource, config: SourceConfig, timezone: str) -> tuple[pl.DataFrame, list[ExpectationOutcome]]:
    """Map and parse a raw source onto its canonical columns, with the written-date checks.

    A missing column is a SourceError. The outcomes count mixed calendar eras and the naive
    times the daylight-saving policy adjusted (warnings: counted, not fatal).
    """
    entity: Entity = ENTITIES[raw.name]
    available = raw.columns
    files = ", ".join(sorted({f.name for f in raw.files}))
    try:
        expressions = canonical.choose_expressions(config.expression_alternatives, available)
    except canonical.UnknownExpressionColumns as exc:
        raise SourceError(
            f"sources.{raw.name}.expressions.{exc.column}: the expression reads {', '.join(repr(m) for m in exc.missing)}, "
            f"which the {raw.name} source '{files}' does not have (its columns: {', '.join(available)}); column names "
            f"are case-sensitive. Alternatives that may all be missing: {exc.column} = {{ any_of = [...], optional = true }}"
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"sources.{raw.name}.expressions: {str(exc).splitlines()[0]}") from None
    missing = canonical.missing_columns(config.columns, expressions, entity, available, frozenset(config.take_from_deal))
    if missing:
        wanted = "; ".join(
            f"no column '{source}' for canonical '{name}' (set sources.{raw.name}.columns.{name})" for name, source in missing
        )
        raise SourceError(f"{raw.name} source '{files}': {wanted}. Its columns are: {', '.join(available)}")
    if config.take_from_deal and "deal_id" not in config.columns and "deal_id" not in expressions and "deal_id" not in available:
        raise SourceError(f"sources.{raw.name}.take_from_deal needs the visit's deal: set sources.{raw.name}.columns.deal_id")
    # each file on its own: one export's timestamps may carry a zone and another's not
    plans = []
    for part in raw.parts:
        options = canonical.ParseOptions(config.timezone or timezone, config.calendar, config.date_order,
                                         excel_serials=part.file.format == "excel")
        plans.append(canonical.to_canonical(part.frame, entity, config.columns, expressions, options))
    try:
        frame = pl.concat(plans, how="diagonal").collect()
    except pl.exceptions.PolarsError as exc:
        raise SourceError(_expression_failure(raw, expressions, exc)) from None
    written = canonical.ParseOptions(config.timezone or timezone, config.calendar, config.date_order)
    outcomes = [_temporal_outcome(raw.name, d, frame.height, written) for d in canonical.temporal_diagnostics(frame)]
    return frame.drop([c for c in frame.columns if c.startswith(canonical.DIAGNOSTIC_PREFIX)]), outcomes


def _expression_failure(raw: RawSource, expressions: dict[str, str], exc: Exception) -> str:
    """Which expression failed on the data, without Polars' message (it quotes the offending cells)."""
    culprit = None
    for name, expression in expressions.items():
        try:
            pl.collect_all([part.frame.select(pl.sql_expr(expression)) for part in raw.parts])
        except pl.exceptions.PolarsError:
            culprit = name
            break
    key = f"sources.{raw.name}.expressions.{culprit}" if culprit else f"sources.{raw.name}.columns"
    return (
        f"{key}: cannot be computed on the data of the {raw.name} source '{raw.files[0].name}' "
        f"({type(exc).__name__}, e.g. a CAST of text that is not a number); the cells are not shown here, "
        "rerun with --debug to see Polars' own message"
    )


def _temporal_outcome(source: str, counts: dict, rows: int, options: canonical.ParseOptions) -> ExpectationOutcome:
    if counts["kind"] == "era":
        failed = counts["buddhist"] > 0 and counts["gregorian"] > 0
        expectation = "single_calendar_era"
        details = f"{counts['buddhist']} Buddhist-era and {counts['gregorian']} Gregorian years as written (calendar = {options.calendar})"
        unexpected = min(counts["buddhist"], counts["gregorian"])
    else:
        failed = counts["gap"] + counts["overlap"] > 0
        expectation = "dst_adjusted_times"
        details = (
            f"{counts['gap']} naive times in a daylight-saving gap read one hour later, "
            f"{counts['overlap']} in a repeated hour read as the earlier instant ({options.timezone})"
        )
        unexpected = counts["gap"] + counts["overlap"]
    return ExpectationOutcome.counted(source, expectation, counts["column"], rows, unexpected, details, failed=failed)


@task(cache_policy=NO_CACHE)
def link_deals(visits: pl.DataFrame, deals: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Fill the visit columns named in `take_from_deal` from the linked deal."""
    return references.take_from_deal(visits.lazy(), deals.lazy(), columns).collect()


@task(cache_policy=NO_CACHE)
def keep_newest_versions(frame: pl.DataFrame, source: str) -> tuple[pl.DataFrame, ExpectationOutcome]:
    """Drop versions of a key superseded by a newer row (transforms.versions); report how many."""
    key = ENTITIES[source].key
    kept, superseded = pl.collect_all(list(versions.newest_versions(frame.lazy(), key)))
    details = f"older rows replaced by a newer row with the same {key} (later updated_at, else later file)"
    return kept, ExpectationOutcome.counted(source, "newest_version_per_key", key, frame.height, superseded, details)


@task(cache_policy=NO_CACHE)
def validate(frame: pl.DataFrame, suite: str, parameters: dict | None = None) -> SuiteResult:
    """Run the GX suite ``expectations/<suite>.json`` over a canonical frame."""
    return validate_frame(frame, suite, parameters)


@task(cache_policy=NO_CACHE)
def split_quarantine(raw: RawSource, frame: pl.DataFrame, result: SuiteResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted canonical rows, quarantined raw rows with their first reason)."""
    flagged = quarantine.first_reason(result.flags.lazy())
    accepted = quarantine.accepted_rows(frame.lazy(), flagged)
    held = [quarantine.quarantined_rows(part.frame, flagged.filter(pl.col("source_file") == part.file.label)) for part in raw.parts]
    out = pl.collect_all([accepted, *held])
    return out[0], pl.concat(out[1:]).sort(["source_file", "row_number"])


@task(cache_policy=NO_CACHE)
def classify_visits(
    visits: pl.DataFrame, accounts: pl.DataFrame, deals: pl.DataFrame, config: ClassificationConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(classified visits, customer_since per account); the rule is transforms.classify."""
    customer = customers.customer_since(accounts.lazy(), deals.lazy())
    classified = classify.classify_visits(visits.lazy(), customer, config.timezone, config.reengage_after_days)
    out = pl.collect_all([classified, customer])
    return out[0], out[1]


def is_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's retry_condition_fn signature
    """Retry database reads, but not a config mistake (a missing variable or secret)."""
    try:
        state.result()
    except ConfigError:
        return False
    except Exception:  # noqa: BLE001
        return True
    return False


def _is_lock_error(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's retry_condition_fn signature
    try:
        state.result()
    except WarehouseLockedError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is not retried
        return False
    return False


def describe(outcomes: list[ExpectationOutcome]) -> str:
    """One line per failed check: suite.expectation[column]: what it means."""
    return "; ".join(
        f"{o.suite}.{o.expectation}{f'[{o.column_name}]' if o.column_name else ''}: {o.details or o.outcome}" for o in outcomes
    )


# Published marts validated before the swap, with the key that names a row in samples.
MART_SUITES = {"fct_visit": ("visit_id",), "visit_mix_monthly": ("month", "rep_id")}


def _volume_outcome(rows: int, previous: int | None, min_share: float) -> ExpectationOutcome:
    too_few = previous is not None and rows < min_share * previous
    if too_few:
        details = (
            f"{rows} visit rows, fewer than validation.min_volume_share = {min_share:g} of the {previous} "
            "of the last successful run (a half-empty export?)"
        )
    else:
        details = f"{rows} visit rows; the last successful run had {previous}" if previous is not None else "no previous successful run"
    return ExpectationOutcome.counted("visits", "row_count_vs_previous_run", None, rows, 0, details, severity="error", failed=too_few)


@task(cache_policy=NO_CACHE, retry_condition_fn=_is_lock_error)
def publish_warehouse(live: Path, record: RunRecord, frames: dict[str, pl.DataFrame], min_volume_share: float) -> dict[str, int]:
    """Build the new warehouse, check volume and marts, then swap it in atomically.

    Retried (Prefect retries with backoff) only while another process holds the file read-write.
    Appends the volume and mart-suite outcomes to `record`. Raises ValidationFailed on an
    error-severity failure; the live warehouse is then untouched.
    """
    outcomes: list[ExpectationOutcome] = []
    with WarehouseBuild(live, record.run_id) as build:
        outcomes.append(_volume_outcome(record.counts.get("rows_in_scope", 0), build.previous_rows_in_scope(), min_volume_share))
        counts = build.load(frames) if outcomes[-1].outcome == "passed" else {}
        if counts:
            for mart, key in MART_SUITES.items():
                outcomes.extend(validate_frame(build.read(f"marts.{mart}"), mart, index_columns=key).outcomes)
        errors = stopping(outcomes)
        record.outcomes.extend(outcomes)
        if errors:
            raise ValidationFailed(f"error-severity checks failed, nothing was published: {describe(errors)}")
        build.publish(record.records("succeeded"))
    return counts


@task(cache_policy=NO_CACHE)
def write_dq_report(live: Path, run_id: str, folder: Path) -> Path | None:
    """Write the run's HTML data-quality report and publish it as a Prefect Markdown artifact.

    The run's outcome is already in the warehouse: a report that cannot be written (a read-only
    folder, say) is logged as a warning and gives None, it does not fail the run.
    """
    run_report = report.load_report(live, run_id)
    create_markdown_artifact(
        key="visit-mix-dq-report",
        markdown=report.to_markdown(run_report),
        description=f"visitmix data-quality report, run {run_id}",
    )
    try:
        return report.write_html(run_report, folder)
    except OSError as exc:
        get_run_logger().warning("the HTML data-quality report could not be written to %s: %s", folder, exc)
        return None
