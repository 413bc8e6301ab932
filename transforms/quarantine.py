"""Split rows flagged by row-level checks off into quarantine, keeping the raw source row.

Rows are identified by their lineage pair (``source_file``, ``source_row_number``), which is
unique within one source.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import SOURCE_FILE, SOURCE_ROW

LINEAGE = [SOURCE_FILE, SOURCE_ROW]


def first_reason(flags: pl.LazyFrame) -> pl.LazyFrame:
    """Reduce row-level check failures to one reason per row (the first check in suite order).

    In: ``source_file`` (String), ``source_row_number`` (Int64), ``check_order`` (Int64),
    ``reason`` (String); a row may appear once per failed check.
    Out: one row per (``source_file``, ``source_row_number``) with its first ``reason``.
    """
    return flags.sort([*LINEAGE, "check_order"]).group_by(LINEAGE, maintain_order=True).agg(pl.col("reason").first())


def accepted_rows(frame: pl.LazyFrame, flagged: pl.LazyFrame) -> pl.LazyFrame:
    """The rows of `frame` that no row-level check flagged (same columns as `frame`)."""
    return frame.join(flagged.select(LINEAGE), on=LINEAGE, how="anti")


def _as_json_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """Scalars as text; nested values (lists, structs) as JSON; bytes as hex."""
    if dtype.is_nested():
        return pl.col(name)
    if dtype == pl.Binary:
        return pl.col(name).bin.encode("hex")
    return pl.col(name).cast(pl.String)


def quarantined_rows(raw: pl.LazyFrame, flagged: pl.LazyFrame) -> pl.LazyFrame:
    """The raw source rows that were flagged, ready for ``audit.quarantine``.

    In: `raw`, the source frame as read (source column names, lineage columns); `flagged` from
    :func:`first_reason`. Out: ``source_file`` (String), ``row_number`` (Int64), ``raw_row``
    (String: a JSON object of the row's source columns as text, in file column order),
    ``reason`` (String), ordered by file and row.
    """
    schema = raw.collect_schema()
    source_cols = [c for c in schema.names() if c not in LINEAGE]
    as_text = raw.select(
        *LINEAGE[:1],
        pl.col(SOURCE_ROW).cast(pl.Int64),
        pl.struct([_as_json_value(c, schema[c]) for c in source_cols]).struct.json_encode().alias("raw_row"),
    )
    return (
        flagged.join(as_text, on=LINEAGE, how="left")
        .select(SOURCE_FILE, pl.col(SOURCE_ROW).alias("row_number"), "raw_row", "reason")
        .sort([SOURCE_FILE, "row_number"])
    )
