"""Generate a seeded, realistic visitmix input set of any size (the benchmark's data).

    python bench/generate.py --rows 1000000 --out bench/out/n1000000 [--seed 42]

Writes, into the output folder, canonical Parquet inputs and the config that reads them:

    visits/part-00000.parquet …   visit rows, at most 10,000,000 per file
    accounts.parquet, deals.parquet, reps.parquet
    visitmix.toml                 the visitmix config (canonical column names: no mapping)
    manifest.json                 n, seed and generator version: a second call with the same ones is a no-op

Shape, for n visit rows: n/10 accounts, n/40 deals, max(n/2000, 5) reps in teams of 10 over 4 regions.
Visits per account are skewed (account = floor(accounts · u³), u uniform, through a fixed random
permutation of the account ids): most accounts have a handful of visits, a few have thousands. Visit
starts are Bangkok working hours (some at any time of day, so the local date differs from the UTC
date) on 2023-01-01 … 2025-12-31, at minute resolution, a third of them on the hour; about 2% of the
visits share their exact start with another visit of the same account. About 1% of the visit ids are
delivered twice (both rows in the same file): the two rows never tie on `updated_at`, and
the two sometimes differ in status or start. Rows are in random order in each file. Status: ~85%
completed, 7% planned, 6% cancelled, 2% no_show. All rows are valid (no quarantine): every visit's
account and rep exist, no id is null.

Random draws are NumPy (PCG64, seeded per table and per chunk, so a chunk's rows do not depend on the
other chunks); everything else is columnar Polars. No Python loop runs over rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl

GENERATOR_VERSION = 3
CHUNK_ROWS = 10_000_000
DUPLICATE_EVERY = 101  # one re-delivered copy per 100 distinct visit ids
TIE_SHARE = 0.008  # share of visits given the start of the previous visit of their account (within a chunk)

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
BANGKOK_OFFSET_US = 7 * US_PER_HOUR  # Asia/Bangkok is UTC+7 all year (no DST)
EPOCH_2023_US = 1_672_531_200 * 1_000_000  # 2023-01-01T00:00:00Z
VISIT_DAYS = 1096  # 2023-01-01 … 2025-12-31 (local dates)

REGIONS = ["Bangkok", "Central", "North", "Northeast"]
STATUSES = ["completed", "planned", "cancelled", "no_show"]
STATUS_P = [0.85, 0.07, 0.06, 0.02]
VISIT_TYPES = ["new_prospect", "hot_prospect", "existing_customer"]
CHANNELS = ["in_person", "phone", "video"]
CHANNEL_P = [0.6, 0.25, 0.15]
SEGMENTS = ["enterprise", "mid_market", "smb"]
SEGMENT_P = [0.1, 0.3, 0.6]

CONFIG_TOML = """\
[warehouse]
path = "warehouse/visitmix.duckdb"
[classification]
timezone = "Asia/Bangkok"
reengage_after_days = 365
[validation]
max_quarantine_share = 0.05
[sources.visits]
path = "visits/*.parquet"
[sources.accounts]
path = "accounts.parquet"
[sources.deals]
path = "deals.parquet"
[sources.reps]
path = "reps.parquet"
"""

# independent random streams
_ACCOUNTS, _DEALS, _REPS, _VISITS = 1, 2, 3, 4


def _rng(seed: int, stream: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, chunk])


def _ids(prefix: str, index, width: int) -> pl.Expr:
    """'V' + zero-padded number; `index` is an expression or a Series of integers."""
    expr = index if isinstance(index, pl.Expr) else pl.lit(index)
    return pl.concat_str(pl.lit(prefix), expr.cast(pl.String).str.zfill(width))


def _pick(values: list[str], codes: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(pl.Series(codes.astype(np.uint32)))


def _width(count: int) -> int:
    return max(len(str(max(count - 1, 0))), 6)


class Shape:
    def __init__(self, n_visits: int):
        self.n_visits = n_visits
        self.n_accounts = max(n_visits // 10, 1)
        self.n_deals = max(n_visits // 40, 1)
        self.n_reps = max(n_visits // 2000, 5)
        self.account_width = _width(self.n_accounts)
        self.deal_width = _width(self.n_deals)
        self.rep_width = _width(self.n_reps)
        self.visit_width = max(_width(n_visits), 9)


def _account_draw(rng: np.random.Generator, size: int, shape: Shape, permutation: np.ndarray, power: float) -> np.ndarray:
    """Skewed account numbers: floor(accounts · u^power), through the fixed permutation."""
    index = np.floor(shape.n_accounts * rng.random(size) ** power).astype(np.int64)
    return permutation[np.minimum(index, shape.n_accounts - 1)]


def _reps(shape: Shape) -> pl.DataFrame:
    i = pl.int_range(0, shape.n_reps, eager=True)
    team = i // 10
    return pl.DataFrame(
        {
            "rep_id": pl.select(_ids("R", i, shape.rep_width)).to_series(),
            "rep_name": pl.select(pl.format("Rep {}", i + 1)).to_series(),
            "team": pl.select(_ids("T", team, 3)).to_series(),
            "region": _pick(REGIONS, (team % len(REGIONS)).to_numpy()),
        }
    )


def _accounts(shape: Shape, seed: int, rep_region: np.ndarray) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Returns the accounts table, each account's owner rep, and the permutation used for the skew."""
    rng = _rng(seed, _ACCOUNTS)
    n = shape.n_accounts
    owner = rng.integers(0, shape.n_reps, n, dtype=np.int32)
    permutation = rng.permutation(n)
    has_since = rng.random(n) < 0.20
    since_days = rng.integers(np.datetime64("2020-01-01").astype(int), np.datetime64("2026-01-01").astype(int), n)
    i = pl.int_range(0, n, eager=True)
    frame = pl.DataFrame(
        {
            "account_id": pl.select(_ids("A", i, shape.account_width)).to_series(),
            "account_name": pl.select(pl.format("Account {}", i + 1)).to_series(),
            "customer_since": pl.Series(since_days.astype(np.int32)).cast(pl.Date),
            "region": _pick(REGIONS, rep_region[owner]),
            "segment": _pick(SEGMENTS, rng.choice(len(SEGMENTS), n, p=SEGMENT_P)),
        }
    ).with_columns(customer_since=pl.when(pl.Series(has_since)).then(pl.col("customer_since")))
    return frame, owner, permutation


