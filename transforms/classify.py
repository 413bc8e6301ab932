"""The visit-type rule: New Prospect, Hot Prospect or Existing Customer, from the account's history.

Rule (issue #2, the one place it lives):

* Only ``completed`` visits are classified; other visits get ``visit_type`` NULL and never count
  as prior visits.
* ``visit_date`` is the local calendar date of ``visit_start`` in the configured time zone.
* **existing_customer** when ``customer_since < visit_date`` (strictly: a visit on the closing day
  is still a prospect visit).
* otherwise **new_prospect** when the account has no earlier completed visit, or when
  ``reengage_after_days`` is set and the latest earlier completed visit's ``visit_date`` is more
  than that many days before this visit's ``visit_date``;
* otherwise **hot_prospect**.
* "Earlier" orders an account's visits by the instant ``visit_start``, ties broken by
  ``visit_id`` in plain (code point) string order, so file row order never matters.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import (
    COMPLETED,
    EXISTING_CUSTOMER,
    HOT_PROSPECT,
    NEW_PROSPECT,
    REPORTED_TYPE_SPELLINGS,
    VISIT_TYPE_LABELS,
)


def local_date(instant: pl.Expr, timezone: str) -> pl.Expr:
    """UTC instant → calendar date in `timezone` (IANA name)."""
    return instant.dt.convert_time_zone(timezone).dt.date()


def normalise_reported_type(raw: pl.Expr) -> pl.Expr:
    """A rep's own label → a visit type, or NULL when the label is not one we know."""
    t = (
        raw.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"\s+visit$", "")
        .str.replace_all(r"[\s\-]+", "_")
    )
    return t.replace_strict(REPORTED_TYPE_SPELLINGS, default=None, return_dtype=pl.String)


def classify_visits(
    visits: pl.LazyFrame,
    customers: pl.LazyFrame,
    timezone: str,
    reengage_after_days: int | None,
) -> pl.LazyFrame:
    """Classify every visit from its account's history as of the visit date.

    In: `visits` with ``visit_id``, ``account_id`` (String, never NULL here: visits without an
    account are quarantined before), ``visit_start`` (Datetime UTC), ``status`` (String, one of
    the known statuses), ``reported_type`` (String) and any other columns, which pass through;
    `customers` as returned by :func:`transforms.customers.customer_since`.

    Out: the visit columns plus ``visit_date`` (Date, local in `timezone`), ``customer_since``
    (Date), ``prior_visit_count`` (UInt32: completed visits of the account strictly earlier in
    the order above), ``prior_visit_date`` (Date: the latest of those), ``days_since_prior_visit``
    (Int64 days between the two dates, NULL without a prior visit), ``visit_type`` (String or
    NULL), ``visit_type_label`` (String or NULL) and ``is_reported_type_mismatch`` (Boolean:
    NULL unless both the rep's label and our type are present; a label we cannot read counts as
    a mismatch). Row order of the output is by account, ``visit_start``, ``visit_id``.
    """
    is_completed = pl.col("status") == COMPLETED
    completed_date = pl.when(is_completed).then(pl.col("visit_date"))
    ordered = (
        visits.with_columns(visit_date=local_date(pl.col("visit_start"), timezone))
        .join(customers, on="account_id", how="left")
        .sort(["account_id", "visit_start", "visit_id"])
        .with_columns(
            prior_visit_count=(is_completed.cast(pl.UInt32).cum_sum() - is_completed.cast(pl.UInt32)).over(
                "account_id"
            ),
            prior_visit_date=completed_date.shift(1).forward_fill().over("account_id"),
        )
        .with_columns(
            days_since_prior_visit=(pl.col("visit_date") - pl.col("prior_visit_date")).dt.total_days(),
        )
    )
    is_existing = pl.col("customer_since") < pl.col("visit_date")
    is_new = pl.col("prior_visit_count") == 0
    if reengage_after_days is not None:
        is_new = is_new | (pl.col("days_since_prior_visit") > reengage_after_days)
    visit_type = (
        pl.when(~is_completed)
        .then(None)
        .when(is_existing.fill_null(False))
        .then(pl.lit(EXISTING_CUSTOMER))
        .when(is_new)
        .then(pl.lit(NEW_PROSPECT))
        .otherwise(pl.lit(HOT_PROSPECT))
    )
    reported = normalise_reported_type(pl.col("reported_type"))
    return ordered.with_columns(visit_type=visit_type).with_columns(
        visit_type_label=pl.col("visit_type").replace_strict(VISIT_TYPE_LABELS, default=None, return_dtype=pl.String),
        is_reported_type_mismatch=pl.when(pl.col("reported_type").is_not_null() & pl.col("visit_type").is_not_null())
        .then(reported.is_null() | (reported != pl.col("visit_type")))
        .otherwise(None),
    )
