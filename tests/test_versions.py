"""Re-delivered rows: the newest version of a key wins (transforms.versions)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from transforms.versions import newest_versions


def frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (visit_id, updated_at or None, source_file, source_row_number)."""
    return pl.DataFrame(
        rows, schema={"visit_id": pl.String, "updated_at": pl.Datetime("us", "UTC"), "source_file": pl.String, "source_row_number": pl.Int64}, orient="row"
    )


def t(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


def ids(df: pl.DataFrame) -> list[tuple[str, str, int]]:
    return df.select("visit_id", "source_file", "source_row_number").sort("source_row_number", "source_file").rows()


def test_later_file_wins_without_updated_at():
    kept, old = newest_versions(frame([("V1", None, "visits_2025-01.csv", 1), ("V1", None, "visits_2025-02.csv", 7), ("V2", None, "visits_2025-01.csv", 2)]), "visit_id")
    assert ids(kept) == [("V2", "visits_2025-01.csv", 2), ("V1", "visits_2025-02.csv", 7)]
    assert ids(old) == [("V1", "visits_2025-01.csv", 1)]


def test_later_updated_at_wins_over_file_order():
    kept, old = newest_versions(frame([("V1", t(5), "a.csv", 1), ("V1", t(3), "b.csv", 1), ("V1", None, "c.csv", 1)]), "visit_id")
    assert ids(kept) == [("V1", "a.csv", 1)]
    assert ids(old) == [("V1", "b.csv", 1), ("V1", "c.csv", 1)]


def test_ties_are_kept_for_the_uniqueness_check():
    kept, old = newest_versions(frame([("V1", None, "a.csv", 1), ("V1", None, "a.csv", 2), ("V1", None, "0.csv", 3), (None, None, "a.csv", 4)]), "visit_id")
    assert ids(kept) == [("V1", "a.csv", 1), ("V1", "a.csv", 2), (None, "a.csv", 4)]
    assert ids(old) == [("V1", "0.csv", 3)]


def test_file_order_is_global_not_per_key():
    # V3 only appears in the later file: it must be kept (a per-key rank would drop it)
    kept, old = newest_versions(frame([("V1", None, "m1.csv", 1), ("V2", None, "m1.csv", 2), ("V2", None, "m2.csv", 1), ("V3", None, "m2.csv", 2)]), "visit_id")
    assert ids(kept) == [("V1", "m1.csv", 1), ("V2", "m2.csv", 1), ("V3", "m2.csv", 2)]
    assert ids(old) == [("V2", "m1.csv", 2)]


def test_superseded_rows_carry_the_account_of_the_version_that_replaced_them():
    rows = frame([("V1", None, "m1.csv", 1), ("V2", None, "m1.csv", 2), ("V1", None, "m2.csv", 1), ("V3", t(2), "m1.csv", 3),
                  ("V3", t(1), "m2.csv", 2), ("V3", None, "m3.csv", 3), ("V4", None, "m2.csv", 4), ("V4", None, "m2.csv", 5)])
    rows = rows.with_columns(account_id=pl.Series(["A1", "A2", "A9", "A3", "A3", None, "A4", "A5"]))
    kept, old = newest_versions(rows, "visit_id", compare=("account_id",))
    # V1: m2 wins (A9); V3: the latest updated_at wins (A3), NULL updated_at is oldest; V4 ties (both stay)
    assert kept.select("visit_id", "account_id").rows() == [("V2", "A2"), ("V1", "A9"), ("V3", "A3"), ("V4", "A4"), ("V4", "A5")]
    assert old.select("visit_id", "source_file", "account_id", "__newest_account_id").rows() == [
        ("V1", "m1.csv", "A1", "A9"), ("V3", "m2.csv", "A3", "A3"), ("V3", "m3.csv", None, "A3")]
    assert old.columns == [*rows.columns, "__newest_account_id"]
    # without repeats: the column is there, empty
    _, none = newest_versions(rows.filter(pl.col("visit_id") == "V2"), "visit_id", compare=("account_id",))
    assert none.height == 0 and none.columns[-1] == "__newest_account_id"


def test_a_visit_that_takes_its_account_from_its_deal_is_compared_by_deal():
    """With take_from_deal the visits carry no account_id when versions are decided: both copies of a
    reused id have NULL there, so the deal they name tells them apart (the warning never fired)."""
    from visitmix.prepare import MOVED_BETWEEN, newest_outcomes

    rows = frame([("1", None, "visits_10.csv", 1), ("2", None, "visits_10.csv", 2), ("1", None, "visits_11.csv", 1),
                  ("2", None, "visits_11.csv", 2)])
    rows = rows.with_columns(account_id=pl.lit(None, pl.String), deal_id=pl.Series(["D1", "D2", "D7", "D2"]))
    kept, old = newest_versions(rows, "visit_id", compare=MOVED_BETWEEN["visits"])
    assert kept.select("visit_id", "deal_id").rows() == [("1", "D7"), ("2", "D2")]
    moved = [o for o in newest_outcomes("visits", rows.height, old) if o.expectation == "versions_name_another_account"]
    assert [(o.element_count, o.unexpected_count, o.unexpected_sample) for o in moved] == [(2, 1, '["visits_10.csv:1"]')]
