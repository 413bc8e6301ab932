"""One generic runner for the Great Expectations suites in ``expectations/``.

GX 1.x has no Polars backend, so the runner hands GX a pandas view of only the columns the suite
checks plus the two lineage columns, with Arrow-backed dtypes (ids stay text, no float casts).
Each expectation's ``meta`` says what a failure means:

* ``severity``: ``warn`` (recorded; row-level failures quarantine rows when ``quarantine`` is
  true) or ``error`` (the run fails before publishing);
* ``reason`` (``{value}`` = the offending value) or ``reason_column`` (take the reason from that
  column of the failing row): the quarantine reason.

Outcomes are ``passed``, ``failed`` or ``error`` (GX could not compute the check). Samples in
the results hold row numbers only, never cell values, so no names or notes leak into reports.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from transforms.schema import SOURCE_FILE, SOURCE_ROW
from visitmix.paths import EXPECTATIONS_DIR

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation: str
    column_name: str | None
    severity: str
    outcome: str  # passed | failed | error
    element_count: int | None
    unexpected_count: int | None
    unexpected_sample: str | None  # JSON list of "file:row" strings, at most SAMPLE_SIZE
    details: str | None = None  # engine error message, or the user-facing reason

    @classmethod
    def counted(
        cls,
        suite: str,
        expectation: str,
        column_name: str | None,
        element_count: int,
        unexpected: pl.DataFrame | int,
        details: str,
        severity: str = "warn",
        failed: bool | None = None,
    ) -> ExpectationOutcome:
        """A check visitmix computes itself (not through GX): `unexpected` is the offending rows
        (sampled by lineage) or their count; it failed when there are any, unless `failed` says."""
        count = unexpected if isinstance(unexpected, int) else unexpected.height
        sample = None if isinstance(unexpected, int) else row_sample(unexpected)
        return cls(
            suite=suite,
            expectation=expectation,
            column_name=column_name,
            severity=severity,
            outcome="failed" if (count > 0 if failed is None else failed) else "passed",
            element_count=element_count,
            unexpected_count=count,
            unexpected_sample=sample,
            details=details,
        )


def row_sample(rows: pl.DataFrame) -> str | None:
    """The first SAMPLE_SIZE rows as a JSON list of "file:row" (lineage only, never cell values)."""
    sample = [f"{f}:{r}" for f, r in rows.select(SOURCE_FILE, SOURCE_ROW).head(SAMPLE_SIZE).iter_rows()]
    return json.dumps(sample) if sample else None


def stopping(outcomes: list[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """Outcomes that must stop the run: an error-severity check that failed, or any check GX
    could not compute (its rows could not be told apart, so nothing is published)."""
    return [o for o in outcomes if o.outcome == "error" or (o.severity == "error" and o.outcome != "passed")]


@dataclass
class SuiteResult:
    suite: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    # one row per failed row-level check: source_file, source_row_number, check_order, reason
    flags: pl.DataFrame = field(default_factory=lambda: _empty_flags())

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """The outcomes that must stop the run (see :func:`stopping`)."""
        return stopping(self.outcomes)


def _empty_flags() -> pl.DataFrame:
    return pl.DataFrame(
        schema={SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64, "check_order": pl.Int64, "reason": pl.String}
    )


def suite_parameters(timezone: str, now: datetime) -> dict[str, str]:
    """Values for the suites' ``$PARAMETER`` references, for a run at `now` (aware) in `timezone`.

    ``min_visit_start``: 2000-01-01 00:00 local time; ``max_visit_start``: a day after `now`;
    ``max_date``: the same bound for date columns (naive).
    """
    tomorrow = now + timedelta(days=1)
    return {
        "min_visit_start": datetime(2000, 1, 1, tzinfo=ZoneInfo(timezone)).isoformat(),
        "max_visit_start": tomorrow.isoformat(),
        "max_date": tomorrow.replace(tzinfo=None).isoformat(),
    }


def load_suite_definition(name: str) -> dict[str, Any]:
    """The suite file ``expectations/<name>.json`` as a dict (GX's own suite serialisation)."""
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _context():  # noqa: ANN202 - GX's context types are internal
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "temporary docs site" chatter
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _checked_columns(definition: dict[str, Any]) -> list[str]:
    columns: list[str] = []
    for exp in definition["expectations"]:
        kwargs = exp["kwargs"]
        for name in [kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(kwargs.get("column_list", [])):
            if name and name not in columns:
                columns.append(name)
        condition = kwargs.get("row_condition") or ""
        for name in _condition_columns(condition):
            if name not in columns:
                columns.append(name)
    return columns


def _condition_columns(condition: str) -> list[str]:
    # identifiers in a pandas row_condition; names that are not frame columns are dropped later
    return re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b", condition)


def validate_frame(
    frame: pl.DataFrame,
    suite_name: str,
    parameters: dict[str, Any] | None = None,
    index_columns: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW),
) -> SuiteResult:
    """Validate `frame` against ``expectations/<suite_name>.json``.

    In: a frame holding the columns the suite checks and the `index_columns` that name a row
    in samples and flags (for canonical inputs the lineage columns ``source_file`` /
    ``source_row_number``; for marts their key). `parameters` fill ``{"$PARAMETER": name}``.
    Out: a :class:`SuiteResult` with one outcome per expectation, in suite order, and the
    row-level failures of quarantining expectations as ``flags`` (canonical inputs only).
    """
    import great_expectations as gx

    definition = load_suite_definition(suite_name)
    for order, spec in enumerate(definition["expectations"]):
        # GX returns results in its own order; the suite position travels in meta
        spec.setdefault("meta", {})["check_order"] = order
    suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
    columns = [c for c in _checked_columns(definition) if c in frame.columns and c not in index_columns]
    view = _pandas_view(frame.select(*index_columns, *columns))

    source = _context().data_sources.add_or_update_pandas(f"visitmix_{suite_name}")
    asset = source.add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe("run").get_batch(batch_parameters={"dataframe": view})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(index_columns),
            "partial_unexpected_count": 0,
            "include_unexpected_rows": False,
        },
        expectation_parameters=parameters or {},
    )
    return _interpret(suite_name, result.results, index_columns)


