"""Time the DuckDB warehouse build alone: ``WarehouseBuild`` enter → ``load`` → ``publish``.

    python bench/bench_warehouse_build.py --rows 1000000 [--rounds 3] [--storage-version latest]

Generates the benchmark inputs (bench/generate.py, reused when present), turns them into the frames
the flow hands to the publisher (newest version per visit, customer dates, classified visits) once,
then builds and swaps in a warehouse in bench/out/warehouse-build/ --rounds times after one warm-up.
Prints the median seconds of each phase, the file size and its storage version tag. No Prefect, no
GX: only the DuckDB part of a run, for comparing warehouse settings: --storage-version writes the
file in another DuckDB storage format than the project's (visitmix.duck.STORAGE_VERSION).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from generate import generate  # noqa: E402

from transforms import classify, customers  # noqa: E402
from visitmix.audit import RunRecord  # noqa: E402
from visitmix import duck  # noqa: E402
from visitmix.warehouse import WarehouseBuild  # noqa: E402


def _lineage(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.with_columns(source_file=pl.lit(name), source_row_number=pl.int_range(1, frame.height + 1, dtype=pl.Int64))


def frames_for(data: Path) -> dict[str, pl.DataFrame]:
    """The named frames ``WarehouseBuild.load`` reads, from a generated input set."""
    visits = (
        pl.read_parquet(data / "visits" / "*.parquet")
        .sort("updated_at")
        .unique("visit_id", keep="last", maintain_order=True)
        .drop("updated_at")
        .with_columns(deal_id=pl.lit(None, pl.String))
    )
    accounts = pl.read_parquet(data / "accounts.parquet").with_columns(rep_id=pl.lit(None, pl.String))
    deals = pl.read_parquet(data / "deals.parquet").with_columns(rep_id=pl.lit(None, pl.String))
    reps = pl.read_parquet(data / "reps.parquet").with_columns(valid_from=pl.lit(None, pl.Date), valid_to=pl.lit(None, pl.Date))
    customer = customers.customer_since(accounts.lazy(), deals.lazy()).collect()
    classified = classify.classify_visits(visits, customer, "Asia/Bangkok", 365).collect()
    return {
        "accounts_frame": _lineage(accounts, "accounts.parquet"),
        "deals_frame": _lineage(deals, "deals.parquet"),
        "reps_frame": _lineage(reps, "reps.parquet"),
        "customers_frame": customer,
        "classified_frame": classified,
        "visit_accounts_frame": pl.DataFrame({"account_id": []}, schema={"account_id": pl.String}),
        "visit_reps_frame": pl.DataFrame({"rep_id": []}, schema={"rep_id": pl.String}),
        "targets_frame": pl.DataFrame(
            {"team": [None], "valid_from": [None], "new_prospect_share": [0.2], "hot_prospect_share": [0.25], "existing_customer_share": [0.55]},
            schema={"team": pl.String, "valid_from": pl.Date, "new_prospect_share": pl.Float64,
                    "hot_prospect_share": pl.Float64, "existing_customer_share": pl.Float64},
        ),
        "settings_frame": pl.DataFrame({"fiscal_year_start_month": [1], "progression_window_days": [90], "win_window_days": [90]}),
    }


def build_once(live: Path, frames: dict[str, pl.DataFrame], run: int) -> dict[str, float]:
    """One build and swap; seconds per phase."""
    record = RunRecord.start(None, None, f"bench-{run}-{datetime.now(UTC):%H%M%S%f}")
    times = {}
    start = time.perf_counter()
    with WarehouseBuild(live, record.run_id) as build:
        times["enter"] = time.perf_counter() - start
        start = time.perf_counter()
        build.load(frames)
        times["load"] = time.perf_counter() - start
        start = time.perf_counter()
        build.publish(record.records("succeeded"))
        times["publish"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--storage-version", help=f"e.g. latest, v1.4.0; default {duck.STORAGE_VERSION}")
    args = parser.parse_args()
    if args.storage_version:
        duck.SETTINGS["storage_compatibility_version"] = args.storage_version
    data = BENCH / "out" / f"n{args.rows}"
    generate(args.rows, data)
    frames = frames_for(data)
    folder = BENCH / "out" / "warehouse-build"
    shutil.rmtree(folder, ignore_errors=True)
    live = folder / "visitmix.duckdb"
    build_once(live, frames, 0)  # warm-up
    rounds = [build_once(live, frames, run) for run in range(1, args.rounds + 1)]
    con = duck.connect(live, read_only=True)
    try:
        tag = con.execute("select tags['storage_version'] from duckdb_databases() where database_name = current_database()").fetchone()[0]
    finally:
        con.close()
    print(f"{frames['classified_frame'].height} visits, {args.rounds} rounds (medians):")
    for phase in ("enter", "load", "publish"):
        print(f"  {phase:<8} {statistics.median(r[phase] for r in rounds):6.2f} s   (all: {', '.join(f'{r[phase]:.2f}' for r in rounds)})")
    print(f"  file     {live.stat().st_size / 1e6:.1f} MB, storage version {tag}")


if __name__ == "__main__":
    main()
