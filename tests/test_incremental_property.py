"""The incremental invariant (issue #12 item 4), as a property of the transforms.

Any history of deliveries — visits re-delivered with new statuses, moved to another account, late
visits dated before an account's first one, rows without a start (held back), deals won or un-won
after the fact, rows without ``updated_at`` — split into any number of consecutive batches and run
batch by batch (kept rows + batch → newest versions → checks → classification of touched accounts
only) gives exactly the classified visits of one full run over all deliveries.

The row checks are modelled by the two the merge must respect: a key whose newest version is
duplicated, and a row without ``visit_start``, are held back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms import classify, customers, incremental, versions
from transforms.schema import SOURCE_FILE, SOURCE_ROW

TZ = "Asia/Bangkok"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
VISIT_SCHEMA = {
    "visit_id": pl.String, "rep_id": pl.String, "account_id": pl.String, "visit_start": pl.Datetime("us", "UTC"),
    "status": pl.String, "reported_type": pl.String, "updated_at": pl.Datetime("us", "UTC"),
    SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64,
}
DEAL_SCHEMA = {
    "deal_id": pl.String, "account_id": pl.String, "is_won": pl.Boolean, "close_date": pl.Date,
    "updated_at": pl.Datetime("us", "UTC"), SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64,
}
EMPTY_ACCOUNTS = pl.DataFrame(schema={"account_id": pl.String, "customer_since": pl.Date})

visit_version = st.fixed_dictionaries({
    "visit_id": st.sampled_from(["v1", "v2", "v3", "v4", "v5", "v6"]),
    "account_id": st.sampled_from(["a1", "a2", "a3"]),
    "day": st.one_of(st.none(), st.integers(0, 40)),  # None: no start, the row is held back
    "hour": st.sampled_from([9, 23]),  # 23:00 UTC is the next day in Bangkok
    "status": st.sampled_from(["completed", "completed", "planned", "cancelled"]),
    "label": st.sampled_from([None, "new", "hot", "existing"]),
})
deal_version = st.fixed_dictionaries({
    "deal_id": st.sampled_from(["d1", "d2"]),
    "account_id": st.sampled_from(["a1", "a2", "a3"]),
    "is_won": st.booleans(),
    "close_day": st.integers(0, 40),
})
# a delivery: a visit or a deal version, whether its updated_at ties the previous one's, and
# (rarely) no updated_at at all
delivery = st.tuples(st.one_of(visit_version, deal_version), st.booleans(), st.integers(0, 9))


def _frames(deliveries: list[tuple[dict, bool, int]], cuts: list[int]) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Per batch: (visit rows, deal rows) of its delivery file ``batch-NN.csv``."""
    clock, batches, start = 0, [], 0
    bounds = sorted({c for c in cuts if 0 < c < len(deliveries)}) + [len(deliveries)]
    for number, end in enumerate(bounds):
        visits, deals = [], []
        for row, (item, tie, nullness) in enumerate(deliveries[start:end], start=1):
            clock += 0 if tie else 1
            updated = None if nullness == 0 else EPOCH + timedelta(hours=clock)
            label = f"batch-{number:02d}.csv"
            if "visit_id" in item:
                start_at = None if item["day"] is None else EPOCH + timedelta(days=item["day"], hours=item["hour"])
                visits.append({"visit_id": item["visit_id"], "rep_id": "r1", "account_id": item["account_id"], "visit_start": start_at,
                               "status": item["status"], "reported_type": item["label"], "updated_at": updated,
                               SOURCE_FILE: label, SOURCE_ROW: row})
            else:
                deals.append({"deal_id": item["deal_id"], "account_id": item["account_id"], "is_won": item["is_won"],
                              "close_date": (EPOCH + timedelta(days=item["close_day"])).date(), "updated_at": updated,
                              SOURCE_FILE: label, SOURCE_ROW: row})
        batches.append((pl.DataFrame(visits, schema=VISIT_SCHEMA), pl.DataFrame(deals, schema=DEAL_SCHEMA)))
        start = end
    return batches


def _checked(frame: pl.DataFrame, key: str, required: str) -> pl.DataFrame:
    """The modelled row checks: a duplicated key or a missing required value holds the row back."""
    return frame.filter(~pl.col(key).is_duplicated() & pl.col(required).is_not_null())


