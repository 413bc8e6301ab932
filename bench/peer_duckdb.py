"""Reference peer: visitmix's classification and monthly mix as plain DuckDB SQL (bench/peer_duckdb.sql).

    python bench/peer_duckdb.py --data bench/out/n1000000 --out bench/out/peer_duckdb.duckdb

Reads the generator's Parquet inputs (visits/*.parquet, accounts.parquet, deals.parquet) and writes
a fresh DuckDB file with the tables fct_visit and visit_mix_monthly. No quarantine, no validation:
the inputs are assumed valid. Only the built-in extensions are used (icu for the time zone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

SQL = Path(__file__).with_name("peer_duckdb.sql")


def run(data: Path, out: Path, timezone: str = "Asia/Bangkok", reengage_after_days: int | None = 365) -> None:
    data = Path(data).resolve()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in (out, out.with_name(out.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(
        str(out),
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
            "preserve_insertion_order": False,  # row order of the tables is not part of the result
        },
    )
    try:
        con.execute("SET enable_progress_bar = false")
        for name, value in {
            "visits_path": str(data / "visits" / "*.parquet"),
            "accounts_path": str(data / "accounts.parquet"),
            "deals_path": str(data / "deals.parquet"),
            "timezone": timezone,
        }.items():
            con.execute(f"SET VARIABLE {name} = ?", [value])
        con.execute("SET VARIABLE reengage_after_days = ?::INTEGER", [reengage_after_days])
        con.execute(SQL.read_text())
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by bench/generate.py")
    parser.add_argument("--out", type=Path, required=True, help="DuckDB file to (re)create")
    parser.add_argument("--timezone", default="Asia/Bangkok")
    parser.add_argument("--reengage-after-days", type=int, default=365, help="negative: not set")
    args = parser.parse_args()
    start = time.perf_counter()
    days = args.reengage_after_days if args.reengage_after_days >= 0 else None
    run(args.data, args.out, args.timezone, days)
    print(f"peer_duckdb: {args.out} in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
