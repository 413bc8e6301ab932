"""One canonical source checked: newest versions, its suite, and the quarantine split.

The suite's exact counts come from its compiled form (:mod:`visitmix.dq`); GX validates a sample in
the background (``cross_check``, resolved before publishing). Quarantined rows keep their raw
source row for ``audit.quarantine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from transforms import quarantine, references, versions
from transforms.incremental import merge_batch, watermark_of
from transforms.schema import ENTITIES, SOURCE_FILE, SOURCE_ROW, VISIT_STATUSES
from transforms.status import status_by_start
from visitmix import file_order
from visitmix.dq import CrossCheck, ExpectationOutcome, SuiteResult, run_suite
from visitmix.sources import DATA_ERRORS, RawSource

if TYPE_CHECKING:
    from visitmix.partitioned import Spilled


@dataclass
class PreparedSource:
    """One source after mapping, newest versions, checks and quarantine."""

    name: str
    accepted: pl.DataFrame  # canonical rows that passed the row-level checks
    held: pl.DataFrame  # quarantined raw rows: source_file, row_number, raw_row, reason
    counts: dict[str, int]  # read, in_scope, superseded, quarantined, accepted
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    cross_check: CrossCheck | None = None
    unknown_statuses: list[str] = field(default_factory=list)  # visits: status words to map (listed in messages)
    # incremental sources: the newest version of every row before the checks (kept for the next
    # run) and the latest updated_at among them (the next run's watermark)
    kept: pl.DataFrame | None = None
    watermark: datetime | None = None
    # incremental sources: the day/month order of each text date column as decided so far (kept too)
    date_orders: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # what max_quarantine_share is measured on: (rows held back, rows) — for an incremental source all
    # its kept rows, as a full run would count them, not only this run's batch
    share_basis: tuple[int, int] | None = None
    # visits beyond [processing] max_visits_in_memory: the accepted rows are spilled by account
    # (visitmix.partitioned), `accepted` is then empty
    spilled: Spilled | None = None

    @property
    def quarantine_share(self) -> tuple[int, int]:
        """(held rows, rows) for the quarantine bound: this run's, or the whole kept source's."""
        return self.share_basis or (self.held.height, self.counts["in_scope"])


@dataclass(frozen=True)
class Incremental:
    """An incremental source's batch: the rows kept from earlier runs join it (None: nothing kept)."""

    kept: pl.DataFrame | None


def check_rows(
    raw: RawSource,
    holder: list[pl.DataFrame],
    parameters: dict,
    deals: pl.DataFrame | None = None,
    take_from_deal: list[str] | None = None,
    incremental: Incremental | None = None,
    until: datetime | None = None,
) -> PreparedSource:
    """Newest versions → (link deals) → the source's suite → quarantine split, for one canonical source.

    In: the raw source (for the quarantined rows as written) and its canonical frame in a one-item
    list, which is emptied: the frame is freed as soon as a smaller one replaces it (ten million
    rows are a gigabyte). With `incremental`, the frame is the run's batch: it joins the kept rows
    (:func:`transforms.incremental.merge_batch`) and every row is checked, but only the batch's held
    rows are this run's quarantine (kept rows still held are counted, ``held_from_earlier_runs``).
    Out: the accepted canonical rows, the quarantined raw rows, counts and outcomes. `until` (aware):
    the run's start; an ``updated_at`` after it (a clock or data error) never becomes the watermark.
    """
    name = raw.name
    key = ENTITIES[name].key
    frame = holder.pop()
    in_scope = frame.height
    by = ENTITIES[name].versions_by
    from_batch = None
    compare = MOVED_BETWEEN.get(name, ())
    if incremental is None:
        newest, superseded = versions.newest_versions(frame, by, compare=compare)
    else:
        newest, superseded, from_batch = merge_batch(incremental.kept, frame, by, compare=compare)
    by_file_order = frame.get_column("updated_at").null_count() == frame.height  # no updated_at: the later path wins
    del frame
    replaced = superseded.height
    outcomes = newest_outcomes(name, newest.height + replaced, superseded)  # with the kept rows, when incremental
    if replaced and by_file_order:
        outcomes.extend(file_order_outcome(name, [f.label or "" for f in raw.files], replaced))
    del superseded
    kept, result, unknown = run_checks(newest, name, parameters, deals, take_from_deal)
    outcomes.extend(with_vocabulary(o, unknown) for o in result.outcomes)
    assert result.reason is not None
    held_mask = result.reason.is_not_null()
    this_run = held_mask if from_batch is None else held_mask & from_batch
    flagged = kept.select(SOURCE_FILE, SOURCE_ROW).with_columns(result.reason).filter(this_run)
    if from_batch is not None:
        earlier = int((held_mask & ~from_batch).sum())
        outcomes.append(ExpectationOutcome.counted(
            name, "held_from_earlier_runs", key, kept.height, earlier,
            "kept rows of earlier runs still held back (their newest version fails a check; quarantined in the run that read them)",
            severity="info", failed=False,
        ))
    held = held_rows(raw, flagged)
    accepted = kept.filter(~held_mask) if held_mask.any() else kept
    del kept
    read = raw.rows_read if incremental is None else in_scope  # incremental: the rows this run extracted
    counts = {"read": read, "in_scope": in_scope, "superseded": replaced, "quarantined": held.height, "accepted": accepted.height}
    prepared = PreparedSource(name, accepted, held, counts, outcomes, result.cross_check, unknown)
    if incremental is not None:
        prepared.kept, prepared.watermark = newest, watermark_of(newest, until)
        prepared.share_basis = (int(held_mask.sum()), newest.height)
        # recorded (audit.pipeline_run.row_counts), so that reports restate the bound as the run measured it
        counts["kept_quarantined"], counts["kept_rows"] = prepared.share_basis
    return prepared