def _pandas_view(frame: pl.DataFrame):  # noqa: ANN202 - a pandas DataFrame
    """Arrow-backed text (ids stay text, no float casts), NumPy-backed numbers and datetimes.

    GX's pandas metrics only take their vectorised path for NumPy dtypes; on Arrow-backed
    datetimes and floats they fall back to a Python call per row (about 30 s per million rows).
    Converting column by column keeps the copy cheap (bench/bench_pipeline.py measures it).
    """
    import pandas as pd

    columns = {}
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        if dtype == pl.Date:  # GX compares pandas Timestamps, not datetime.date
            series = series.cast(pl.Datetime("us"))
        numpy_backed = dtype.is_temporal() or dtype.is_float() or (dtype.is_integer() and series.null_count() == 0)
        columns[name] = series.to_pandas(use_pyarrow_extension_array=not numpy_backed)
    return pd.DataFrame(columns, copy=False)


def _interpret(suite_name: str, results: list[Any], index_columns: tuple[str, ...]) -> SuiteResult:
    out = SuiteResult(suite=suite_name)
    flag_parts: list[pl.DataFrame] = []
    by_order = sorted(results, key=lambda r: r.expectation_config.meta["check_order"])
    for res in by_order:
        meta = res.expectation_config.meta
        order = meta["check_order"]
        column = res.expectation_config.kwargs.get("column")
        payload = res.to_json_dict().get("result") or {}
        engine_error = _engine_error(res.exception_info)
        if engine_error is not None:
            outcome, details = "error", engine_error
        else:
            outcome = "passed" if res.success else "failed"
            details = (meta.get("reason") or "").replace("'{value}'", "…").replace("{value}", "…") or None
        index = payload.get("unexpected_index_list") or []
        # the row's index columns only (file:row, or a mart key), never other cell values
        sample = [":".join(str(item.get(c)) for c in index_columns) for item in index[:SAMPLE_SIZE]]
        out.outcomes.append(
            ExpectationOutcome(
                suite=suite_name,
                expectation=res.expectation_config.type,
                column_name=column,
                severity=meta.get("severity", "warn"),
                outcome=outcome,
                element_count=payload.get("element_count"),
                unexpected_count=payload.get("unexpected_count"),
                unexpected_sample=json.dumps(sample, ensure_ascii=False) if sample else None,
                details=details,
            )
        )
        if meta.get("quarantine") and index:
            flag_parts.append(_flags(index, order, column, meta))
    if flag_parts:
        out.flags = pl.concat(flag_parts)
    return out


def _engine_error(info: dict[str, Any] | None) -> str | None:
    """The message of an exception GX hit computing a check, or None.

    GX 1.x reports it either flat (``{"raised_exception": True, ...}``) or keyed by metric id.
    """
    if not info:
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return entry.get("exception_message") or "GX could not compute this check"
    return None


def _flags(index: list[dict[str, Any]], order: int, column: str | None, meta: dict[str, Any]) -> pl.DataFrame:
    """GX's unexpected index list → flag rows with their quarantine reason."""
    value_column = meta.get("reason_column") or column
    schema: dict[str, pl.DataType] = {SOURCE_FILE: pl.String(), SOURCE_ROW: pl.Int64()}
    if value_column:
        schema[value_column] = pl.String()
    rows = pl.from_dicts(index, schema=schema, strict=False)
    value = pl.col(value_column) if value_column else pl.lit(None, dtype=pl.String)
    template = meta.get("reason", f"{column} failed a check")
    head, found, tail = template.partition("{value}")
    if meta.get("reason_column"):
        reason = value
    elif found:
        reason = pl.concat_str([pl.lit(head), value.fill_null(""), pl.lit(tail)])
    else:
        reason = pl.lit(template)
    return rows.select(SOURCE_FILE, SOURCE_ROW, pl.lit(order, dtype=pl.Int64).alias("check_order"), reason.alias("reason"))
