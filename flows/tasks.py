"""Thin Prefect tasks: each reads, checks, classifies or publishes by calling transforms/ and visitmix/.

Tasks are coarse (one per source, then classify, publish, report) and hand big frames over as
:class:`flows.handoff.Handle`\\ s: Prefect keeps a task's arguments and return value until the
flow run ends, which for ten million rows would mean every intermediate frame at once.
Step timings go to the run record (``audit.pipeline_run.step_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows import handoff
from flows.handoff import Handle
from transforms import classify, customers, incremental
from transforms.schema import CHECKED_ONLY, ENTITIES
from visitmix import partitioned, progress, report, termination
from visitmix.audit import RunRecord
from visitmix.canonicalise import canonicalise
from visitmix.config import ClassificationConfig, SourceConfig
from visitmix.dq import CrossCheck, ExpectationOutcome, run_suite, stopping
from visitmix.errors import TransientSourceError, ValidationFailed, WarehouseLockedError
from visitmix.prepare import Incremental, check_rows, lookup_outcomes, title_outcomes
from visitmix.sources import read_source
from visitmix.state import store_state
from visitmix.warehouse import WarehouseBuild


@dataclass(frozen=True)
class Extract:
    """How a run extracts one source: whole (`incremental` False), or the rows changed since `watermark`
    joined to the `kept` rows of earlier runs (a Handle; None when nothing is kept yet)."""

    incremental: bool = False
    kept: Handle | None = None
    watermark: datetime | None = None
    until: datetime | None = None  # the run's start: a later updated_at never becomes the next watermark
    date_orders: dict[str, tuple[str, bool]] | None = None  # the kept rows' day/month orders (state.date_order)


@task(cache_policy=NO_CACHE)
def load_source(
    name: str,
    config: SourceConfig,
    base: Path,
    timezone: str,
    parameters: dict,
    record: RunRecord,
    deals: Handle | None = None,
    extract: Extract = Extract(),
    spill: partitioned.Spill | None = None,
) -> Handle:
    """Read → canonicalise → (changed rows) → newest versions → (link deals) → checks → quarantine, for one source.

    Returns a Handle to a :class:`visitmix.prepare.PreparedSource` (accepted rows, quarantined rows,
    counts, outcomes). The files read go to `record` at once (a run that fails on them still lists
    them; a retried attempt replaces them); outcomes travel with the result, so a retried attempt
    (TransientSourceError) leaves none behind. `deals`: a Handle to the accepted deals,
    for visits that take account or rep from their deal. `spill`: a full visits source with more
    rows than its bound is processed in partitions (visitmix.partitioned).
    """
    record.files[:] = [(s, f) for s, f in record.files if s != name]  # a retried read is recorded once
    spills = spill is not None and name == "visits" and not extract.incremental
    if spills:
        spill.clear()  # a retried read must not find what an earlier attempt set aside
    with record.step(f"read {name}"):
        raw = read_source(name, config, base, extract.watermark if extract.incremental else None,
                          set_aside=(spill.read_folder, spill.max_rows) if spills else None)
    count = f"{len(raw.files)} file{'s' if len(raw.files) != 1 else ''}" if raw.files[0].format != "database" else "database"
    progress.note(f"{name}: {count}, {raw.rows_read:,} rows")
    # the files read are known (and reported) even when mapping them fails; footer rows once mapped
    first = len(record.files)
    record.files.extend((name, replace(f, skipped_footer_rows=None)) for f in raw.files)
    outcomes = [*title_outcomes(raw), *lookup_outcomes(raw)]
    if spills and raw.rows_read > spill.max_rows:
        progress.note(f"{name}: more rows than processing.max_visits_in_memory: in {spill.partitions(raw.rows_read)} partitions")
        prepared, footers = partitioned.prepare_visits(
            raw, config, timezone, parameters, handoff.peek(deals) if deals else None, spill, record.step
        )
        record.files[first:] = [(name, replace(f, skipped_footer_rows=footers.get(f.label or "", 0))) for f in raw.files]
        prepared.outcomes[:0] = outcomes
        return handoff.put(prepared, f"prepared {name}")
    if spill is not None and name == "visits" and extract.incremental:
        total = raw.rows_read + (handoff.peek(extract.kept).height if extract.kept else 0)
        if total > spill.max_rows:
            get_run_logger().warning(
                "visits: %d rows with the kept ones, more than processing.max_visits_in_memory = %d: an incremental "
                "source is merged and classified in memory all the same (a full run processes it in partitions)", total, spill.max_rows
            )
    with record.step(f"canonicalise {name}"):
        mapped = canonicalise(raw, config, timezone, extract.date_orders if extract.incremental else None)
    record.files[first:] = [(name, replace(f, skipped_footer_rows=mapped.footer_rows.get(f.label or "", 0))) for f in raw.files]
    outcomes.extend(mapped.outcomes)
    frame, date_orders = mapped.frame, mapped.date_orders
    del mapped  # check_rows frees the frame as soon as it has been replaced
    plan = None
    if extract.incremental:
        kept_rows = handoff.peek(extract.kept) if extract.kept else None
        key = ENTITIES[name].versions_by
        unseen = incremental.unseen_before_watermark(frame, extract.watermark, kept_rows, key)
        frame, older = incremental.since_watermark(frame, extract.watermark)
        shown = extract.watermark.isoformat() if extract.watermark else None
        outcomes.append(ExpectationOutcome.counted(
            name, "rows_before_watermark", "updated_at", frame.height + older, older,
            f"rows read whose updated_at is before the watermark {shown}: not extracted (unchanged since an earlier run "
            "read them, as long as every change sets updated_at)",
            severity="info", failed=False,
        ))
        if unseen:
            outcomes.append(ExpectationOutcome.counted(
                name, "new_rows_before_watermark", key[0], older, unseen,
                f"{unseen:,} rows whose updated_at is before the watermark {shown} have a {', '.join(key)} no earlier run "
                "kept: new rows with an older updated_at (the source does not set updated_at on every change); they are "
                "not extracted and stay out of the marts until a run with --full-refresh reads the source whole",
                severity="warn", failed=True,
            ))
        plan = Incremental(kept_rows)
    linked = config.take_from_deal if name == "visits" else None
    holder = [frame]
    del frame
    with record.step(f"versions, checks and quarantine {name}"):
        prepared = check_rows(raw, holder, parameters, handoff.peek(deals) if deals else None, linked, plan, extract.until)
    prepared.outcomes[:0] = outcomes
    if extract.incremental:
        prepared.date_orders = date_orders
    return handoff.put(prepared, f"prepared {name}")


@dataclass
class Classified:
    """The classify step's result: every accepted visit classified, and how much was recomputed."""

    visits: pl.DataFrame  # transforms.classify.classify_visits' output
    customers: pl.DataFrame  # customer_since per account (transforms.customers)
    reclassified_rows: int  # visits classified in this run (all, unless incremental)
    reclassified_accounts: int | None  # accounts touched by an incremental run, else None