def run_checks(
    newest: pl.DataFrame, name: str, parameters: dict, deals: pl.DataFrame | None, take_from_deal: list[str] | None,
    cross_check: bool = True,
) -> tuple[pl.DataFrame, SuiteResult, list[str]]:
    """(Link deals →) the source's suite on its newest versions: the rows checked (with the deal's
    columns taken), the suite's result (visitmix.dq.run_suite) and, for visits, the unknown status words.
    A visit's missing status (a source with ``missing_status = "by_start"``) is decided first, by the
    run's start (``parameters["run_started_at"]``; transforms.status); `newest` keeps it missing."""
    kept = newest
    if name == "visits":
        kept = status_by_start(kept, datetime.fromisoformat(parameters["run_started_at"]))
    if take_from_deal and deals is not None:
        kept = references.take_from_deal(kept.lazy(), deals.lazy(), take_from_deal).collect()
    result = run_suite(kept, name, parameters, cross_check=cross_check)
    return kept, result, unknown_statuses(kept) if name == "visits" else []


# sources whose re-delivered rows are compared with their newest version on these columns
# (newest_versions(compare=…)): a visit or deal that "moved" to another account — for a visit that
# takes its account from its deal (take_from_deal), to another deal
MOVED_BETWEEN = {"visits": ("account_id", "deal_id"), "deals": ("account_id",)}
VERSIONS_MOVED = "versions_name_another_account"
FILE_ORDER = "file_names_in_path_order"


def file_order_outcome(name: str, labels: list[str], replaced: int) -> list[ExpectationOutcome]:
    """A warning when rows were replaced by the file whose path sorts last (no updated_at) and the files'
    names tell another order (visitmix.file_order): an older export's row may have won."""
    pair = file_order.misordered(labels)
    if pair is None:
        return []
    return [ExpectationOutcome.counted(
        name, FILE_ORDER, None, replaced, replaced,
        f"rows replaced by the version of the file whose path sorts last (no updated_at), but the files' names tell "
        f"another order: '{pair[0]}' sorts before '{pair[1]}' though its name is later, so an older export's row may "
        f"have won: name the files year first (2025-02-28) or with zero-padded numbers, or map updated_at",
    )]


def newest_outcomes(name: str, considered: int, superseded: pl.DataFrame) -> list[ExpectationOutcome]:
    """How many of the `considered` rows a newer version replaced (information, never a failure);
    for visits and deals also how many of those replaced rows name another account (or, for visits,
    deal) than the newest version (a warning: a visit corrected to another account, or — when many —
    ids that are not unique across files, such as a per-file row number mapped to visit_id, whose
    newest rows silently replace unrelated visits). `superseded` carries ``replaced_by(column)`` for
    those columns (:data:`MOVED_BETWEEN`)."""
    by = ENTITIES[name].versions_by
    key = ENTITIES[name].key
    details = f"older rows replaced by a newer row with the same {', '.join(by)} (later updated_at, else later file)"
    outcomes = [ExpectationOutcome.counted(name, "newest_version_per_key", key, considered, superseded, details,
                                           severity="info", failed=False)]
    if columns := MOVED_BETWEEN.get(name):
        moved = superseded.filter(pl.any_horizontal(pl.col(c) != pl.col(versions.replaced_by(c)) for c in columns).fill_null(False))
        other = " or ".join(columns)
        outcomes.append(ExpectationOutcome.counted(
            name, VERSIONS_MOVED, columns[0], superseded.height, moved,
            f"older rows whose newer version of the same {key} (which replaced them) names another {other}: the {name[:-1]} "
            f"was moved to another account in the CRM, or the {key} column is not unique across files and deliveries "
            "(a row number or a per-export counter), so unrelated rows replaced each other: check the export's id column",
        ))
    return outcomes


