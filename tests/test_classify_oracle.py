"""The Polars rule against the independent oracle on random histories (ties, statuses, deals)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from oracle import classify_oracle, next_visit_oracle
from transforms.classify import classify_visits
from transforms.customers import customer_since

STATUSES = ["completed", "completed", "completed", "planned", "cancelled", "no_show"]


def random_case(seed: int):
    rng = random.Random(seed)
    accounts_ids = [f"A{i}" for i in range(6)]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    instants = [base + timedelta(hours=rng.randrange(0, 24 * 800, 7)) for _ in range(15)]
    visits = [
        {
            "visit_id": f"V{rng.randrange(1, 400)}-{i}",
            "account_id": rng.choice(accounts_ids),
            "visit_start": rng.choice(instants),  # shared instants force ties
            "status": rng.choice(STATUSES),
        }
        for i in range(rng.randrange(5, 60))
    ]
    accounts = [
        {"account_id": a, "customer_since": (date(2024, 1, 1) + timedelta(days=rng.randrange(0, 800))) if rng.random() < 0.3 else None}
        for a in accounts_ids
    ]
    deals = [
        {
            "account_id": rng.choice(accounts_ids),
            "is_won": rng.choice([True, False, None]),
            "close_date": (date(2024, 1, 1) + timedelta(days=rng.randrange(0, 800))) if rng.random() < 0.9 else None,
        }
        for _ in range(rng.randrange(0, 8))
    ]
    return visits, accounts, deals


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize(("timezone", "reengage"), [("Asia/Bangkok", None), ("America/New_York", 90)])
def test_matches_oracle(seed: int, timezone: str, reengage: int | None):
    visits, accounts, deals = random_case(seed)
    expected = classify_oracle(visits, accounts, deals, timezone, reengage)
    visits_lf = pl.LazyFrame(visits, schema={"visit_id": pl.String, "account_id": pl.String, "visit_start": pl.Datetime("us", "UTC"), "status": pl.String}).with_columns(
        reported_type=pl.lit(None, dtype=pl.String)
    )
    accounts_lf = pl.LazyFrame(accounts, schema={"account_id": pl.String, "customer_since": pl.Date})
    deals_lf = pl.LazyFrame(deals, schema={"account_id": pl.String, "is_won": pl.Boolean, "close_date": pl.Date})
    got = classify_visits(visits_lf, customer_since(accounts_lf, deals_lf), timezone, reengage).collect()
    keys = ["visit_type", "visit_date", "prior_visit_count", "days_since_prior_visit", "customer_since"]
    actual = {r["visit_id"]: {k: r[k] for k in keys} for r in got.iter_rows(named=True)}
    assert actual == expected
    assert {r["visit_id"]: r["next_visit_date"] for r in got.iter_rows(named=True)} == next_visit_oracle(visits, timezone)
