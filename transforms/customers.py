"""When an account became a customer.

Rule (issue #2): ``customer_since`` = the earlier of ``accounts.customer_since`` and the earliest
``close_date`` of the account's won deals; NULL if neither exists. A won deal without a close date
cannot date the win and is ignored here (the deals suite reports it).
"""

from __future__ import annotations

import polars as pl


def customer_since(accounts: pl.LazyFrame, deals: pl.LazyFrame) -> pl.LazyFrame:
    """One row per account known to either input that has a customer-since date.

    In: `accounts` with ``account_id`` (String) and ``customer_since`` (Date); `deals` with
    ``account_id`` (String), ``is_won`` (Boolean) and ``close_date`` (Date).
    Out: ``account_id`` (String, unique), ``customer_since`` (Date, never NULL).
    """
    declared = accounts.select("account_id", "customer_since")
    won = deals.filter(pl.col("is_won").fill_null(False)).select(
        "account_id", pl.col("close_date").alias("customer_since")
    )
    return (
        pl.concat([declared, won])
        .filter(pl.col("account_id").is_not_null() & pl.col("customer_since").is_not_null())
        .group_by("account_id")
        .agg(pl.col("customer_since").min())
    )