@task(cache_policy=NO_CACHE)
def classify_visits(
    visits: Handle, accounts: Handle, deals: Handle, config: ClassificationConfig, previous: Handle | None = None
) -> Handle:
    """Classify the accepted visits (the rule is transforms.classify); takes the visits' Handle.

    `previous`: a Handle to the last run's (classified visits, customers) when the visits are
    incremental and the classification settings are unchanged: then only accounts the batch touched
    are classified again (transforms.incremental). Returns a Handle to a :class:`Classified`.
    """
    customer = customers.customer_since(handoff.peek(accounts).lazy(), handoff.peek(deals).lazy()).collect()
    # lineage and versions have done their work (checks, quarantine): the marts do not carry them
    rows = handoff.take(visits).drop(CHECKED_ONLY)
    if previous is None:
        classified = classify.classify_visits(rows, customer, config.timezone, config.reengage_after_days, config.reported_type_map).collect()
        return handoff.put(Classified(classified, customer, classified.height, None), "classified visits")
    earlier, earlier_customers = handoff.take(previous)
    touched = incremental.touched_accounts(earlier, rows, earlier_customers, customer)
    classified = incremental.reclassify(earlier, rows, customer, touched, config.timezone, config.reengage_after_days,
                                        config.reported_type_map)
    again = int(rows.get_column("account_id").is_in(touched.implode()).sum())
    return handoff.put(Classified(classified, customer, again, touched.len()), "classified visits")


