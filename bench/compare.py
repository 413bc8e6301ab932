"""Compare two visitmix results: a DuckDB file (peer or product warehouse) or a Parquet folder.

    python bench/compare.py bench/out/peer_duckdb_1m.duckdb bench/out/peer_pandas_1m

A result is `fct_visit` and `visit_mix_monthly`: in a .duckdb file the tables of that name (the
`marts` schema's when there is one, so the product's warehouse compares as is, opened read-only); in
a folder `fct_visit.parquet` and `visit_mix_monthly.parquet`. Per visit_id the visit_type,
prior_visit_count and days_since_prior_visit must be equal (NULL equal to NULL), and so must
visit_date and customer_since when both sides have them; per (month, rep_id) the counts must be
equal and the shares within 1e-12. Exit code 0 when identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

VISIT_KEY = ["visit_id"]
VISIT_VALUES = ["visit_type", "prior_visit_count", "days_since_prior_visit"]
VISIT_OPTIONAL = ["visit_date", "customer_since"]
MIX_KEY = ["month", "rep_id"]
MIX_COUNTS = ["visits_total", "new_prospect_visits", "hot_prospect_visits", "existing_customer_visits"]
MIX_SHARES = ["new_prospect_share", "hot_prospect_share", "existing_customer_share"]
SHARE_TOLERANCE = 1e-12

_TYPES = {
    "visit_id": pl.String, "visit_type": pl.String, "prior_visit_count": pl.Int64,
    "days_since_prior_visit": pl.Int64, "visit_date": pl.Date, "customer_since": pl.Date,
    "month": pl.Date, "rep_id": pl.String, **{c: pl.Int64 for c in MIX_COUNTS}, **{c: pl.Float64 for c in MIX_SHARES},
}


@dataclass
class Result:
    fct_visit: pl.DataFrame
    visit_mix_monthly: pl.DataFrame
    source: str


@dataclass
class Comparison:
    a: str
    b: str
    problems: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.a}  vs  {self.b}: "
        return head + ("identical" if self.identical else "DIFFERENT\n  " + "\n  ".join(self.problems))


def _normalise(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(_TYPES[c]) for c in columns)


def _sources(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """How to read each table of the result at `path` in SQL (a Parquet file, or the `marts` table first)."""
    if path.is_dir():
        return {t: f"read_parquet('{path / f'{t}.parquet'}')" for t in ("fct_visit", "visit_mix_monthly")}
    found = {}
    for table in ("fct_visit", "visit_mix_monthly"):
        schemas = [
            r[0]
            for r in con.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = ? "
                "ORDER BY table_schema <> 'marts', table_schema",
                [table],
            ).fetchall()
        ]
        if not schemas:
            raise LookupError(f"{path}: no table {table}")
        found[table] = f'"{schemas[0]}"."{table}"'
    return found


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    config = {"autoinstall_known_extensions": False}
    return duckdb.connect(":memory:", config=config) if path.is_dir() else duckdb.connect(str(path), read_only=True, config=config)


def visit_rows(path: str | Path) -> int:
    """Rows of the result's fct_visit (to choose how many parts to compare it in)."""
    path = Path(path)
    con = _connect(path)
    try:
        return int(con.execute(f"SELECT count(*) FROM {_sources(con, path)['fct_visit']}").fetchone()[0])
    finally:
        con.close()


def load(path: str | Path, part: tuple[int, int] | None = None) -> Result:
    """fct_visit and visit_mix_monthly from a .duckdb file or a folder of Parquet files; with
    `part` = (i, k), only the visits whose DuckDB hash of visit_id is i modulo k (the same split on
    every side, so that a result too large for memory is compared part by part)."""
    path = Path(path)
    con = _connect(path)
    try:
        sources = _sources(con, path)
        names = set(con.sql(f"SELECT * FROM {sources['fct_visit']} LIMIT 0").columns)
        fct_columns = VISIT_KEY + VISIT_VALUES + [c for c in VISIT_OPTIONAL if c in names]
        where = f" WHERE hash(visit_id) % {part[1]} = {part[0]}" if part else ""
        fct = con.sql(f"SELECT {', '.join(fct_columns)} FROM {sources['fct_visit']}{where}").pl()
        mix = con.sql(f"SELECT * FROM {sources['visit_mix_monthly']}").pl()
    finally:
        con.close()
    return Result(_normalise(fct, fct_columns), _normalise(mix, MIX_KEY + MIX_COUNTS + MIX_SHARES), str(path))


def _keyed_diff(a: pl.DataFrame, b: pl.DataFrame, key: list[str], exact: list[str], close: list[str], what: str) -> list[str]:
    problems = []
    for name, frame in (("left", a), ("right", b)):
        dupes = frame.height - frame.select(key).unique().height
        if dupes:
            problems.append(f"{what}: {dupes} duplicated keys on the {name} side")
    a_keys = a.select(key).with_columns(_a=pl.lit(True))
    b_keys = b.select(key).with_columns(_b=pl.lit(True))
    presence = a_keys.join(b_keys, on=key, how="full", coalesce=True)
    for side, flag in (("left", "_b"), ("right", "_a")):
        missing = presence.filter(pl.col(flag).is_null())
        if missing.height:
            problems.append(f"{what}: {missing.height} keys only on the {side} side, e.g. {missing.select(key).head(3).rows()}")
    both = a.join(b, on=key, how="inner", suffix="_b")
    for column in exact:
        differ = both.filter(pl.col(column).ne_missing(pl.col(f"{column}_b")))
        if differ.height:
            sample = differ.select(key + [column, f"{column}_b"]).head(3).rows()
            problems.append(f"{what}.{column}: {differ.height} differences, e.g. {sample}")
    for column in close:
        left, right = pl.col(column), pl.col(f"{column}_b")
        differ = both.filter(
            (left.is_null() != right.is_null()) | ((left - right).abs() > SHARE_TOLERANCE).fill_null(False)
        )
        if differ.height:
            sample = differ.select(key + [column, f"{column}_b"]).head(3).rows()
            problems.append(f"{what}.{column}: {differ.height} differences beyond {SHARE_TOLERANCE}, e.g. {sample}")
    return problems


PART_ROWS = 10_000_000  # visits compared at once (about 1 GB per side)


def compare(a: str | Path | Result, b: str | Path | Result) -> Comparison:
    """Per visit and per (month, rep): see the module. Results given as paths are compared in parts
    of about PART_ROWS visits."""
    parts = 1 if isinstance(a, Result) or isinstance(b, Result) else max(1, -(-visit_rows(a) // PART_ROWS))
    result = None
    for index in range(parts):
        part = (index, parts) if parts > 1 else None
        ra = a if isinstance(a, Result) else load(a, part)
        rb = b if isinstance(b, Result) else load(b, part)
        result = result or Comparison(ra.source, rb.source)
        shared = [c for c in VISIT_OPTIONAL if c in ra.fct_visit.columns and c in rb.fct_visit.columns]
        result.problems += _keyed_diff(ra.fct_visit, rb.fct_visit, VISIT_KEY, VISIT_VALUES + shared, [], "fct_visit")
        if index == 0:
            result.problems += _keyed_diff(ra.visit_mix_monthly, rb.visit_mix_monthly, MIX_KEY, MIX_COUNTS, MIX_SHARES, "visit_mix_monthly")
        del ra, rb
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    args = parser.parse_args()
    outcome = compare(args.a, args.b)
    print(outcome)
    sys.exit(0 if outcome.identical else 1)


if __name__ == "__main__":
    main()