def _deals(shape: Shape, seed: int, permutation: np.ndarray) -> pl.DataFrame:
    rng = _rng(seed, _DEALS)
    n = shape.n_deals
    account = _account_draw(rng, n, shape, permutation, 2.0)
    close_days = rng.integers(np.datetime64("2022-01-01").astype(int), np.datetime64("2026-07-01").astype(int), n)
    has_close = rng.random(n) >= 0.10
    return pl.DataFrame(
        {
            "deal_id": pl.select(_ids("D", pl.int_range(0, n, eager=True), shape.deal_width)).to_series(),
            "account_id": pl.select(_ids("A", pl.Series(account), shape.account_width)).to_series(),
            "is_won": pl.Series(rng.random(n) < 0.35),
            "close_date": pl.Series(close_days.astype(np.int32)).cast(pl.Date),
            "amount": pl.Series(np.round(rng.lognormal(np.log(150_000), 1.2, n), 2)),
        }
    ).with_columns(close_date=pl.when(pl.Series(has_close)).then(pl.col("close_date")))


def _visit_starts(rng: np.random.Generator, size: int) -> np.ndarray:
    """UTC instants (µs) of Bangkok-local visit times on 2023-01-01 … 2025-12-31."""
    day = rng.integers(0, VISIT_DAYS, size)
    working = rng.random(size) < 0.85
    minute_of_day = np.where(working, rng.integers(8 * 60, 18 * 60, size), rng.integers(0, 24 * 60, size))
    on_the_hour = rng.random(size) < 0.35
    minute_of_day = np.where(on_the_hour, minute_of_day // 60 * 60, minute_of_day)
    return EPOCH_2023_US + day * US_PER_DAY + minute_of_day * US_PER_MINUTE - BANGKOK_OFFSET_US


def _visit_starts_range() -> tuple[int, int]:
    first = EPOCH_2023_US - BANGKOK_OFFSET_US
    return first, first + VISIT_DAYS * US_PER_DAY - US_PER_MINUTE


def _visit_chunk(shape: Shape, seed: int, chunk: int, first_id: int, rows: int, owner: np.ndarray, permutation: np.ndarray) -> pl.DataFrame:
    rng = _rng(seed, _VISITS, chunk)
    n_copies = rows // DUPLICATE_EVERY
    n = rows - n_copies  # distinct visit ids in this chunk

    account = _account_draw(rng, n, shape, permutation, 3.0)
    by_owner = rng.random(n) < 0.9
    rep = np.where(by_owner, owner[account], rng.integers(0, shape.n_reps, n, dtype=np.int32))
    start = _visit_starts(rng, n)
    status = rng.choice(len(STATUSES), n, p=STATUS_P).astype(np.uint8)
    updated = start + rng.integers(0, 72 * US_PER_HOUR, n)

    frame = pl.DataFrame(
        {
            "id": pl.int_range(first_id, first_id + n, eager=True),
            "account": pl.Series(account),
            "rep": pl.Series(rep),
            "start": pl.Series(start),
            "status": pl.Series(status),
            "updated": pl.Series(updated),
            "tie": pl.Series(rng.random(n)),
        }
    )
    # Same-instant ties: in account order, some visits take the start of the account's previous visit
    # (TIE_SHARE of all visits, whatever share of them has a previous visit in this chunk).
    same_account = pl.col("account") == pl.col("account").shift(1)
    frame = (
        frame.sort("account", "id")
        .with_columns(
            start=pl.when(same_account & (pl.col("tie") < TIE_SHARE * pl.len() / same_account.sum()))
            .then(pl.col("start").shift(1))
            .otherwise(pl.col("start"))
        )
        .sort("id")
        .drop("tie")
    )

    # Re-delivered ids: a copy with another updated_at, sometimes another status or start.
    pick = np.sort(rng.choice(n, n_copies, replace=False))
    original = frame[pick]
    later = rng.integers(1_000_000, 30 * US_PER_DAY, n_copies)  # 1 s … 30 days, so never a tie
    new_status = np.where(rng.random(n_copies) < 0.4, rng.choice(len(STATUSES), n_copies, p=STATUS_P), original["status"].to_numpy())
    moved = rng.random(n_copies) < 0.3
    shift = rng.integers(-7 * 24 * 60, 7 * 24 * 60, n_copies) * US_PER_MINUTE
    first, last = _visit_starts_range()
    new_start = np.where(moved, np.clip(original["start"].to_numpy() + shift, first, last), original["start"].to_numpy())
    newest_first = rng.random(n_copies) < 0.5  # the original row, not the changed copy, gets the later updated_at
    orig_updated = original["updated"].to_numpy()
    copy = original.with_columns(
        status=pl.Series(new_status.astype(np.uint8)),
        start=pl.Series(new_start),
        updated=pl.Series(np.where(newest_first, orig_updated, orig_updated + later)),
    )
    updated_all = frame["updated"].to_numpy().copy()
    updated_all[pick] = np.where(newest_first, orig_updated + later, orig_updated)
    frame = pl.concat([frame.with_columns(updated=pl.Series(updated_all)), copy])
    # rows in no particular order (an export is not sorted by id, account or time)
    total = frame.height
    frame = frame[rng.permutation(total)]

    reported = rng.choice(len(VISIT_TYPES), total).astype(np.uint8)
    reported_null = rng.random(total) < 0.3
    return pl.DataFrame(
        {
            "visit_id": pl.select(_ids("V", frame["id"], shape.visit_width)).to_series(),
            "rep_id": pl.select(_ids("R", frame["rep"], shape.rep_width)).to_series(),
            "account_id": pl.select(_ids("A", frame["account"], shape.account_width)).to_series(),
            "visit_start": frame["start"].cast(pl.Datetime("us", "UTC")),
            "status": _pick(STATUSES, frame["status"].to_numpy()),
            "reported_type": _pick(VISIT_TYPES, reported),
            "channel": _pick(CHANNELS, rng.choice(len(CHANNELS), total, p=CHANNEL_P)),
            "duration_min": pl.Series(np.round(rng.lognormal(np.log(40), 0.5, total), 1)),
            "updated_at": frame["updated"].cast(pl.Datetime("us", "UTC")),
        }
    ).with_columns(reported_type=pl.when(~pl.Series(reported_null)).then(pl.col("reported_type")))


def _manifest(n_visits: int, seed: int, chunk_rows: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "n_visits": n_visits, "seed": seed, "chunk_rows": chunk_rows}


def generate(n_visits: int, out_dir: Path, seed: int = 42, chunk_rows: int = CHUNK_ROWS) -> Path:
    """Write the input set for `n_visits` visit rows into `out_dir`; return its visitmix config path.

    Visit rows go to files of at most `chunk_rows` rows (a smaller value only to test several files).
    Does nothing (returns the config) when out_dir already holds the set for the same n and seed."""
    out_dir = Path(out_dir)
    config = out_dir / "visitmix.toml"
    manifest_path = out_dir / "manifest.json"
    wanted = _manifest(n_visits, seed, chunk_rows)
    if manifest_path.exists() and config.exists():
        found = json.loads(manifest_path.read_text())
        if {k: found.get(k) for k in wanted} == wanted and all((out_dir / f).exists() for f in found.get("files", [])):
            return config
    if n_visits < 1 or chunk_rows < DUPLICATE_EVERY:
        raise ValueError("n_visits must be at least 1 and chunk_rows at least 101")

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)
    visits_dir = out_dir / "visits"
    visits_dir.mkdir(exist_ok=True)
    for old in visits_dir.glob("part-*.parquet"):
        old.unlink()

    shape = Shape(n_visits)
    reps = _reps(shape)
    rep_region = (np.arange(shape.n_reps) // 10 % len(REGIONS)).astype(np.uint8)
    accounts, owner, permutation = _accounts(shape, seed, rep_region)
    deals = _deals(shape, seed, permutation)
    reps.write_parquet(out_dir / "reps.parquet")
    accounts.write_parquet(out_dir / "accounts.parquet")
    deals.write_parquet(out_dir / "deals.parquet")
    del accounts, deals

    files = ["reps.parquet", "accounts.parquet", "deals.parquet"]
    first_id = 0
    for chunk, lo in enumerate(range(0, n_visits, chunk_rows)):
        rows = min(chunk_rows, n_visits - lo)
        visits = _visit_chunk(shape, seed, chunk, first_id, rows, owner, permutation)
        first_id += rows - rows // DUPLICATE_EVERY
        name = f"visits/part-{chunk:05d}.parquet"
        visits.write_parquet(out_dir / name)
        files.append(name)
        del visits

    config.write_text(CONFIG_TOML)
    files.append(config.name)
    manifest = wanted | {
        "files": files,
        "accounts": shape.n_accounts,
        "deals": shape.n_deals,
        "reps": shape.n_reps,
        "distinct_visit_ids": first_id,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="visit rows to write (re-delivered copies included)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    start = time.perf_counter()
    config = generate(args.rows, args.out, args.seed)
    print(f"{config}  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
