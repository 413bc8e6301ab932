"""The visit-type rule: New Prospect, Hot Prospect or Existing Customer, from the account's history.

Rule (issue #2, the one place it lives):

* Only ``completed`` visits are classified; other visits get ``visit_type`` NULL and never count
  as prior visits.
* ``visit_date`` is the local calendar date of ``visit_start`` in the configured time zone.
* **existing_customer** when ``customer_since < visit_date`` (strictly: a visit on the closing day
  is still a prospect visit).
* otherwise **new_prospect** when the account has no earlier completed visit, or when
  ``reengage_after_days`` is set and the latest earlier completed visit's ``visit_date`` is more
  than that many days before this visit's ``visit_date``;
* otherwise **hot_prospect**.
* "Earlier" orders an account's visits by the instant ``visit_start``, ties broken by
  ``visit_id`` in plain (code point) string order, so file row order never matters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import polars as pl

from transforms.datetimes import fixed_offset_us
from transforms.schema import (
    BLANKS,
    COMPLETED,
    EXISTING_CUSTOMER,
    HOT_PROSPECT,
    NEW_PROSPECT,
    REPORTED_TYPE_SPELLINGS,
    VISIT_TYPE_LABELS,
    ZERO_WIDTH,
)


def local_date(instant: pl.Expr, timezone: str) -> pl.Expr:
    """UTC instant → calendar date in `timezone` (IANA name)."""
    return instant.dt.convert_time_zone(timezone).dt.date()


def local_dates(instants: pl.Series, timezone: str) -> pl.Series:
    """Like :func:`local_date` for a whole column, in a tenth of the time where it can be:
    when the zone kept one UTC offset over every instant's year (Asia/Bangkok since 1920), the
    date is integer arithmetic on the instant; otherwise the zone's rules are applied."""
    years = instants.dt.year()
    offset = fixed_offset_us(timezone, int(years.min()), int(years.max())) if years.null_count() < len(years) else None
    if offset is None:
        return instants.to_frame().select(local_date(pl.col(instants.name), timezone)).to_series()
    days = (instants.dt.epoch("us") + offset) // 86_400_000_000
    return days.cast(pl.Int32).cast(pl.Date)


def _label_key(raw: pl.Expr) -> pl.Expr:
    """How labels are compared: NFKC (Thai ำ typed as ํ + า is the same label), without zero-width
    characters, trimmed, lower case, a trailing " visit" dropped, runs of spaces and hyphens as ``_``."""
    return (
        raw.str.normalize("NFKC")
        .str.replace_all(ZERO_WIDTH, "")
        .str.strip_chars(BLANKS)
        .str.to_lowercase()
        .str.replace(r"\s+visit$", "")
        .str.replace_all(r"[\s\-]+", "_")
    )


def label_keys(labels: list[str]) -> list[str]:
    """Each label as labels are compared (:func:`_label_key`): two labels with one key are one label."""
    return pl.Series(labels, dtype=pl.String).to_frame("k").select(_label_key(pl.col("k"))).to_series().to_list()


def normalise_reported_type(raw: pl.Expr, own: Mapping[str, str] | None = None) -> pl.Expr:
    """A rep's own label → a visit type, or NULL when the label is not one we know. `own`: the
    organisation's own labels → visit type ([classification] reported_type_map), matched the same way
    and taking precedence over the built-in spellings (``REPORTED_TYPE_SPELLINGS``)."""
    t = _label_key(raw)
    spellings = {unicodedata.normalize("NFKC", k): v for k, v in REPORTED_TYPE_SPELLINGS.items()}
    if own:
        spellings |= dict(zip(label_keys(list(own)), own.values(), strict=True))
    return t.replace_strict(spellings, default=None, return_dtype=pl.String)


