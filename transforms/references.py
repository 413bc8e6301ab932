"""Broken references between inputs (a visit's account or rep missing from its input).

Broken references are warnings (issue #2): the visit is still classified — an account nobody
listed has no deals, so its visits are prospect visits.
"""

from __future__ import annotations

import polars as pl

from transforms.canonical import whole_float_id
from transforms.schema import BLANKS


def lookup_key(column: str) -> pl.Expr:
    """A lookup's join key as text, read as an id is (:func:`transforms.canonical.to_canonical`):
    Unicode spaces and zero-width characters cut from both ends, blank = NULL (joins nothing). So
    ``"A001\ufeff"`` in the lookup file matches ``"A001 "`` in the source: both are account A001, and
    a float column's ``1001.0`` matches ``1001`` (:data:`transforms.schema.WHOLE_FLOAT_ID`)."""
    text = pl.col(column).cast(pl.String).str.strip_chars(BLANKS)
    text = whole_float_id(text)  # 1001.0 is 1001
    return pl.when(text != "").then(text)


def dangling(child: pl.LazyFrame, column: str, parent: pl.LazyFrame, parent_key: str) -> pl.LazyFrame:
    """Rows of `child` whose non-NULL `column` value is not a `parent_key` of `parent`.

    In: any frames holding the named String columns. Out: the offending `child` rows, unchanged.
    """
    keys = parent.select(pl.col(parent_key).alias(column)).unique()
    return child.filter(pl.col(column).is_not_null()).join(keys, on=column, how="anti")


def take_from_deal(visits: pl.LazyFrame, deals: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Fill visit `columns` (e.g. ``account_id``, ``rep_id``) from the visit's linked deal.

    A value the visit row has itself wins; otherwise the deal's value is used (Salesforce-style
    events that reach account and owner through their opportunity). In: `visits` with
    ``deal_id``; `deals` with unique ``deal_id`` and the named columns. Out: `visits`' columns,
    same rows and order.
    """
    if not columns:
        return visits
    linked = deals.select("deal_id", *[pl.col(c).alias(f"_deal_{c}") for c in columns]).unique("deal_id")
    return (
        visits.join(linked, on="deal_id", how="left", maintain_order="left")
        .with_columns([pl.coalesce(pl.col(c), pl.col(f"_deal_{c}")).alias(c) for c in columns])
        .drop([f"_deal_{c}" for c in columns])
    )


def attach_lookup(frame: pl.LazyFrame, lookup: pl.LazyFrame, on: str, lookup_on: str, take: list[str]) -> pl.LazyFrame:
    """Add the `take` columns of `lookup` to `frame`'s rows by key (a left join; rows keep their order).

    Keys match as read (:func:`lookup_key`). A key with several lookup rows takes, per column, the
    smallest value (so the result never depends on row order); a key with none gets NULLs.
    In/out: `frame`'s columns plus `take`.
    """
    key = "__lookup_key"  # keys compare as text, whatever type each file gives them
    per_key = (
        lookup.select(lookup_key(lookup_on).alias(key), *take)
        .filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg([pl.col(c).min() for c in take])
    )
    return (
        frame.with_columns(lookup_key(on).alias(key))
        .join(per_key, on=key, how="left", maintain_order="left")
        .drop(key)
    )


def ambiguous_lookup_keys(lookup: pl.LazyFrame, lookup_on: str, take: list[str]) -> pl.LazyFrame:
    """Keys of `lookup` whose rows disagree on any `take` column (one row per key: ``key``)."""
    return (
        lookup.filter(lookup_key(lookup_on).is_not_null())
        .group_by(lookup_key(lookup_on).alias("key"))
        .agg([pl.col(c).n_unique().alias(c) for c in take])
        .filter(pl.any_horizontal([pl.col(c) > 1 for c in take]))
        .select("key")
    )
