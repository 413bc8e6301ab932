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