def _history_order(account: pl.Series, instant: pl.Series, visit_id: pl.Series) -> pl.Series:
    """Row indices in rule-7 order: by account, then ``visit_start``, then ``visit_id`` (code points).

    Linear-time in practice: rows are sorted on two integers (a 64-bit hash of the account and
    the instant), so the strings are compared only where needed: ids of visits that share an
    account and an instant, and the accounts themselves, which are checked to be constant within
    each run of equal hashes (a hash collision — never seen — falls back to exact account codes).
    """
    n = len(account)
    keys = pl.DataFrame({"h": account.hash(0x5EED), "t": instant.dt.epoch("us"), "i": pl.int_range(0, n, eager=True, dtype=pl.UInt32)})
    order = keys.sort(["h", "t"], multithreaded=True)
    accounts_sorted = account.gather(order["i"])
    collision = ((order["h"] == order["h"].shift(1)) & (accounts_sorted != accounts_sorted.shift(1))).fill_null(False)
    if collision.any():  # two accounts with one hash: sort on exact account codes instead
        codes = account.cast(pl.Categorical).to_physical()
        order = keys.with_columns(h=codes).sort(["h", "t"], multithreaded=True)
    # ties on (account, instant) are ordered by visit_id; only tied rows are touched
    same = ((order["h"] == order["h"].shift(1)) & (order["t"] == order["t"].shift(1))).fill_null(False)
    tied = same | same.shift(-1, fill_value=False)
    if not tied.any():
        return order["i"]
    positions = tied.arg_true()
    run = (~same).cum_sum().gather(positions)
    rows = order["i"].gather(positions)
    fixed = pl.DataFrame({"run": run, "id": visit_id.gather(rows), "i": rows}).sort(["run", "id"])
    return order["i"].scatter(positions, fixed["i"])


def _in_history(frame: pl.DataFrame, order: pl.Series) -> pl.DataFrame:
    """Per row (in input order): ``prior_visit_count``, ``prior_visit_date`` and
    ``next_visit_date`` (the next completed visit's date) within its account.

    In: ``account_id``, ``is_completed`` (Boolean), ``visit_date`` (Date), and `order` from
    :func:`_history_order`. Prefix sums and fills over the ordered rows, restarted at each account.
    """
    ordered = frame.select("account_id", "is_completed", "visit_date")[order].with_columns(
        pos=pl.int_range(0, frame.height, dtype=pl.Int64)  # position in history order
    )
    computed = ordered.with_columns(
        first=pl.col("account_id") != pl.col("account_id").shift(1).fill_null(pl.lit(None, dtype=pl.String)),
        last=pl.col("account_id") != pl.col("account_id").shift(-1).fill_null(pl.lit(None, dtype=pl.String)),
        done=pl.col("is_completed").cast(pl.UInt32),
    ).with_columns(
        first=pl.col("first").fill_null(True),
        last=pl.col("last").fill_null(True),
        before=pl.col("done").cum_sum() - pl.col("done"),  # completed rows strictly before, all accounts
        last_done=pl.when(pl.col("is_completed")).then(pl.col("pos")).shift(1).forward_fill(),
        next_done=pl.when(pl.col("is_completed")).then(pl.col("pos")).shift(-1).backward_fill(),
    ).with_columns(
        start=pl.when(pl.col("first")).then(pl.col("pos")).forward_fill(),
        end=pl.when(pl.col("last")).then(pl.col("pos")).backward_fill(),
        base=pl.when(pl.col("first")).then(pl.col("before")).forward_fill(),
    ).select(
        prior_visit_count=pl.col("before") - pl.col("base"),
        prior_visit_date=pl.when(pl.col("last_done") >= pl.col("start")).then(
            pl.col("visit_date").gather(pl.col("last_done").fill_null(0))
        ),
        next_visit_date=pl.when(pl.col("next_done") <= pl.col("end")).then(
            pl.col("visit_date").gather(pl.col("next_done").fill_null(0))
        ),
    )
    # back to input order
    inverse = pl.Series("i", range(frame.height), dtype=pl.UInt32).scatter(order, pl.int_range(0, frame.height, eager=True, dtype=pl.UInt32))
    return computed[inverse]