@task(cache_policy=NO_CACHE)
def classify_spilled(
    spilled: partitioned.Spilled, accounts: Handle, deals: Handle, reps: Handle, configured: set[str],
    config: ClassificationConfig, parameters: dict,
) -> Handle:
    """Classify visits spilled in partitions (visitmix.partitioned.classify_visits), with their
    reference counts and the fct_visit suite. Returns a Handle to (partitioned.Classified, customers)."""
    customer = customers.customer_since(handoff.peek(accounts).lazy(), handoff.peek(deals).lazy()).collect()
    parents = {
        column: (handoff.peek(handle), ENTITIES[parent].key) if parent in configured else None
        for column, parent, handle in (("account_id", "accounts", accounts), ("rep_id", "reps", reps))
    }
    result = partitioned.classify_visits(spilled, parents, customer, config.timezone, config.reengage_after_days, parameters,
                                         config.reported_type_map)
    return handoff.put((result, customer), "classified visits")


def is_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's retry_condition_fn signature
    """Retry an extraction only after a TransientSourceError, never after a data or config error."""
    try:
        state.result()
    except TransientSourceError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is final
        return False
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


def _volume_outcome(rows: int, previous: int | None, min_share: float) -> ExpectationOutcome:
    too_few = previous is not None and rows < min_share * previous
    if too_few:
        details = (
            f"{rows} visit rows, fewer than validation.min_volume_share = {min_share:g} of the {previous} "
            "of the last successful run that read the visits whole (a half-empty export?); if the export really shrank, set validation.min_volume_share "
            "lower for one run (0 turns the check off)"
        )
    else:
        details = (
            f"{rows} visit rows; the last successful run that read them whole had {previous}" if previous is not None
            else "no previous successful run"
        )
    return ExpectationOutcome.counted("visits", "row_count_vs_previous_run", None, rows, 0, details, severity="error", failed=too_few)


def kept_ids_outcome(name: str, accepted: pl.DataFrame, held: int, kept: pl.DataFrame, min_share: float) -> ExpectationOutcome:
    """The volume check of an incremental source read whole because its settings (or the release's
    read rules) changed: how many of the `kept` keys (the entity's version key, distinct: a visit's
    id, a rep's id and ``valid_from``, as the last run kept them) the `accepted` rows of the whole
    read still hold, the `held` (quarantined) rows counted as held keys (they are in the source; the
    quarantine bound judges them). An export that holds every row holds them all but those deleted
    since; fewer than `min_share` of them (0..1, ``validation.min_volume_share``; 0 turns it off)
    means delta files: publishing would drop the earlier rows. Severity error."""
    by = ENTITIES[name].versions_by
    total = kept.height
    read = accepted.select(pl.col(c).cast(kept.schema[c]) for c in by).unique()
    found = min(total, kept.join(read, on=by, how="semi", nulls_equal=True).height + held) if total else 0
    too_few = found < min_share * total
    key = ", ".join(by)
    details = (
        f"{found:,} of the {total:,} {key} values the last run kept are in the source read whole"
        + (f" (counting its {held:,} quarantined rows as held)" if held else "")
        + (
            f", fewer than validation.min_volume_share = {min_share:g} of them: it was read whole because its settings (or the "
            "rules this release reads them with) changed, and it no longer holds the earlier rows (delta files?); deliver an "
            "export that holds every row and run again. If it does hold every row and its ids are now read differently (a "
            "changed id mapping, ids cut or padded by this release's rules), run once with --full-refresh "
            "(validation.min_volume_share = 0 for one run also publishes only what the source holds)"
            if too_few else ""
        )
    )
    return ExpectationOutcome.counted(name, "kept_ids_in_whole_read", by[0], total, total - found, details,
                                      severity="error", failed=too_few)


