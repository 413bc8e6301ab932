"""Complexity guard: every per-key step at two sizes; doubling the rows must not more than triple the time.

Not a timing target (timings live in bench/): a step that is quadratic in the rows (a window nested
in another window, a Python loop over groups) quadruples when the rows double, and fails here.
The data is adversarial for per-key work: some keys repeat thousands of times, many instants tie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import pytest

from transforms import classify, customers, references, versions
from visitmix import checks, dq

SMALL = 150_000


def _visits(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    return pl.DataFrame({"i": i}).select(
        visit_id=pl.format("V{}", pl.col("i") % (n * 3 // 4)),  # a quarter of the ids arrive twice
        account_id=pl.format("A{}", (pl.col("i").hash(1) % 1000) ** 3 // 1_000_000),  # a few huge accounts
        rep_id=pl.format("R{}", pl.col("i") % 50),
        visit_start=(pl.datetime(2024, 1, 1, time_zone="UTC") + pl.duration(hours=pl.col("i").hash(2) % 5000)),
        status=pl.when(pl.col("i") % 7 == 0).then(pl.lit("cancelled")).otherwise(pl.lit("completed")),
        reported_type=pl.lit("New Prospect Visit"),
        updated_at=(pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(seconds=pl.col("i").hash(3) % 3)),
        source_file=pl.format("f{}.csv", pl.col("i") % 3),
        source_row_number=pl.col("i"),
        parse_error=pl.lit(None, dtype=pl.String),
    )


def _best_ratio(runs: int, small: Callable[[], object], large: Callable[[], object]) -> float:
    """Best time of the large step over best time of the small one, timed in turn (a busy machine
    slows both alike; the best of several runs is the one least disturbed)."""
    best_small = best_large = float("inf")
    for _ in range(runs):
        for step, is_large in ((small, False), (large, True)):
            started = time.perf_counter()
            step()
            elapsed = time.perf_counter() - started
            if is_large:
                best_large = min(best_large, elapsed)
            else:
                best_small = min(best_small, elapsed)
    return best_large / best_small


def _steps(frame: pl.DataFrame) -> dict[str, Callable[[], object]]:
    unique = frame.unique("visit_id", keep="first")
    accounts = pl.DataFrame({"account_id": [f"A{i}" for i in range(500)], "customer_since": [None] * 500}, schema={"account_id": pl.String, "customer_since": pl.Date})
    deals = pl.DataFrame({"account_id": ["A1", "A2"], "is_won": [True, False], "close_date": [None, None]}, schema={"account_id": pl.String, "is_won": pl.Boolean, "close_date": pl.Date})
    customer = customers.customer_since(accounts.lazy(), deals.lazy()).collect()
    suite = checks.compile_suite(dq.load_suite_definition("visits"), frame.schema, dq.suite_parameters("UTC", datetime(2026, 1, 1, tzinfo=UTC)))
    return {
        "newest_versions": lambda: versions.newest_versions(frame, "visit_id"),
        "repeated": lambda: versions.repeated(frame["visit_id"]),
        "compiled visits suite": lambda: checks.evaluate(frame, suite),
        "classify": lambda: classify.classify_visits(unique, customer, "Europe/London", 365).collect(),
        "dangling references": lambda: references.dangling(frame.lazy(), "account_id", accounts.lazy(), "account_id").collect(),
        "customer_since": lambda: customers.customer_since(frame.select("account_id", customer_since=pl.col("visit_start").dt.date()).lazy(), deals.lazy()).collect(),
    }


@pytest.mark.parametrize("step", ["newest_versions", "repeated", "compiled visits suite", "classify", "dangling references", "customer_since"])
def test_doubling_the_rows_at_most_triples_the_time(step: str):
    small, large = _visits(SMALL), _visits(2 * SMALL)
    small_step, large_step = _steps(small)[step], _steps(large)[step]
    small_step()  # warm caches and thread pools
    ratio = _best_ratio(5, small_step, large_step)
    assert ratio <= 3.0, f"{step}: {ratio:.1f}× the time for 2× the rows"
