"""Re-delivered rows: when the same key arrives more than once, the newest version wins.

Rule (issues #3 and #4): among rows sharing a key, the newest is the one with the latest
``updated_at`` (when the source maps one; NULL counts as oldest), then the one from the file
that sorts last by name (monthly exports ``visits_2025-01.csv``, ``visits_2025-02.csv``…).
Older versions are dropped as superseded. Rows that tie on both stay, so the uniqueness check
quarantines them: nothing is decided by row order inside a file.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import SOURCE_FILE


def newest_versions(frame: pl.LazyFrame, key: str) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split `frame` into (kept rows, superseded rows); both keep `frame`'s columns and order.

    In: a canonical frame with `key` (String), ``updated_at`` (Datetime UTC, may be all NULL)
    and ``source_file`` (String). Rows with a NULL key are always kept (validation reports them).
    """
    # materialised first: inside .over() an expression like rank() would be computed per group
    ranked = frame.with_columns(
        __time=pl.col("updated_at").dt.epoch("us").fill_null(pl.lit(-(2**62), dtype=pl.Int64)),
        __file=pl.col(SOURCE_FILE).rank("dense"),
    )
    latest_time = pl.col("__time") == pl.col("__time").max().over(key)
    latest_file = pl.col("__file") == pl.when(latest_time).then(pl.col("__file")).max().over(key)
    flagged = ranked.with_columns(__keep=pl.col(key).is_null() | (latest_time & latest_file)).drop("__time", "__file")
    kept = flagged.filter(pl.col("__keep")).drop("__keep")
    superseded = flagged.filter(~pl.col("__keep")).drop("__keep")
    return kept, superseded
