"""Re-delivered rows: when the same key arrives more than once, the newest version wins.

Rule (issues #3 and #4): among rows sharing a key, the newest is the one with the latest
``updated_at`` (when the source maps one; NULL counts as oldest), then the one from the file
whose path (relative to the config) sorts last (monthly exports ``2025-01/visits.csv``,
``2025-02/visits.csv``…). Older versions are dropped as superseded. Rows that tie on both stay,
so the uniqueness check quarantines them: nothing is decided by row order inside a file.

Cost: linear in the rows. Only keys that occur more than once need a decision, and those are
found with :func:`repeated` (a sort of 64-bit hashes, then an exact check of the candidates);
the decision itself runs on those rows only.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import SOURCE_FILE

_SEED = 0x7E45


def repeated(values: pl.Series) -> pl.Series:
    """Boolean mask: True where the (non-NULL) value occurs more than once — every copy.

    Exact, and much cheaper than ``is_duplicated`` on text: hashes are sorted to find candidate
    values, and only the candidates' values are compared exactly. NULLs are never repeated.
    """
    hashes = values.hash(_SEED)
    ordered = hashes.sort(multithreaded=True)
    candidates = ordered.filter(ordered == ordered.shift(1)).unique()
    if candidates.is_empty():
        return pl.zeros(len(values), dtype=pl.Boolean, eager=True).alias(values.name)
    maybe = hashes.is_in(candidates.implode()) & values.is_not_null()
    positions = maybe.arg_true()
    if positions.is_empty():
        return maybe
    exact = values.gather(positions).is_duplicated()  # equal hashes, unequal values: not repeated
    return maybe.scatter(positions, exact)


def replaced_by(column: str) -> str:
    """The column :func:`newest_versions` adds to the superseded rows with the newest version's `column`
    (one per column of `compare`)."""
    return f"__newest_{column}"


def newest_versions(
    frame: pl.DataFrame, key: str | list[str], delivery: str | None = None, compare: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split `frame` into (kept rows, superseded rows); both keep `frame`'s columns and order.

    In: a canonical frame with the `key` column(s) (a version of a rep is rep and ``valid_from``),
    ``updated_at`` (Datetime UTC, may be all NULL) and ``source_file`` (String). Rows whose key
    is NULL are always kept (validation reports them). `delivery`: an optional integer column
    numbering deliveries (an incremental run's stored rows 0, its batch 1): a later delivery
    counts as a later file, before the file order. `compare`: columns (``account_id``, ``deal_id``)
    whose values in the newest version the superseded rows then carry as ``replaced_by(column)``
    (of the first newest row in frame order, where two newest rows tie), computed on the repeated
    keys' rows only.
    """
    keys = [key] if isinstance(key, str) else list(key)
    if len(keys) == 1:
        values = frame.get_column(keys[0])
    else:  # NULL in a later key column is a value (a rep's row without history); in the first, no key
        values = frame.select(pl.when(pl.col(keys[0]).is_not_null()).then(pl.struct(keys))).to_series()
    multi = repeated(values)
    if not multi.any():
        superseded = frame.clear().with_columns(pl.col(c).alias(replaced_by(c)) for c in compare)
        return frame, superseded
    # file order is global (a file's rank among all files), then the decision among the repeats only
    file_rank = pl.col(SOURCE_FILE).rank("dense").cast(pl.Int64)
    if delivery is not None:
        file_rank = pl.col(delivery).cast(pl.Int64) * (frame.height + 1) + file_rank
    ranked = frame.with_columns(__file=file_rank, __multi=multi)
    contested = ranked.filter(pl.col("__multi")).with_row_index("__row").with_columns(
        __time=pl.col("updated_at").dt.epoch("us").fill_null(pl.lit(-(2**62), dtype=pl.Int64)),
    )
    # each window on materialised columns, one per step: nested windows are quadratic in Polars
    contested = contested.with_columns(__latest=pl.col("__time").max().over(keys))
    contested = contested.with_columns(__candidate=pl.when(pl.col("__time") == pl.col("__latest")).then(pl.col("__file")))
    contested = contested.with_columns(__last_file=pl.col("__candidate").max().over(keys))
    loses = (pl.col("__time") != pl.col("__latest")) | (pl.col("__file") != pl.col("__last_file"))
    losing = contested.filter(loses)
    positions = ranked.get_column("__multi").arg_true().gather(losing.get_column("__row"))
    superseded_mask = pl.zeros(frame.height, dtype=pl.Boolean, eager=True).scatter(positions, True)
    superseded = frame.filter(superseded_mask)  # in frame order, as `losing`
    if compare:
        winners = contested.filter(~loses).unique(keys, keep="first", maintain_order=True)
        newest_values = losing.select(keys).join(
            winners.select(*keys, *(pl.col(c).alias(replaced_by(c)) for c in compare)), on=keys, how="left", nulls_equal=True,
            maintain_order="left",
        ).drop(keys)
        superseded = superseded.with_columns(newest_values.get_columns())
    return frame.filter(~superseded_mask), superseded
