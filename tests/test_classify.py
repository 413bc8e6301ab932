"""The visit-type rule, one test per rule with hand-computed expectations (issue #2, item 5)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from transforms.datetimes import parse_timestamp
from transforms.classify import classify_visits
from transforms.customers import customer_since

TZ = "Asia/Bangkok"


def visits_frame(rows: list[tuple], tz: str = TZ) -> pl.LazyFrame:
    """rows: (visit_id, account_id, visit_start text, status[, reported_type])."""
    return pl.LazyFrame(
        {
            "visit_id": [r[0] for r in rows],
            "rep_id": ["R1"] * len(rows),
            "account_id": [r[1] for r in rows],
            "start_text": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "reported_type": [r[4] if len(r) > 4 else None for r in rows],
        },
        schema_overrides={"reported_type": pl.String},
    ).with_columns(visit_start=parse_timestamp(pl.col("start_text"), tz)).drop("start_text")


def accounts_frame(rows: list[tuple[str, date | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {"account_id": [r[0] for r in rows], "customer_since": [r[1] for r in rows]},
        schema={"account_id": pl.String, "customer_since": pl.Date},
    )


def deals_frame(rows: list[tuple[str, bool | None, date | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {"account_id": [r[0] for r in rows], "is_won": [r[1] for r in rows], "close_date": [r[2] for r in rows]},
        schema={"account_id": pl.String, "is_won": pl.Boolean, "close_date": pl.Date},
    )


def classify(visits, accounts=None, deals=None, reengage=None, tz=TZ, labels=None) -> dict[str, dict]:
    customers = customer_since(accounts if accounts is not None else accounts_frame([]), deals if deals is not None else deals_frame([]))
    out = classify_visits(visits, customers, tz, reengage, labels).collect()
    return {row["visit_id"]: row for row in out.iter_rows(named=True)}


def types(result: dict[str, dict]) -> dict[str, str | None]:
    return {k: v["visit_type"] for k, v in result.items()}


def test_same_day_close_is_still_a_prospect_visit():
    visits = visits_frame(
        [
            ("V1", "A", "2025-03-01 10:00", "completed"),
            ("V2", "A", "2025-03-10 15:00", "completed"),
            ("V3", "A", "2025-03-11 09:00", "completed"),
        ]
    )
    result = classify(visits, deals=deals_frame([("A", True, date(2025, 3, 10))]))
    assert types(result) == {"V1": "new_prospect", "V2": "hot_prospect", "V3": "existing_customer"}
    assert result["V3"]["customer_since"] == date(2025, 3, 10)


def test_won_before_first_visit_makes_the_first_visit_existing():
    visits = visits_frame([("V1", "A", "2025-01-05 10:00", "completed")])
    result = classify(visits, deals=deals_frame([("A", True, date(2024, 12, 31))]))
    assert types(result) == {"V1": "existing_customer"}
    assert result["V1"]["prior_visit_count"] == 0
    assert result["V1"]["visit_type_label"] == "Existing Customer Visit"


def test_lost_deals_only_leave_the_account_a_prospect():
    visits = visits_frame([("V1", "A", "2025-01-05 10:00", "completed"), ("V2", "A", "2025-02-05 10:00", "completed")])
    deals = deals_frame([("A", False, date(2025, 1, 1)), ("A", None, date(2024, 6, 1)), ("A", True, None)])
    result = classify(visits, deals=deals)
    assert types(result) == {"V1": "new_prospect", "V2": "hot_prospect"}
    assert result["V2"]["customer_since"] is None


def test_customer_since_is_the_earlier_of_account_date_and_first_won_deal():
    visits = visits_frame([("V1", "A", "2025-04-01 10:00", "completed"), ("V2", "B", "2025-04-01 10:00", "completed")])
    accounts = accounts_frame([("A", date(2025, 6, 1)), ("B", date(2025, 2, 1))])
    deals = deals_frame([("A", True, date(2025, 3, 1)), ("A", True, date(2025, 5, 1)), ("B", True, date(2025, 8, 1))])
    result = classify(visits, accounts, deals)
    assert result["V1"]["customer_since"] == date(2025, 3, 1)
    assert result["V2"]["customer_since"] == date(2025, 2, 1)
    assert types(result) == {"V1": "existing_customer", "V2": "existing_customer"}


def test_ties_on_the_same_instant_are_broken_by_visit_id_in_plain_string_order():
    # "V10" < "V9" in plain string order, whatever the file order.
    visits = visits_frame(
        [
            ("V9", "A", "2025-05-05 10:00", "completed"),
            ("V10", "A", "2025-05-05T03:00:00Z", "completed"),  # the same instant in UTC
        ]
    )
    result = classify(visits)
    assert types(result) == {"V10": "new_prospect", "V9": "hot_prospect"}
    assert (result["V10"]["prior_visit_count"], result["V9"]["prior_visit_count"]) == (0, 1)
    assert result["V9"]["days_since_prior_visit"] == 0


def test_row_order_does_not_matter():
    rows = [
        ("V3", "A", "2025-01-03 10:00", "completed"),
        ("V1", "A", "2025-01-01 10:00", "completed"),
        ("V2", "A", "2025-01-02 10:00", "cancelled"),
    ]
    forward = classify(visits_frame(rows))
    backward = classify(visits_frame(list(reversed(rows))))
    assert forward == backward
    assert types(forward) == {"V1": "new_prospect", "V2": None, "V3": "hot_prospect"}


def test_non_completed_visits_are_kept_unclassified_and_never_count_as_prior():
    visits = visits_frame(
        [
            ("V1", "A", "2025-01-01 10:00", "cancelled"),
            ("V2", "A", "2025-01-02 10:00", "no_show"),
            ("V3", "A", "2025-01-03 10:00", "completed"),
            ("V4", "A", "2025-01-05 10:00", "planned"),
            ("V5", "A", "2025-01-10 10:00", "completed"),
        ]
    )
    result = classify(visits)
    assert types(result) == {"V1": None, "V2": None, "V3": "new_prospect", "V4": None, "V5": "hot_prospect"}
    assert result["V5"]["prior_visit_count"] == 1
    assert result["V5"]["days_since_prior_visit"] == 7  # from V3 on 01-03, not from the planned V4
    assert result["V4"]["visit_type_label"] is None


def test_local_date_of_naive_and_aware_timestamps_around_midnight():
    visits = visits_frame(
        [
            ("V1", "A", "2025-01-31T17:30:00Z", "completed"),  # 00:30 on 1 Feb in Bangkok
            ("V2", "B", "2025-02-01 00:30", "completed"),  # naive = Bangkok wall time
            ("V3", "C", "2025-01-31T23:59:00+07:00", "completed"),
            ("V4", "D", "2025-01-31T16:59:59Z", "completed"),  # 23:59:59 on 31 Jan in Bangkok
        ]
    )
    result = classify(visits)
    assert {k: v["visit_date"] for k, v in result.items()} == {
        "V1": date(2025, 2, 1),
        "V2": date(2025, 2, 1),
        "V3": date(2025, 1, 31),
        "V4": date(2025, 1, 31),
    }
    assert result["V1"]["visit_start"] == result["V2"]["visit_start"]


def test_existing_is_decided_on_the_local_date():
    # Won on 1 Feb; a visit at 01:00 Bangkok on 2 Feb is 18:00 UTC on 1 Feb: still after the close locally.
    visits = visits_frame([("V1", "A", "2025-02-01T18:00:00Z", "completed")])
    assert types(classify(visits, deals=deals_frame([("A", True, date(2025, 2, 1))]))) == {"V1": "existing_customer"}
    # The same instant in UTC as the zone makes it 1 Feb: the closing day, still a prospect.
    assert types(classify(visits, deals=deals_frame([("A", True, date(2025, 2, 1))]), tz="UTC")) == {"V1": "new_prospect"}


@pytest.mark.parametrize(
    ("reengage", "expected_v3"),
    [(None, "hot_prospect"), (365, "new_prospect"), (366, "hot_prospect")],
)
def test_reengagement_at_exactly_the_bound_and_one_day_over(reengage, expected_v3):
    visits = visits_frame(
        [
            ("V1", "A", "2024-01-01 10:00", "completed"),
            ("V2", "A", "2024-12-31 10:00", "completed"),  # 365 days after V1: at the bound
            ("V3", "A", "2026-01-01 10:00", "completed"),  # 366 days after V2: one day over
        ]
    )
    result = classify(visits, reengage=reengage)
    assert result["V2"]["days_since_prior_visit"] == 365
    assert result["V3"]["days_since_prior_visit"] == 366
    assert result["V2"]["visit_type"] == "hot_prospect"
    assert result["V3"]["visit_type"] == expected_v3


def test_reengagement_never_overrides_existing_customer():
    visits = visits_frame([("V1", "A", "2023-01-01 10:00", "completed"), ("V2", "A", "2025-01-01 10:00", "completed")])
    result = classify(visits, deals=deals_frame([("A", True, date(2023, 6, 1))]), reengage=30)
    assert types(result) == {"V1": "new_prospect", "V2": "existing_customer"}


def test_unknown_account_is_a_prospect():
    visits = visits_frame([("V1", "ZZ", "2025-01-01 10:00", "completed"), ("V2", "ZZ", "2025-01-02 10:00", "completed")])
    result = classify(visits, accounts=accounts_frame([("A", date(2020, 1, 1))]))
    assert types(result) == {"V1": "new_prospect", "V2": "hot_prospect"}


def test_reported_type_mismatch():
    visits = visits_frame(
        [
            ("V1", "A", "2025-01-01 10:00", "completed", "New Prospect Visit"),
            ("V2", "A", "2025-01-02 10:00", "completed", "new prospect"),
            ("V3", "A", "2025-01-03 10:00", "completed", "Hot Prospect"),
            ("V4", "A", "2025-01-04 10:00", "completed", "something else"),
            ("V5", "A", "2025-01-05 10:00", "completed", None),
            ("V6", "A", "2025-01-06 10:00", "planned", "Hot Prospect Visit"),
            ("V7", "B", "2025-01-06 10:00", "completed", "ลูกค้าใหม่"),
        ]
    )
    result = classify(visits)
    assert {k: v["is_reported_type_mismatch"] for k, v in result.items()} == {
        "V1": False,
        "V2": True,
        "V3": False,
        "V4": True,
        "V5": None,
        "V6": None,
        "V7": False,
    }


def test_a_reps_own_labels_are_read_through_reported_type_map():
    """Thai reps write ลูกค้าเดิม ("existing customer") as often as ลูกค้าเก่า: built in now. An
    organisation's own words ([classification] reported_type_map) are matched like the built-in
    spellings (case, spaces, hyphens, a trailing "visit") and win over them."""
    visits = visits_frame(
        [
            ("V1", "A", "2025-01-01 10:00", "completed", "เยี่ยมครั้งแรก"),
            ("V2", "A", "2025-01-02 10:00", "completed", "Follow-Up Visit"),
            ("V3", "B", "2025-01-03 10:00", "completed", "ลูกค้าเดิม"),
            ("V4", "B", "2025-01-04 10:00", "completed", "ลูกค้ารายเดิม"),
            ("V5", "C", "2025-01-05 10:00", "completed", "follow up"),
        ]
    )
    accounts = accounts_frame([("B", date(2024, 1, 1))])
    plain = classify(visits, accounts=accounts)
    assert {k: (v["reported_visit_type"], v["is_reported_type_mismatch"]) for k, v in plain.items()} == {
        "V1": (None, True), "V2": ("hot_prospect", False), "V3": ("existing_customer", False),
        "V4": ("existing_customer", False), "V5": ("hot_prospect", True),
    }
    own = classify(visits, accounts=accounts, labels={"เยี่ยมครั้งแรก": "new_prospect", "Follow up": "new_prospect"})
    assert {k: (v["reported_visit_type"], v["is_reported_type_mismatch"]) for k, v in own.items()} == {
        "V1": ("new_prospect", False), "V2": ("new_prospect", True), "V3": ("existing_customer", False),
        "V4": ("existing_customer", False), "V5": ("new_prospect", False),
    }
