"""How close a run came to each configured bound (``[validation]``), from its recorded counts.

The same comparisons the run made (``max_quarantine_share`` per input, ``min_volume_share`` on the
visits, ``max_unknown_reference_share`` per reference check), restated from the audit tables so
that a report shows the margin, not only the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from transforms.schema import ENTITIES

if TYPE_CHECKING:
    from visitmix.report.model import CheckResult, SourceRows


@dataclass(frozen=True)
class BoundUse:
    """How close the run came to one configured bound, for one input or reference."""

    key: str  # the [validation] setting: max_quarantine_share, min_volume_share, max_unknown_reference_share
    scope: str  # what it was measured on: "visits", "visits → accounts"
    measured: str  # what was measured, in words and counts
    share: float | None  # the measured share in 0..1
    limit: float | None  # the bound in 0..1 (None: not recorded for this run)
    direction: str  # "at most" | "at least"
    status: str  # within | exceeded | not reached | not applicable | bound not recorded


def quarantine_bounds(sources: list[SourceRows], limit: float | None) -> list[BoundUse]:
    """validation.max_quarantine_share per input: quarantined / in-scope rows (as the run compared them)."""
    out = []
    for s in sources:
        if s.kept_rows is not None and s.kept_quarantined is not None:  # incremental: all kept rows, as a full run counts them
            held, rows, words = s.kept_quarantined, s.kept_rows, "kept rows held back (incremental: all rows kept so far)"
        elif s.in_scope is not None and s.quarantined is not None:
            held, rows, words = s.quarantined, s.in_scope, "rows quarantined"
        else:
            continue
        measured = held / rows if rows else 0.0
        status = "bound not recorded" if limit is None else "exceeded" if rows and measured > limit else "within"
        out.append(BoundUse("max_quarantine_share", s.source, f"{held:,} of {rows:,} {words}", measured, limit, "at most", status))
    return out


def volume_bound(rows: int | None, previous: int | None, limit: float | None, incremental: bool = False) -> BoundUse:
    """validation.min_volume_share: this run's visit rows in scope vs the last successful run's that
    read the visits whole (`incremental`: this run read them from their watermark, extracting what
    changed: not compared)."""
    key = "min_volume_share"
    if incremental:
        return BoundUse(key, "visits", "the visits were read from their watermark (only what changed); the volume check compares runs that read them whole",
                        None, limit, "at least", "not applicable")
    if previous is None:
        return BoundUse(key, "visits", "no earlier successful run to compare with", None, limit, "at least", "not applicable")
    if rows is None:
        return BoundUse(key, "visits", f"the run stopped before counting its visits (last successful run that read them whole: {previous:,})",
                        None, limit, "at least", "not reached")
    measured = rows / previous if previous else None
    if limit is None:
        status = "bound not recorded"
    else:
        status = "exceeded" if previous and rows < limit * previous else "within"
    return BoundUse(key, "visits", f"{rows:,} visit rows; the last successful run that read them whole had {previous:,}",
                    measured, limit, "at least", status)


def kept_ids_bounds(checks: list[CheckResult], limit: float | None) -> list[BoundUse]:
    """validation.min_volume_share per incremental source read whole because its settings (or the
    release's read rules) changed: the keys the last run kept that the whole read still holds (a
    rep's versions by valid_from; quarantined rows counted as held)."""
    out = []
    for c in checks:
        if c.expectation != "kept_ids_in_whole_read" or c.element_count is None or c.unexpected_count is None:
            continue
        found = c.element_count - c.unexpected_count
        entity = ENTITIES.get(c.suite)  # reps are kept by (rep_id, valid_from): the row names both
        by = ", ".join(entity.versions_by) if entity else c.column_name
        measured = found / c.element_count if c.element_count else None
        status = "bound not recorded" if limit is None else "exceeded" if c.element_count and found < limit * c.element_count else "within"
        out.append(BoundUse("min_volume_share", f"{c.suite} (read whole)",
                            f"{found:,} of the {c.element_count:,} keys the last run kept (by {by}) are still in the input",
                            measured, limit, "at least", status))
    return out


def reference_bounds(checks: list[CheckResult], limit: float | None, succeeded: bool) -> list[BoundUse]:
    """validation.max_unknown_reference_share per reference check: unknown ids / rows checked."""
    key = "max_unknown_reference_share"
    out = []
    for c in checks:
        if not c.expectation.endswith(("_in_accounts", "_in_reps")) or c.element_count is None or c.unexpected_count is None:
            continue
        parent = c.expectation.rsplit("_in_", 1)[1]
        measured = c.unexpected_count / c.element_count if c.element_count else 0.0
        status = "bound not recorded" if limit is None else "exceeded" if c.element_count and measured > limit else "within"
        out.append(BoundUse(key, f"{c.suite} → {parent} ({c.column_name})",
                            f"{c.unexpected_count:,} of {c.element_count:,} rows name an id the {parent} input does not list",
                            measured, limit, "at most", status))
    if not out:
        reason = ("no reference was checked (no accounts or reps input)" if succeeded
                  else "the run stopped before the references were checked")
        out.append(BoundUse(key, "references", reason, None, limit, "at most", "not applicable" if succeeded else "not reached"))
    return out
