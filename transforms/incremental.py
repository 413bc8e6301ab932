"""Incremental runs: a batch of changed rows joins the rows kept from earlier runs, and only the
accounts the batch touched are classified again.

Rules (issue #12):

* **Cursor.** A source in ``mode = "incremental"`` extracts the rows whose ``updated_at`` is at or
  after its watermark — the latest ``updated_at`` among the rows kept so far — plus every row
  without an ``updated_at`` (it cannot be placed, so it is read every time). "At or after": a row
  written in the same instant as the watermark but delivered later is not lost; the copy already
  kept is replaced by the identical new one.
* **Merge.** The batch joins the kept rows under the newest-version rule of
  :mod:`transforms.versions`; the batch counts as the later delivery, so a re-delivered id replaces
  its kept version unless the kept one has a later ``updated_at``. What is kept is the newest
  version of every key *before* the row checks, so a later bad version holds the key back exactly
  as a full run over all deliveries would, and a fixed version releases it.
* **Re-classification.** An account is touched when any of its visit rows (as the rules read them)
  is new, changed or gone, or its ``customer_since`` changed (a deal won after the fact, an account
  edit). All visits of touched accounts are classified again; every other account keeps its rows
  exactly: the rule of :mod:`transforms.classify` reads one account's own history only.

Splitting the deliveries into batches therefore gives the same visits and types as one full run
over all of them, as long as later deliveries carry later ``updated_at`` (the cursor's contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl

from transforms import classify, versions

DELIVERY = "__delivery"  # 0: kept from earlier runs, 1: this run's batch


def since_watermark(frame: pl.DataFrame, watermark: datetime | None) -> tuple[pl.DataFrame, int]:
    """(The rows to extract, the number left out as older than the watermark).

    In: a canonical frame with ``updated_at`` (Datetime UTC). `watermark`: aware datetime, or None
    (nothing kept yet: every row). Rows without ``updated_at`` are always extracted.
    """
    if watermark is None:
        return frame, 0
    keep = pl.col("updated_at").is_null() | (pl.col("updated_at") >= pl.lit(watermark).dt.convert_time_zone("UTC"))
    batch = frame.filter(keep)
    return batch, frame.height - batch.height


def unseen_before_watermark(frame: pl.DataFrame, watermark: datetime | None, kept: pl.DataFrame | None, key: list[str]) -> int:
    """How many of the rows :func:`since_watermark` leaves out carry a `key` no earlier run kept.

    Such a row is new although its ``updated_at`` is older than the watermark: the source broke the
    cursor's contract (every change sets ``updated_at``), and the row stays out of the marts until a
    run reads the source whole (``--full-refresh``). A full run over the same deliveries would hold it,
    so the caller warns. In: `frame` as :func:`since_watermark` takes it; `kept`, the rows kept from
    earlier runs with the `key` columns (None: nothing kept, then every row is extracted). Out: a row
    count (repeated keys count once per row). Linear: one hash anti-join.
    """
    if watermark is None or kept is None:
        return 0
    before = pl.col("updated_at") < pl.lit(watermark).dt.convert_time_zone("UTC")
    older = frame.filter(before & pl.col(key[0]).is_not_null()).select(key)  # a row without its id is no new row
    if older.height == 0:
        return 0
    return older.join(kept.select(key).cast(older.schema).unique(), on=key, how="anti", nulls_equal=True).height


def watermark_of(frame: pl.DataFrame, until: datetime | None = None) -> datetime | None:
    """The latest ``updated_at`` of `frame` (aware, UTC) at or before `until`, None when it has none.

    `until` (aware, the run's start): a row "changed" after the run started carries a wrong clock; if
    it set the watermark, every row changed later but before that time would never be extracted. It
    is left out, so it is extracted again by every run until its time has passed.
    """
    if not frame.height:
        return None
    stamps = pl.col("updated_at")
    if until is not None:
        stamps = stamps.filter(stamps <= pl.lit(until).dt.convert_time_zone("UTC"))
    return frame.select(stamps.max()).item()


def merge_batch(
    kept: pl.DataFrame | None, batch: pl.DataFrame, key: list[str], compare: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Newest version per `key` over the kept rows and the batch (the batch is the later delivery).

    In: `kept` (rows kept from earlier runs, or None) and `batch`, canonical frames with the same
    columns incl. ``updated_at`` and ``source_file``. Out: (the newest rows — to keep for the next run
    and to check now —, the rows they replaced, a Boolean mask over the newest rows: True for rows of
    this batch). `compare`: as for :func:`transforms.versions.newest_versions`.
    """
    if kept is None or kept.height == 0:
        newest, superseded = versions.newest_versions(batch, key, compare=compare)
        return newest, superseded, pl.Series("from_batch", [True] * newest.height, dtype=pl.Boolean)
    both = pl.concat(
        [kept.select(batch.columns).cast(batch.schema).with_columns(pl.lit(0, pl.Int8).alias(DELIVERY)),
         batch.with_columns(pl.lit(1, pl.Int8).alias(DELIVERY))],
        how="vertical",
    )
    newest, superseded = versions.newest_versions(both, key, delivery=DELIVERY, compare=compare)
    return newest.drop(DELIVERY), superseded.drop(DELIVERY), newest.get_column(DELIVERY).cast(pl.Boolean).alias("from_batch")


def touched_accounts(
    previous: pl.DataFrame, visits: pl.DataFrame, previous_customers: pl.DataFrame, customers: pl.DataFrame
) -> pl.Series:
    """Accounts whose classification may have changed since `previous` was classified.

    In: `previous`, the visits classified by the last run (at least the columns of `visits`);
    `visits`, the visits to classify now (as :func:`transforms.classify.classify_visits` takes them);
    both customers frames as :func:`transforms.customers.customer_since` returns them. Out: the
    distinct ``account_id`` (String) of every visit row that is new, changed or gone, and of every
    account whose ``customer_since`` is new, changed or gone. Exact: rows are compared on every
    column (NULL equal to NULL), not on a hash.
    """
    columns = visits.columns
    earlier = previous.select(columns).cast(visits.schema)
    new_or_changed = visits.join(earlier, on=columns, how="anti", nulls_equal=True).select("account_id")
    gone_or_changed = earlier.join(visits, on=columns, how="anti", nulls_equal=True).select("account_id")
    customer_columns = ["account_id", "customer_since"]
    old_customers = previous_customers.select(customer_columns).cast(customers.schema)
    changed_customers = pl.concat(
        [
            customers.select(customer_columns).join(old_customers, on=customer_columns, how="anti", nulls_equal=True),
            old_customers.join(customers.select(customer_columns), on=customer_columns, how="anti", nulls_equal=True),
        ]
    ).select("account_id")
    return pl.concat([new_or_changed, gone_or_changed, changed_customers]).get_column("account_id").unique().sort()


def reclassify(
    previous: pl.DataFrame,
    visits: pl.DataFrame,
    customers: pl.DataFrame,
    touched: pl.Series,
    timezone: str,
    reengage_after_days: int | None,
    reported_type_map: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The classified visits of this run: `previous` rows of untouched accounts as they are, and
    every visit of a touched account classified again (rule: :mod:`transforms.classify`).

    In: `previous` as :func:`transforms.classify.classify_visits` returned it last run; `visits` and
    `customers` as it takes them; `touched` from :func:`touched_accounts`. Out: the columns of
    ``classify_visits``' output, one row per row of `visits` (row order is not meaningful).
    """
    again = visits.filter(pl.col("account_id").is_in(touched.implode()))
    fresh = classify.classify_visits(again, customers, timezone, reengage_after_days, reported_type_map).collect()
    unchanged = previous.filter(~pl.col("account_id").is_in(touched.implode()))
    return pl.concat([unchanged.select(fresh.columns).cast(fresh.schema), fresh], how="vertical")
