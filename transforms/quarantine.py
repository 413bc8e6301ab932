"""Rows flagged by row-level checks, as they were in the source, for ``audit.quarantine``.

Rows are identified by their lineage pair (``source_file``, ``source_row_number``), which is
unique within one source.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import LINEAGE_COLUMNS, SOURCE_FILE, SOURCE_ROW

LINEAGE = [SOURCE_FILE, SOURCE_ROW]


def empty_quarantine() -> pl.DataFrame:
    """A zero-row frame shaped like :func:`quarantined_rows`' output."""
    return pl.DataFrame(schema={SOURCE_FILE: pl.String, "row_number": pl.Int64, "raw_row": pl.String, "reason": pl.String})


def _as_json_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """Scalars as text; nested values (lists, structs) as JSON; bytes as hex."""
    if dtype.is_nested():
        return pl.col(name)
    if dtype == pl.Binary:
        return pl.col(name).bin.encode("hex")
    return pl.col(name).cast(pl.String)


def quarantined_rows(raw: pl.LazyFrame, flagged: pl.LazyFrame) -> pl.LazyFrame:
    """The raw source rows that were flagged, ready for ``audit.quarantine``.

    In: `raw`, the source frame as read (source column names, lineage columns); `flagged` with
    ``source_file``, ``source_row_number`` and ``reason``, one row per flagged row. Out:
    ``source_file`` (String), ``row_number`` (Int64), ``raw_row`` (String: a JSON object of the
    row's source columns as text, in file column order), ``reason`` (String), ordered by file and
    row. Only the flagged rows are encoded (a semi-join first), so the cost follows the flagged rows.
    """
    schema = raw.collect_schema()
    source_cols = [c for c in schema.names() if c not in LINEAGE_COLUMNS]
    rows = raw.join(flagged.select(LINEAGE), on=LINEAGE, how="semi")
    as_text = rows.select(
        *LINEAGE[:1],
        pl.col(SOURCE_ROW).cast(pl.Int64),
        pl.struct([_as_json_value(c, schema[c]) for c in source_cols]).struct.json_encode().alias("raw_row"),
    )
    return (
        flagged.join(as_text, on=LINEAGE, how="left")
        .select(SOURCE_FILE, pl.col(SOURCE_ROW).alias("row_number"), "raw_row", "reason")
        .sort([SOURCE_FILE, "row_number"])
    )
