"""Great Expectations itself, on a sample: the reference the compiled checks are held to.

GX 1.x has no Polars backend, so a sample is handed to it as a pandas frame of only the columns
the suite reads, with NumPy-backed datetimes and numbers (on Arrow-backed ones GX's checks fall
back to a Python call per row) and Arrow-backed text (ids stay text, no float casts). The results
go back as plain dicts: counts and the engine's error, never cell values.

Importing GX costs about 3 s, so :mod:`visitmix.gx_worker` runs this module in a separate process
started when the run starts, in parallel with the reading and parsing.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import polars as pl


@lru_cache(maxsize=1)
def _context():  # noqa: ANN202 - GX's context types are internal
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "temporary docs site" chatter
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def warm() -> str:
    """Import GX and create its context (the slow part), so the first validation is quick."""
    import great_expectations as gx

    _context()
    return gx.__version__


def pandas_view(frame: pl.DataFrame):  # noqa: ANN201 - a pandas DataFrame
    """NumPy-backed datetimes and numbers, Arrow-backed text and nullable integers (see module doc)."""
    import pandas as pd

    columns = {}
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        if dtype == pl.Date:  # GX compares pandas Timestamps, not datetime.date
            series = series.cast(pl.Datetime("us"))
        numpy_backed = dtype.is_temporal() or dtype.is_float() or (dtype.is_integer() and series.null_count() == 0)
        columns[name] = series.to_pandas(use_pyarrow_extension_array=not numpy_backed)
    return pd.DataFrame(columns, copy=False)


def _engine_error(info: dict[str, Any] | None) -> str | None:
    """The message of an exception GX hit computing a check, or None (flat or keyed by metric)."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return entry.get("exception_message") or "GX could not compute this check"
    return None


def validate_sample(sample: pl.DataFrame, definition: dict[str, Any], parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the suite `definition` (GX's JSON form) with GX on `sample`.

    Returns one dict per expectation, in suite order: ``order``, ``success`` (bool),
    ``unexpected_count`` (int or None), ``error`` (GX's engine error, or None).
    """
    import great_expectations as gx

    expectations = []
    for order, spec in enumerate(definition["expectations"]):
        spec = {**spec, "meta": {**spec.get("meta", {}), "check_order": order}}
        expectations.append(spec)
    suite = gx.ExpectationSuite(name=definition["name"], expectations=expectations)
    source = _context().data_sources.add_or_update_pandas(f"visitmix_{definition['name']}")
    asset = source.add_dataframe_asset(definition["name"])
    batch = asset.add_batch_definition_whole_dataframe("sample").get_batch(batch_parameters={"dataframe": pandas_view(sample)})
    result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
                            expectation_parameters=parameters)
    out = []
    for res in result.results:
        payload = res.to_json_dict().get("result") or {}
        out.append(
            {
                "order": res.expectation_config.meta["check_order"],
                "success": bool(res.success),
                "unexpected_count": payload.get("unexpected_count"),
                "error": _engine_error(res.exception_info),
            }
        )
    return sorted(out, key=lambda r: r["order"])
