"""The state incremental runs keep in the warehouse: read at the start of a run, written by its publish.

Tables (schema ``state``, see sql/ddl/20_state.sql): ``watermark`` and ``classification``, plus
per incremental source ``<source>_rows`` and, for incremental visits, ``classified_visit`` and
``customer``. They are part of the warehouse file, so they change exactly when the marts do: a run
that fails publishes nothing and the next run starts from the same watermark.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from visitmix.config import ClassificationConfig, SourceConfig
from visitmix.duck import open_read_only
from visitmix.warehouse import query

CLASSIFIED = "classified_visit"
CUSTOMERS = "customer"


def rows_table(source: str) -> str:
    return f"{source}_rows"


def classification_fingerprint(config: ClassificationConfig) -> str:
    """The settings a classification depends on, hashed: stored classifications are reused only
    while it is unchanged (a new time zone or re-engagement window re-classifies every visit)."""
    return hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


# The version of the rules that read a source's values (trimming, id cutting, date parsing …). A
# release that reads the same cells differently bumps it, so rows kept by an earlier release are
# not merged with rows read the new way: 2 — expressions, `where` and lookup keys read text trimmed
# of Unicode spaces and zero-width characters (a Salesforce id with a trailing U+200B is cut to 15);
# 3 — an unmapped column reads a column named like it but for case and spacing (`Status`), and a
# date column's instants (also epoch numbers) are dated in the classification zone; a typed float id
# 101.0 is "101"; a flag 1.0 is true; NUL around a value is trimmed; epoch numbers in an Excel
# source are instants, not serial dates, and a time-only cell is its time; text named .xls is read as CSV;
# 4 — is_won reads Won/Lost and Thai words; Thai and full-width digits in numbers; a date column that decides
# nothing takes the order the source's other date columns decided; Excel cells merged down are read in each
# row; header names read as they look (no-break spaces, line breaks); a Parquet dataset's
# __HIVE_DEFAULT_PARTITION__ is NULL (and the settings now hold missing_status).
READ_RULES = 4


def source_fingerprint(source: SourceConfig, timezone: str) -> str:
    """The settings a source's kept rows were read with (mapping, expressions, filters, status words,
    formats, zone …) and the release's :data:`READ_RULES`, hashed: kept rows are reused only while
    it is unchanged, since they hold values as those settings and rules read them (a new time zone
    moves every naive visit start)."""
    settings = {"source": source.model_dump(mode="json"), "timezone": source.timezone or timezone, "read_rules": READ_RULES}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class KeptState:
    """What the last published run kept. Empty when there is none (a first run, or ``--full-refresh``).

    `rows`: per incremental source, its kept rows (canonical columns, lineage, ``parse_error``;
    timestamps UTC). `watermarks`: per source, the latest kept ``updated_at`` (aware, UTC) or None.
    `classified` / `customers`: the classified visits and customer dates of the last run (visits
    incremental only); `fingerprint`: the classification settings they were computed with.
    """

    rows: dict[str, pl.DataFrame] = field(default_factory=dict)
    watermarks: dict[str, datetime | None] = field(default_factory=dict)
    classified: pl.DataFrame | None = None
    customers: pl.DataFrame | None = None
    fingerprint: str | None = None
    settings: dict[str, str | None] = field(default_factory=dict)  # per source: its source_fingerprint
    # per source: text date column → (dmy | mdy, whether it was assumed) as decided over the kept rows
    date_orders: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)

    def drop_changed(self, current: dict[str, str]) -> dict[str, pl.DataFrame]:
        """Forget the kept rows of every source whose settings changed since they were kept (those
        sources are read whole this run), and then the kept classification too; returns the rows
        forgotten, per source."""
        changed = {name: rows for name, rows in self.rows.items() if self.settings.get(name) != current.get(name)}
        for name in changed:
            del self.rows[name]
            self.watermarks.pop(name, None)
            self.date_orders.pop(name, None)
        if changed:
            self.classified = self.customers = None
        return changed


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone is not None]
    return frame.with_columns(pl.col(zoned).dt.convert_time_zone("UTC")) if zoned else frame


def load_state(live: Path, sources: list[str]) -> KeptState:
    """The kept state of `sources` (the incremental ones) from the live warehouse file.

    A missing file, or a source without kept rows, starts from nothing. Raises WarehouseError when the
    file cannot be opened (WarehouseLockedError naming the holder when another process writes it).
    """
    state = KeptState()
    if not sources or not live.exists():
        return state
    con = open_read_only(live)
    try:
        tables = {r[0] for r in query(con, "tables", folder="state")}
        if "watermark" not in tables:
            return state
        recorded = query(con, "watermarks", folder="state")  # settings NULL in an older state: read whole
        marks = {source: mark for source, mark, _ in recorded}
        state.settings = {source: kept for source, _, kept in recorded}
        for source in sources:
            if source in marks and rows_table(source) in tables:
                state.rows[source] = _utc(con.table(f"state.{rows_table(source)}").pl())
                mark = marks[source]
                state.watermarks[source] = mark
        if "date_order" in tables:
            for source, column, order, assumed in query(con, "date_orders", folder="state"):
                if source in state.rows:
                    state.date_orders.setdefault(source, {})[column] = (order, bool(assumed))
        if "visits" in state.rows and {CLASSIFIED, CUSTOMERS} <= tables:
            fingerprints = con.table("state.classification").select("fingerprint").fetchall()
            state.fingerprint = fingerprints[0][0] if fingerprints else None
            state.classified = _utc(con.table(f"state.{CLASSIFIED}").pl())
            state.customers = con.table(f"state.{CUSTOMERS}").pl()
    finally:
        con.close()
    return state


@dataclass
class NewState:
    """What this run keeps for the next one (written by the publish step, with the marts)."""

    rows: dict[str, pl.DataFrame] = field(default_factory=dict)
    watermarks: dict[str, datetime | None] = field(default_factory=dict)
    classified: pl.DataFrame | None = None
    customers: pl.DataFrame | None = None
    fingerprint: str | None = None
    settings: dict[str, str] = field(default_factory=dict)  # per source: its source_fingerprint
    date_orders: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)  # as KeptState.date_orders

    def watermark_json(self) -> str | None:
        """For ``audit.pipeline_run.watermark``: ``{"visits": "2026-11-30T06:00:00+00:00", …}``."""
        if not self.watermarks:
            return None
        return json.dumps({s: (w.isoformat() if w else None) for s, w in sorted(self.watermarks.items())})


def store_state(con: duckdb.DuckDBPyConnection, state: NewState, run_id: str) -> None:
    """Write `state` into the warehouse being built (its state tables are empty until then)."""
    for source, frame in state.rows.items():
        con.from_arrow(frame.to_arrow()).create(f"state.{rows_table(source)}")
        mark = state.watermarks.get(source)
        query(con, "add_watermark", {"source": source, "watermark": mark, "kept_rows": frame.height, "settings": state.settings.get(source),
                                      "run_id": run_id}, folder="state")
        for column, (order, assumed) in sorted(state.date_orders.get(source, {}).items()):
            query(con, "add_date_order", {"source": source, "column_name": column, "date_order": order, "is_assumed": assumed,
                                           "run_id": run_id}, folder="state")
    if state.classified is not None and state.customers is not None:
        con.from_arrow(state.classified.to_arrow()).create(f"state.{CLASSIFIED}")
        con.from_arrow(state.customers.to_arrow()).create(f"state.{CUSTOMERS}")
        query(con, "add_classification", {"fingerprint": state.fingerprint, "run_id": run_id}, folder="state")
