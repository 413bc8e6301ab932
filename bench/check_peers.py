"""Check the two reference peers against each other and against tests/oracle.py.

    python bench/check_peers.py [--rows 2000]

On a generated set (bench/out/n<rows>/), the same size split over several visit files, and on a
small hand-made set of edge cases
(bench/out/edge/: same-instant ties broken by code-point order of the visit id, "V10" before "V9",
upper before lower case, a local-midnight crossing, the closing day, 365 and 366 days, a
re-delivery whose copies tie on updated_at in two files, an account missing from the accounts
input), runs both peers as separate processes, computes the oracle's reading (newest version per
id chosen here in plain Python, the oracle does not do it) and requires all three to agree exactly.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from compare import compare  # noqa: E402
from generate import generate  # noqa: E402
from tests.oracle import classify_oracle  # noqa: E402

TIMEZONE = "Asia/Bangkok"
REENGAGE = 365


def latest_versions(data: Path) -> list[dict]:
    """Newest row per visit_id: latest updated_at, then the file whose name sorts last."""
    best: dict[str, tuple] = {}
    for f in sorted((data / "visits").glob("*.parquet"), key=lambda p: p.name):
        for row in pl.read_parquet(f).to_dicts():
            rank = (row["updated_at"], f.name)
            if row["visit_id"] not in best or rank > best[row["visit_id"]][0]:
                best[row["visit_id"]] = (rank, row)
    return [row for _, row in best.values()]


def oracle_result(data: Path, out: Path) -> Path:
    visits = latest_versions(data)
    accounts = pl.read_parquet(data / "accounts.parquet").to_dicts()
    deals = pl.read_parquet(data / "deals.parquet").to_dicts()
    got = classify_oracle(visits, accounts, deals, TIMEZONE, REENGAGE)
    fct = pl.DataFrame(
        [{"visit_id": v["visit_id"], "rep_id": v["rep_id"], **got[v["visit_id"]]} for v in visits],
        schema_overrides={"prior_visit_count": pl.Int64, "days_since_prior_visit": pl.Int64, "customer_since": pl.Date},
    )
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for v in visits:
        r = got[v["visit_id"]]
        if r["visit_type"] is not None:
            counts[(r["visit_date"].replace(day=1), v["rep_id"])][r["visit_type"]] += 1
    mix = []
    for (month, rep), c in counts.items():
        total = sum(c.values())
        row = {"month": month, "rep_id": rep, "visits_total": total}
        row |= {f"{t}_visits": c[t] for t in ("new_prospect", "hot_prospect", "existing_customer")}
        row |= {f"{t}_share": c[t] / total for t in ("new_prospect", "hot_prospect", "existing_customer")}
        mix.append(row)
    out.mkdir(parents=True, exist_ok=True)
    fct.write_parquet(out / "fct_visit.parquet")
    pl.DataFrame(mix).write_parquet(out / "visit_mix_monthly.parquet")
    return out


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def edge_cases(data: Path) -> Path:
    """A hand-made input set with the cases the generated data meets only by chance."""
    (data / "visits").mkdir(parents=True, exist_ok=True)
    for old in (data / "visits").glob("*.parquet"):
        old.unlink()
    t0 = _utc("2024-01-01T00:00:00+00:00")
    rows = [
        # visit_id, account, start (UTC unless an offset is given), status, updated_at, file
        ("V9", "A2", "2023-06-01T09:00:00+07:00", "completed", t0, 0),
        ("V10", "A2", "2023-06-01T09:00:00+07:00", "completed", t0, 0),  # V10 before V9
        ("v1", "A2", "2023-06-01T09:00:00+07:00", "completed", t0, 0),  # lower case after V…, W…
        ("W1", "A2", "2023-06-01T09:00:00+07:00", "cancelled", t0, 0),  # not completed: counts nothing
        ("Vé", "A2", "2023-06-02T10:00:00+07:00", "completed", t0, 0),
        ("Vz", "A2", "2023-06-02T10:00:00+07:00", "completed", t0, 0),  # Vz before Vé
        ("M1", "A2", "2024-06-02T23:59:00+07:00", "completed", t0, 0),  # 366 days after 2023-06-02: new
        ("M2", "A2", "2024-06-02T17:00:00+00:00", "completed", t0, 0),  # local 2024-06-03 00:00: 1 day
        ("M3", "A2", "2025-06-03T12:00:00+07:00", "completed", t0, 0),  # exactly 365 days: hot
        ("C1", "A1", "2024-03-10T08:00:00+07:00", "completed", t0, 0),  # closing day: prospect
        ("C2", "A1", "2024-03-09T17:30:00+00:00", "completed", t0, 0),  # local 2024-03-10 00:30, earlier instant
        ("C3", "A1", "2024-03-11T08:00:00+07:00", "completed", t0, 0),  # existing
        ("C4", "A1", "2024-03-11T08:00:00+07:00", "planned", t0, 0),
        ("D1", "A3", "2024-05-01T08:00:00+07:00", "completed", t0, 0),  # won deal closes 2024-05-01
        ("D2", "A3", "2024-05-02T08:00:00+07:00", "no_show", t0, 0),
        ("D3", "A3", "2024-05-02T08:00:00+07:00", "completed", t0, 0),
        ("E1", "A4", "2024-02-01T08:00:00+07:00", "completed", t0, 0),  # won deal 2024-01-31 < account's 2024-06-01
        ("U1", "A9", "2024-02-01T08:00:00+07:00", "completed", t0, 0),  # account not in the accounts input
        ("U2", "A9", "2024-02-01T08:00:00+07:00", "completed", t0, 0),
        # re-deliveries
        ("R1", "A5", "2024-07-01T09:00:00+07:00", "planned", t0, 0),
        ("R1", "A5", "2024-07-01T09:00:00+07:00", "completed", t0, 1),  # same updated_at: the later file wins
        ("R2", "A5", "2024-07-01T09:00:00+07:00", "completed", _utc("2024-08-01T00:00:00+00:00"), 0),  # later: wins
        ("R2", "A5", "2024-07-03T09:00:00+07:00", "cancelled", t0, 1),
        ("R3", "A5", "2024-07-01T09:00:00+07:00", "completed", t0, 1),
    ]
    frame = pl.DataFrame(
        {
            "visit_id": [r[0] for r in rows],
            "rep_id": ["R01" if r[1] in ("A1", "A2") else "R02" for r in rows],
            "account_id": [r[1] for r in rows],
            "visit_start": [_utc(r[2]) for r in rows],
            "status": [r[3] for r in rows],
            "updated_at": [r[4] for r in rows],
            "file": [r[5] for r in rows],
        },
        schema_overrides={"visit_start": pl.Datetime("us", "UTC"), "updated_at": pl.Datetime("us", "UTC")},
    )
    for f, part in frame.partition_by("file", as_dict=True).items():
        part.drop("file").write_parquet(data / "visits" / f"part-{f[0]:05d}.parquet")
    pl.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5"],
            "customer_since": [None, None, None, date(2024, 6, 1), None],
        },
        schema_overrides={"customer_since": pl.Date},
    ).write_parquet(data / "accounts.parquet")
    pl.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4", "D5"],
            "account_id": ["A1", "A3", "A3", "A3", "A4"],
            "is_won": [True, True, True, False, True],
            "close_date": [date(2024, 3, 10), date(2024, 5, 1), None, date(2023, 1, 1), date(2024, 1, 31)],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    ).write_parquet(data / "deals.parquet")
    # a config too, so that the product can be run on the same cases (visitmix run --config …)
    (data / "visitmix.toml").write_text(
        '[warehouse]\npath = "warehouse/visitmix.duckdb"\n[classification]\ntimezone = "Asia/Bangkok"\n'
        'reengage_after_days = 365\n[sources.visits]\npath = "visits/*.parquet"\n'
        '[sources.accounts]\npath = "accounts.parquet"\n[sources.deals]\npath = "deals.parquet"\n'
    )
    return data


def run_peers(data: Path, tag: str) -> list[Path]:
    duck = OUT / f"peer_duckdb_{tag}.duckdb"
    pand = OUT / f"peer_pandas_{tag}"
    py = sys.executable
    subprocess.run([py, str(BENCH / "peer_duckdb.py"), "--data", str(data), "--out", str(duck)], check=True)
    subprocess.run([py, str(BENCH / "peer_pandas.py"), "--data", str(data), "--out", str(pand)], check=True)
    return [duck, pand, oracle_result(data, OUT / f"oracle_{tag}")]


def check(data: Path, tag: str) -> bool:
    duck, pand, oracle = run_peers(data, tag)
    ok = True
    for a, b in ((duck, pand), (duck, oracle), (pand, oracle)):
        outcome = compare(a, b)
        print(outcome)
        ok &= outcome.identical
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    config = generate(args.rows, OUT / f"n{args.rows}")
    ok = check(config.parent, f"n{args.rows}")
    # the same size in several visit files (as above 10M rows)
    config = generate(args.rows, OUT / f"n{args.rows}_parts", chunk_rows=max(args.rows // 3, 101))
    ok &= check(config.parent, f"n{args.rows}_parts")
    ok &= check(edge_cases(OUT / "edge"), "edge")
    print("all agree" if ok else "DISAGREEMENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