def _classify(visits: pl.DataFrame, deals: pl.DataFrame, reengage: int | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    customer = customers.customer_since(EMPTY_ACCOUNTS.lazy(), deals.lazy()).collect()
    rows = visits.drop(SOURCE_FILE, SOURCE_ROW, "updated_at")
    return classify.classify_visits(rows, customer, TZ, reengage).collect(), customer


def _full_run(batches, reengage: int | None) -> pl.DataFrame:
    visits = pl.concat([v for v, _ in batches])
    deals = pl.concat([d for _, d in batches])
    newest_visits, _ = versions.newest_versions(visits, "visit_id")
    newest_deals, _ = versions.newest_versions(deals, "deal_id")
    classified, _ = _classify(_checked(newest_visits, "visit_id", "visit_start"), _checked(newest_deals, "deal_id", "close_date"), reengage)
    return classified


def _incremental_runs(batches, reengage: int | None, accumulate: bool) -> pl.DataFrame:
    """Visit files accumulate in one folder when `accumulate` (each run re-reads them all and cuts at
    the watermark); deal files are deltas (each run sees only its own)."""
    kept = {"visits": None, "deals": None}
    previous = None
    for number, (visit_rows, deal_rows) in enumerate(batches):
        read = {"visits": pl.concat([v for v, _ in batches[: number + 1]]) if accumulate else visit_rows, "deals": deal_rows}
        merged = {}
        for name, key in (("visits", "visit_id"), ("deals", "deal_id")):
            mark = incremental.watermark_of(kept[name]) if kept[name] is not None else None
            batch, _ = incremental.since_watermark(read[name], mark)
            merged[name], _, _ = incremental.merge_batch(kept[name], batch, [key])
            kept[name] = merged[name]
        visits = _checked(merged["visits"], "visit_id", "visit_start")
        deals = _checked(merged["deals"], "deal_id", "close_date")
        customer = customers.customer_since(EMPTY_ACCOUNTS.lazy(), deals.lazy()).collect()
        rows = visits.drop(SOURCE_FILE, SOURCE_ROW, "updated_at")
        if previous is None:
            classified = classify.classify_visits(rows, customer, TZ, reengage).collect()
        else:
            touched = incremental.touched_accounts(previous[0], rows, previous[1], customer)
            classified = incremental.reclassify(previous[0], rows, customer, touched, TZ, reengage)
        previous = (classified, customer)
    assert previous is not None
    return previous[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deliveries=st.lists(delivery, min_size=1, max_size=24),
    cuts=st.lists(st.integers(1, 23), max_size=5),
    reengage=st.sampled_from([None, 7]),
    accumulate=st.booleans(),
)
def test_batches_in_order_equal_one_full_run(deliveries, cuts, reengage, accumulate):
    batches = _frames(deliveries, cuts)
    full = _full_run(batches, reengage).sort("visit_id")
    split = _incremental_runs(batches, reengage, accumulate).sort("visit_id")
    assert_frame_equal(split, full, check_column_order=False)


def test_untouched_accounts_are_not_classified_again():
    """Only a1's visits change in the second batch: a2's rows come back as they were kept (the
    kept frame is altered on purpose: a recomputation would overwrite the marker)."""
    first = pl.DataFrame(
        [{"visit_id": "v1", "rep_id": "r1", "account_id": "a1", "visit_start": EPOCH, "status": "completed", "reported_type": None,
          "updated_at": EPOCH, SOURCE_FILE: "b0", SOURCE_ROW: 1},
         {"visit_id": "v2", "rep_id": "r1", "account_id": "a2", "visit_start": EPOCH, "status": "completed", "reported_type": None,
          "updated_at": EPOCH, SOURCE_FILE: "b0", SOURCE_ROW: 2}],
        schema=VISIT_SCHEMA,
    )
    no_deals = pl.DataFrame(schema=DEAL_SCHEMA)
    classified, customer = _classify(first, no_deals, None)
    marked = classified.with_columns(visit_type_label=pl.when(pl.col("account_id") == "a2").then(pl.lit("kept")).otherwise("visit_type_label"))
    later = first.with_columns(
        status=pl.when(pl.col("visit_id") == "v1").then(pl.lit("cancelled")).otherwise("status"),
    )
    rows = later.drop(SOURCE_FILE, SOURCE_ROW, "updated_at")
    touched = incremental.touched_accounts(marked, rows, customer, customer)
    assert touched.to_list() == ["a1"]
    out = incremental.reclassify(marked, rows, customer, touched, TZ, None).sort("visit_id")
    assert out.select("visit_id", "visit_type", "visit_type_label").rows() == [("v1", None, None), ("v2", "new_prospect", "kept")]


def test_watermark_cut_is_inclusive_and_keeps_rows_without_updated_at():
    frame = pl.DataFrame(
        {"visit_id": ["old", "same", "new", "undated"],
         "updated_at": [EPOCH - timedelta(seconds=1), EPOCH, EPOCH + timedelta(hours=1), None]},
        schema={"visit_id": pl.String, "updated_at": pl.Datetime("us", "UTC")},
    )
    batch, older = incremental.since_watermark(frame, EPOCH)
    assert batch.get_column("visit_id").to_list() == ["same", "new", "undated"]
    assert older == 1
    assert incremental.since_watermark(frame, None)[0].height == 4
    assert incremental.watermark_of(frame) == EPOCH + timedelta(hours=1)
