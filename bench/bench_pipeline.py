"""Time each step of the main job on generated data (not a test: numbers, not assertions).

    python bench/bench_pipeline.py --rows 1000000 [--format parquet|csv] [--flow]

Generates visits/accounts/deals/reps under bench/out/ with Polars expressions (seeded), then times
read → canonicalise → validate (GX) → quarantine split → classify → publish (DuckDB build + swap),
calling the same functions the flow's tasks call. `--flow` also times one whole Prefect flow run.
Prints one line per step with seconds and share of the total, so validation's share is visible.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
TIMINGS: list[tuple[str, float]] = []


@contextmanager
def timed(step: str):
    start = time.perf_counter()
    yield
    TIMINGS.append((step, time.perf_counter() - start))
    print(f"  {step:<28}{TIMINGS[-1][1]:8.2f} s", flush=True)


def generate(rows: int, fmt: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    accounts = max(rows // 20, 10)
    reps = max(rows // 2000, 3)
    start = datetime(2024, 1, 1)
    i = pl.int_range(0, rows, eager=True)
    visits = pl.DataFrame({"i": i}).select(
        visit_id=pl.format("V{}", pl.col("i")),
        rep_id=pl.format("R{}", (pl.col("i").hash(1) % reps)),
        account_id=pl.format("A{}", (pl.col("i").hash(2) % accounts)),
        visit_start=(pl.lit(start) + pl.duration(minutes=(pl.col("i").hash(3) % (730 * 24 * 60)).cast(pl.Int64))).dt.strftime("%Y-%m-%d %H:%M"),
        status=pl.when(pl.col("i").hash(4) % 10 == 0).then(pl.lit("Canceled")).otherwise(pl.lit("Held")),
    )
    a = pl.int_range(0, accounts, eager=True)
    accounts_df = pl.DataFrame({"i": a}).select(
        account_id=pl.format("A{}", pl.col("i")), account_name=pl.format("Account {}", pl.col("i")),
    )
    deals_df = pl.DataFrame({"i": a}).select(
        deal_id=pl.format("D{}", pl.col("i")),
        account_id=pl.format("A{}", pl.col("i")),
        is_won=(pl.col("i").hash(5) % 3 == 0),
        close_date=(pl.lit(start.date()) + pl.duration(days=(pl.col("i").hash(6) % 730).cast(pl.Int64))).dt.strftime("%Y-%m-%d"),
    ).with_columns(pl.col("is_won").cast(pl.String))
    reps_df = pl.DataFrame({"rep_id": [f"R{r}" for r in range(reps)], "team": [f"T{r % 3}" for r in range(reps)]})
    for name, frame in (("visits", visits), ("accounts", accounts_df), ("deals", deals_df), ("reps", reps_df)):
        if fmt == "csv":
            frame.write_csv(OUT / f"{name}.csv")
        else:
            frame.write_parquet(OUT / f"{name}.parquet")
    config = OUT / "bench.toml"
    config.write_text(
        '[warehouse]\npath = "warehouse/bench.duckdb"\n[classification]\ntimezone = "Asia/Bangkok"\nreengage_after_days = 365\n'
        + "".join(f'[sources.{n}]\npath = "{n}.{fmt}"\n' for n in ("visits", "accounts", "deals", "reps"))
    )
    return config


def run_steps(config_path: Path) -> None:
    from transforms import canonical, classify, customers, quarantine
    from transforms.schema import ENTITIES
    from visitmix.audit import RunRecord
    from visitmix.config import load_config
    from visitmix.dq import suite_parameters, validate_frame
    from visitmix.sources import read_source
    from visitmix.warehouse import WarehouseBuild

    config = load_config(config_path)
    tz = config.classification.timezone
    record = RunRecord.start(config_path, None)
    accepted = {}
    parameters = suite_parameters(tz, datetime.now(UTC))
    for name in ("reps", "accounts", "deals", "visits"):
        source = getattr(config.sources, name)
        with timed(f"read {name}"):
            raw = read_source(name, source)
        with timed(f"canonicalise {name}"):
            frame = canonical.to_canonical(
                raw.frame.lazy(), ENTITIES[name], source.columns, source.expressions, canonical.ParseOptions(tz)
            ).collect()
        with timed(f"validate {name} (GX)"):
            result = validate_frame(frame, name, parameters)
        with timed(f"quarantine split {name}"):
            flagged = quarantine.first_reason(result.flags.lazy())
            accepted[name] = quarantine.accepted_rows(frame.lazy(), flagged).collect()
        record.outcomes.extend(result.outcomes)
    with timed("classify"):
        customer = customers.customer_since(accepted["accounts"].lazy(), accepted["deals"].lazy())
        classified, customer_df = pl.collect_all(
            [classify.classify_visits(accepted["visits"].lazy(), customer, tz, config.classification.reengage_after_days), customer]
        )
    target = pl.DataFrame({"new_prospect_share": [0.2], "hot_prospect_share": [0.25], "existing_customer_share": [0.55]})
    frames = {
        "visits_frame": accepted["visits"], "accounts_frame": accepted["accounts"], "deals_frame": accepted["deals"],
        "reps_frame": accepted["reps"], "classified_frame": classified, "customers_frame": customer_df, "target_mix_frame": target,
    }
    with timed("publish (DuckDB build+swap)"), WarehouseBuild(config.warehouse.path, record.run_id) as build:
        build.load(frames)
        build.publish(record.records("succeeded"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--flow", action="store_true", help="also time one whole Prefect flow run")
    args = parser.parse_args()
    print(f"visitmix bench: {args.rows:,} visits, {args.format}", flush=True)
    with timed("generate inputs"):
        config = generate(args.rows, args.format)
    TIMINGS.clear()
    with timed("import great_expectations"):
        import great_expectations  # noqa: F401
    run_steps(config)
    total = sum(t for _, t in TIMINGS)
    validation = sum(t for s, t in TIMINGS if s.startswith("validate"))
    print(f"  {'total':<28}{total:8.2f} s   validation {validation:.2f} s = {validation / total:.0%} of the steps")
    if args.flow:
        from visitmix.prefect_env import configure_prefect_environment

        configure_prefect_environment(OUT / ".prefect")
        from flows.visit_mix import visit_mix_flow

        start = time.perf_counter()
        visit_mix_flow(str(config))
        print(f"  whole flow run (incl. Prefect start-up) {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
