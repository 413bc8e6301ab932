"""Second peer: visitmix's classification and monthly mix in vectorised pandas.

    python bench/peer_pandas.py --data bench/out/n1000000 --out bench/out/peer_pandas_1m

Reads the generator's Parquet inputs (visits/*.parquet, accounts.parquet, deals.parquet) through
pyarrow and writes fct_visit.parquet and visit_mix_monthly.parquet into the --out folder (same
columns and types as the DuckDB peer's tables). No quarantine, no validation: inputs are valid.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

VISIT_COLUMNS = ["visit_id", "rep_id", "account_id", "visit_start", "status", "updated_at"]
TYPES = ["new_prospect", "hot_prospect", "existing_customer"]


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    # dates as datetime64 (not Python date objects), strings as pandas' Arrow-backed str dtype
    return pq.read_table(path, columns=columns).to_pandas(date_as_object=False)


def read_visits(data: Path) -> pd.DataFrame:
    """All visit rows, newest version per visit_id (latest updated_at, then the last file by name)."""
    files = sorted((data / "visits").glob("*.parquet"), key=lambda p: p.name)
    visits = pd.concat(
        [_read(f, VISIT_COLUMNS).assign(file_rank=np.int32(i)) for i, f in enumerate(files)], ignore_index=True
    )
    # only ids delivered more than once need the version sort
    keep = ~visits["visit_id"].duplicated(keep=False)
    newest = (
        visits.loc[~keep, ["visit_id", "updated_at", "file_rank"]]
        .sort_values(["updated_at", "file_rank"], na_position="first")
        .drop_duplicates("visit_id", keep="last")
    )
    keep[newest.index] = True
    return visits.loc[keep, ["visit_id", "rep_id", "account_id", "visit_start", "status"]].reset_index(drop=True)


def customer_since(data: Path) -> pd.Series:
    """account_id → the earlier of accounts.customer_since and the first close_date of a won deal."""
    accounts = _read(data / "accounts.parquet", ["account_id", "customer_since"])
    deals = _read(data / "deals.parquet", ["account_id", "is_won", "close_date"])
    won = deals.loc[deals["is_won"] & deals["close_date"].notna(), ["account_id", "close_date"]]
    dates = pd.concat([accounts.dropna(subset=["customer_since"]), won.rename(columns={"close_date": "customer_since"})])
    return dates.groupby("account_id")["customer_since"].min()


def classify(visits: pd.DataFrame, customers: pd.Series, timezone: str, reengage_after_days: int | None) -> pd.DataFrame:
    v = visits
    v["visit_date"] = v["visit_start"].dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    account, account_ids = pd.factorize(v["account_id"])
    v["customer_since"] = customers.reindex(account_ids).to_numpy()[account]
    completed = v["status"].eq("completed")

    # An account's visits in (visit_start, visit_id) order, on a numeric frame. The visit id only
    # decides between visits of an account at the same instant (a few %): rank just those ids, in
    # code-point order (Arrow's string order), instead of sorting every id as a string.
    history = pd.DataFrame(
        {
            "account": account,
            "start": v["visit_start"].astype("int64").to_numpy(),
            "done": completed.astype(np.int64).to_numpy(),
            "visit_date": v["visit_date"].to_numpy(),
        }
    )
    tied = history.duplicated(["account", "start"], keep=False)
    history["tie_rank"] = 0
    history.loc[tied, "tie_rank"] = v.loc[tied, "visit_id"].rank(method="first").astype(np.int64)
    order = np.lexsort((history["tie_rank"], history["start"], history["account"]))
    history = history.iloc[order]

    # completed visits strictly earlier: the running count without this row, and the date of the
    # latest one (the completed visits' dates carried forward, taken from the previous row)
    by_account = history.groupby("account", sort=False)
    prior_count = by_account["done"].cumsum() - history["done"]
    last_done = history["visit_date"].where(history["done"].eq(1)).groupby(history["account"], sort=False).ffill()
    prior_date = last_done.groupby(history["account"], sort=False).shift()
    # back to v's row order
    v["prior_visit_count"] = _unsort(prior_count.to_numpy(), order)
    days = (v["visit_date"] - _unsort(prior_date.to_numpy(), order)) / pd.Timedelta(days=1)
    v["days_since_prior_visit"] = days.astype("Int64")
    existing = v["customer_since"].notna() & (v["customer_since"] < v["visit_date"])
    new = v["prior_visit_count"].eq(0)
    if reengage_after_days is not None:
        new |= days.gt(reengage_after_days)
    code = np.select([~completed, existing, new], [-1, 2, 0], 1)
    v["visit_type"] = pd.Categorical.from_codes(code, categories=TYPES)
    return v


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """values[i] belongs to row order[i]: put it there."""
    out = np.empty_like(values)
    out[order] = values
    return out


def monthly_mix(fct: pd.DataFrame) -> pd.DataFrame:
    classified = fct[fct["visit_type"].notna()]
    month = classified["visit_date"].dt.to_period("M").dt.to_timestamp().rename("month")
    counts = (
        classified.groupby([month, classified["rep_id"], classified["visit_type"]], observed=True)
        .size()
        .unstack("visit_type", fill_value=0)
        .reindex(columns=TYPES, fill_value=0)
    )
    mix = pd.DataFrame({"visits_total": counts.sum(axis=1)})
    for t in TYPES:
        mix[f"{t}_visits"] = counts[t]
    for t in TYPES:
        mix[f"{t}_share"] = mix[f"{t}_visits"] / mix["visits_total"]
    return mix.reset_index()


def _with_dates(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    """The frame as an Arrow table: these datetime columns as dates, categoricals as plain strings."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table[f.name].cast(pa.string()))
    for name in columns:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.cast(table[name], pa.date32()))
    return table


def run(data: Path, out: Path, timezone: str = "Asia/Bangkok", reengage_after_days: int | None = 365) -> None:
    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fct = classify(read_visits(data), customer_since(data), timezone, reengage_after_days)
    fct = fct[
        ["visit_id", "rep_id", "account_id", "visit_start", "visit_date", "status", "visit_type",
         "prior_visit_count", "days_since_prior_visit", "customer_since"]
    ]
    mix = monthly_mix(fct)
    pq.write_table(_with_dates(fct, ["visit_date", "customer_since"]), out / "fct_visit.parquet")
    pq.write_table(_with_dates(mix, ["month"]), out / "visit_mix_monthly.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by bench/generate.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for fct_visit.parquet and visit_mix_monthly.parquet")
    parser.add_argument("--timezone", default="Asia/Bangkok")
    parser.add_argument("--reengage-after-days", type=int, default=365, help="negative: not set")
    args = parser.parse_args()
    start = time.perf_counter()
    days = args.reengage_after_days if args.reengage_after_days >= 0 else None
    run(args.data, args.out, args.timezone, days)
    print(f"peer_pandas: {args.out} in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