def dropped_kept_keys(check: ExpectationOutcome) -> list[ExpectationOutcome]:
    """The warning beside a passing :func:`kept_ids_outcome` `check` whose whole read lacks some kept
    keys: those rows leave the marts with this run (deleted in the CRM since, or an export of recent
    rows only that still held ``min_volume_share`` of them). Severity warn; none when no key is missing
    or the check itself stops the run."""
    missing = check.unexpected_count or 0
    if check.outcome != "passed" or not missing:
        return []
    key = ", ".join(ENTITIES[check.suite].versions_by)  # reps are kept by (rep_id, valid_from), not rep_id alone
    details = (
        f"{missing:,} of the {check.element_count:,} {key} values the last run kept are not in the source read "
        "whole: their rows leave the marts with this run. Right when they were deleted in the CRM; if the export holds "
        "recent rows only (a rolling window), deliver one that holds every row and run again"
    )
    return [ExpectationOutcome.counted(check.suite, "kept_ids_dropped", check.column_name, check.element_count or 0,
                                       missing, details)]


@task(cache_policy=NO_CACHE, retry_condition_fn=_is_lock_error)
def publish_warehouse(
    live: Path,
    record: RunRecord,
    frames: Handle,
    min_volume_share: float,
    cross_checks: list[CrossCheck],
    parameters: dict,
    state: Handle | None = None,
) -> dict[str, int]:
    """Build the new warehouse, check volume, marts and GX's verdicts, then swap it in atomically.

    `frames`: a Handle to the named frames the SQL files read (the accepted inputs and
    ``classified_frame``, the classified visits, read once, straight into marts.fct_visit).
    `state`: a Handle to the :class:`visitmix.state.NewState` incremental sources keep for the next
    run; it is written into the same new file, so it advances exactly when the marts are published.
    The volume check compares runs that read the visits whole (a visits source read from its
    watermark extracts what changed; another source's being incremental does not matter).
    Retried (Prefect retries with backoff) only while another process holds the file read-write.
    Appends the volume, mart-suite and GX cross-check outcomes to `record`. Raises
    ValidationFailed on an error-severity failure; the live warehouse is then untouched.
    """
    outcomes: list[ExpectationOutcome] = []
    # a SIGTERM interrupts DuckDB's statements with DuckDB's own errors: noted, so the run is recorded as stopped by it
    with termination.watch(), WarehouseBuild(live, record.run_id) as build:
        if not record.visits_from_watermark:
            outcomes.append(_volume_outcome(record.counts.get("rows_in_scope", 0), build.previous_rows_in_scope(), min_volume_share))
        with record.step("build marts (DuckDB)"):
            counts = build.load(handoff.peek(frames)) if not stopping(outcomes) else {}
        if counts and state is not None:
            with record.step("store state (incremental)"):
                store_state(build.con, handoff.peek(state), record.run_id)
        if counts:
            with record.step("checks visit_mix_monthly"):
                monthly = run_suite(build.read("marts.visit_mix_monthly"), "visit_mix_monthly", parameters, index_columns=("month", "rep_id"))
            outcomes.extend(monthly.outcomes)
            cross_checks = [*cross_checks, monthly.cross_check] if monthly.cross_check else cross_checks
        with record.step("GX sample validation (wait)"):
            for cross in cross_checks:
                outcomes.extend(cross.resolve())
        errors = stopping(outcomes)
        record.outcomes.extend(outcomes)
        if errors:
            raise ValidationFailed(f"error-severity checks failed, nothing was published: {describe(errors)}")
        with record.step("audit and swap"):
            build.publish(record.records("succeeded"))
    return counts


@task(cache_policy=NO_CACHE)
def write_dq_report(live: Path, run_id: str, folder: Path) -> Path | None:
    """Write the run's HTML data-quality report (its page, ``index.html``, ``history.html``) and
    publish it as a Prefect Markdown artifact.

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