def held_rows(raw: RawSource, flagged: pl.DataFrame) -> pl.DataFrame:
    """The quarantined rows as the source wrote them (transforms.quarantine), ordered by file and row.

    In: `flagged` with ``source_file``, ``source_row_number`` and ``reason``. Each file is read
    again only when it has flagged rows; raises SourceError when a file changed since it was hashed.
    """
    labels = set(flagged.get_column(SOURCE_FILE).unique().to_list()) if flagged.height else set()
    parts = [
        quarantine.quarantined_rows(part.frame, flagged.lazy().filter(pl.col(SOURCE_FILE) == part.file.label))
        for part in raw.parts
        if part.file.label in labels
    ]
    try:
        held = pl.concat(pl.collect_all(parts)).sort(SOURCE_FILE, "row_number") if parts else quarantine.empty_quarantine()
    except DATA_ERRORS:
        raw.verify_unchanged()  # a file replaced since it was read: say so (and retry), not Polars' error
        raise
    raw.verify_unchanged()
    return held


MAX_LISTED_STATUSES, MAX_STATUS_CHARS = 10, 40


# what a status word never looks like, but personal data does: an address, a link, a number
_NOT_A_WORD = r"@|://|[0-9]{3,}"


def unknown_statuses(frame: pl.DataFrame) -> list[str]:
    """Distinct status words no rule or ``status_map`` knows, as compared (lower case, ``_``).

    A CRM's fixed vocabulary, not personal data: the one kind of cell value messages may list — at
    most MAX_LISTED_STATUSES of them, each cut to MAX_STATUS_CHARS characters, and never one shaped
    like an e-mail address, a link or a number (a note typed into the status column).
    """
    status = frame.get_column("status")
    words = status.filter(~status.is_in(list(VISIT_STATUSES)) & ~status.str.contains(_NOT_A_WORD).fill_null(True))
    # cut first, then distinct: two long words that share their first characters are listed once
    shown = words.drop_nulls().str.slice(0, MAX_STATUS_CHARS).unique().sort().head(MAX_LISTED_STATUSES)
    return shown.to_list()


def describe_statuses(unknown: list[str], source: str = "visits") -> str:
    return f"unknown status values {', '.join(repr(w) for w in unknown)}: map them with sources.{source}.status_map"


def with_vocabulary(outcome: ExpectationOutcome, unknown: list[str]) -> ExpectationOutcome:
    if not unknown or outcome.column_name != "status" or outcome.expectation != "expect_column_values_to_be_in_set":
        return outcome
    return replace(outcome, details=f"{outcome.details}; {describe_statuses(unknown)}")


def title_outcomes(raw: RawSource) -> list[ExpectationOutcome]:
    """Report title blocks found above the header and skipped (``sources.<name>.skip_rows`` unset), and
    rows repeating the header below it: counted per source, each file named with its count; never a failure."""
    counted = (
        ("repeated_header_rows_skipped", "repeated_headers", "rows below the header that repeat it (exports concatenated "
         "into one file), skipped: ", ""),
        ("title_rows_skipped", "title_rows", "rows above the header skipped as a report's title block: ",
         f" (set sources.{raw.name}.skip_rows to choose the header row yourself)"),
    )
    outcomes = []
    for expectation, attribute, what, hint in counted:
        files = [(f.name, getattr(f, attribute)) for f in raw.files if getattr(f, attribute)]
        if files:
            listed = "; ".join(f"{n}: {count}" for n, count in files[:10]) + ("; …" if len(files) > 10 else "")
            outcomes.append(ExpectationOutcome.counted(raw.name, expectation, None, raw.rows_read, sum(c for _, c in files),
                                                       what + listed + hint, severity="info", failed=False))
    return outcomes


def lookup_outcomes(raw: RawSource) -> list[ExpectationOutcome]:
    """A lookup key that matches several disagreeing rows is a warning: the smallest value was taken."""
    return [
        ExpectationOutcome.counted(
            raw.name, "lookup_key_unique", column, raw.rows_read, count,
            f"{label}: keys of the source that match several different rows (the smallest value is used)",
        )
        for label, column, count in raw.ambiguous_lookups
    ]
