"""A visit without a status, decided by its start (``[sources.visits] missing_status = "by_start"``).

Rule: issue #2 reads a missing status as ``completed``. Calendar exports write no status at all —
Salesforce Events have no Status field, HubSpot leaves most meeting outcomes empty — and hold the
upcoming meetings too, which the visits suite would quarantine as completed visits in the future
(failing the run once they pass ``max_quarantine_share``). With ``by_start`` such a visit is what
the calendar says: ``completed`` once its start has passed when the run starts, ``planned`` before.
Decided by every run (never kept: an incremental source keeps the status as missing), so a meeting
held since the last run counts as completed, as a full run over the same rows would count it.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.schema import COMPLETED

PLANNED = "planned"


def status_by_start(visits: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """`visits` with each missing ``status`` decided: ``planned`` when ``visit_start`` is after `now`,
    else ``completed`` (a visit without a start too: the suite quarantines it for its start).

    In: a canonical visits frame (``status`` String, NULL where the source wrote none;
    ``visit_start`` Datetime UTC); `now`: the run's start, aware. Out: the same columns and rows,
    ``status`` never NULL. A frame without missing statuses is returned as it is.
    """
    if visits.get_column("status").null_count() == 0:
        return visits
    ahead = pl.col("visit_start") > pl.lit(now).dt.convert_time_zone("UTC")
    decided = pl.when(ahead.fill_null(False)).then(pl.lit(PLANNED)).otherwise(pl.lit(COMPLETED))
    return visits.with_columns(pl.coalesce(pl.col("status"), decided).alias("status"))