def classify_visits(
    visits: pl.LazyFrame | pl.DataFrame,
    customers: pl.LazyFrame | pl.DataFrame,
    timezone: str,
    reengage_after_days: int | None,
    reported_type_map: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """Classify every visit from its account's history as of the visit date.

    In: `visits` with ``visit_id``, ``account_id`` (String, never NULL here: visits without an
    account are quarantined before), ``visit_start`` (Datetime UTC), ``status`` (String, one of
    the known statuses), ``reported_type`` (String) and any other columns, which pass through;
    `customers` as returned by :func:`transforms.customers.customer_since`.

    Out: the visit columns plus ``visit_date`` (Date, local in `timezone`), ``customer_since``
    (Date), ``prior_visit_count`` (UInt32: completed visits of the account strictly earlier in
    the order above), ``prior_visit_date`` (Date: the latest of those), ``days_since_prior_visit``
    (Int64 days between the two dates, NULL without a prior visit), ``next_visit_date`` (Date: the
    next completed visit of the account, later in the order above) and ``days_to_next_visit`` (Int64,
    NULL without one; for the progression KPI), ``visit_type`` (String or
    NULL), ``visit_type_label`` (String or NULL), ``reported_visit_type`` (String: the rep's label
    read as a visit type — built-in spellings and `reported_type_map`'s own labels —, NULL when it names none) and ``is_reported_type_mismatch`` (Boolean:
    NULL unless both the rep's label and our type are present; a label we cannot read counts as
    a mismatch). Rows keep the input order. The work is linear in the rows apart from one sort
    on two integer keys (see :func:`_history_order`).
    """
    frame = visits.collect() if isinstance(visits, pl.LazyFrame) else visits
    customer = customers.collect() if isinstance(customers, pl.LazyFrame) else customers
    # the customer date is joined on the account column alone, not the whole (wide) frame
    since = frame.select("account_id").join(customer, on="account_id", how="left", maintain_order="left").get_column("customer_since")
    frame = frame.with_columns(visit_date=local_dates(frame.get_column("visit_start"), timezone), customer_since=since)
    order = _history_order(frame["account_id"], frame["visit_start"], frame["visit_id"])
    history = _in_history(frame.with_columns(is_completed=pl.col("status") == COMPLETED), order)
    ordered = frame.with_columns(
        prior_visit_count=history["prior_visit_count"].cast(pl.UInt32),
        prior_visit_date=history["prior_visit_date"],
        next_visit_date=history["next_visit_date"],
    ).with_columns(
        days_since_prior_visit=(pl.col("visit_date") - pl.col("prior_visit_date")).dt.total_days(),
        days_to_next_visit=(pl.col("next_visit_date") - pl.col("visit_date")).dt.total_days(),
    )
    is_completed = pl.col("status") == COMPLETED
    is_existing = pl.col("customer_since") < pl.col("visit_date")
    is_new = pl.col("prior_visit_count") == 0
    if reengage_after_days is not None:
        is_new = is_new | (pl.col("days_since_prior_visit") > reengage_after_days)
    visit_type = (
        pl.when(~is_completed)
        .then(None)
        .when(is_existing.fill_null(False))
        .then(pl.lit(EXISTING_CUSTOMER))
        .when(is_new)
        .then(pl.lit(NEW_PROSPECT))
        .otherwise(pl.lit(HOT_PROSPECT))
    )
    reported = pl.col("reported_visit_type")
    # a rep's label is one of few spellings: normalise each distinct one once
    labels = ordered.get_column("reported_type")
    distinct = labels.unique()
    readings = pl.DataFrame({"r": distinct}).select(normalise_reported_type(pl.col("r"), reported_type_map)).to_series()
    ordered = ordered.with_columns(reported_visit_type=labels.replace_strict(distinct, readings, default=None, return_dtype=pl.String))
    return ordered.lazy().with_columns(visit_type=visit_type).with_columns(
        visit_type_label=pl.col("visit_type").replace_strict(VISIT_TYPE_LABELS, default=None, return_dtype=pl.String),
        is_reported_type_mismatch=pl.when(pl.col("reported_type").is_not_null() & pl.col("visit_type").is_not_null())
        .then(reported.is_null() | (reported != pl.col("visit_type")))
        .otherwise(None),
    )
