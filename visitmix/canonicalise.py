"""A raw source mapped onto its canonical columns (transforms.canonical), with errors that name keys.

Shape out: see :mod:`transforms.canonical` — the entity's canonical columns, ``source_file``,
``source_row_number`` and ``parse_error``. Each file is parsed on its own, so one export may write
zoned timestamps and another naive ones. Errors are :class:`visitmix.errors.SourceError` naming
the config key (a mapped column or an expression's column the source lacks, an expression that
fails on the data) — never quoting a cell (Polars' own messages do, so they are not shown).
"""

from __future__ import annotations

import polars as pl

from transforms import canonical
from transforms.schema import ENTITIES, Entity
from visitmix.config import SourceConfig
from visitmix.dq import ExpectationOutcome
from visitmix.errors import SourceError
from visitmix.sources import RawSource


def _expressions(raw: RawSource, config: SourceConfig, entity: Entity) -> dict[str, str]:
    """The expression chosen for each canonical column; SourceError naming the key otherwise."""
    available = raw.columns
    files = ", ".join(sorted({f.name for f in raw.files}))
    try:
        expressions = canonical.choose_expressions(config.expression_alternatives, available)
    except canonical.UnknownExpressionColumns as exc:
        raise SourceError(
            f"sources.{raw.name}.expressions.{exc.column}: the expression reads {', '.join(repr(m) for m in exc.missing)}, "
            f"which the {raw.name} source '{files}' does not have (its columns: {', '.join(available)}); column names "
            f"are case-sensitive. Alternatives that may all be missing: {exc.column} = {{ any_of = [...], optional = true }}"
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"sources.{raw.name}.expressions: {str(exc).splitlines()[0]}") from None
    missing = canonical.missing_columns(config.columns, expressions, entity, available, frozenset(config.take_from_deal))
    if missing:
        wanted = "; ".join(
            f"no column '{source}' for canonical '{name}' (set sources.{raw.name}.columns.{name})" for name, source in missing
        )
        raise SourceError(f"{raw.name} source '{files}': {wanted}. Its columns are: {', '.join(available)}")
    if config.take_from_deal and "deal_id" not in config.columns and "deal_id" not in expressions and "deal_id" not in available:
        raise SourceError(f"sources.{raw.name}.take_from_deal needs the visit's deal: set sources.{raw.name}.columns.deal_id")
    return expressions


def canonicalise(raw: RawSource, config: SourceConfig, timezone: str) -> tuple[pl.DataFrame, list[ExpectationOutcome]]:
    """Map and parse a raw source onto its canonical columns, with the written-date checks.

    Returns (canonical frame, outcomes): the outcomes count mixed calendar eras and the naive times
    the daylight-saving policy adjusted (warnings: counted, not fatal). Raises SourceError.
    """
    entity: Entity = ENTITIES[raw.name]
    expressions = _expressions(raw, config, entity)
    plans = []
    for part in raw.parts:
        options = canonical.ParseOptions(config.timezone or timezone, config.calendar, config.date_order,
                                         excel_serials=part.file.format == "excel")
        plans.append(canonical.to_canonical(part.frame, entity, config.columns, expressions, options))
    try:
        # the streaming engine reads and parses file by file in bounded memory; one chunk after: later
        # gathers and sorts are a third faster
        frame = pl.concat(plans, how="diagonal").collect(engine="streaming").rechunk()
    except pl.exceptions.PolarsError as exc:
        raise SourceError(_expression_failure(raw, expressions, exc)) from None
    raw.verify_unchanged()
    written = canonical.ParseOptions(config.timezone or timezone, config.calendar, config.date_order)
    outcomes = [_temporal_outcome(raw.name, d, frame.height, written) for d in canonical.temporal_diagnostics(frame)]
    return frame.drop([c for c in frame.columns if c.startswith(canonical.DIAGNOSTIC_PREFIX)]), outcomes


def _expression_failure(raw: RawSource, expressions: dict[str, str], exc: Exception) -> str:
    """Which expression failed on the data, without Polars' message (it quotes the offending cells)."""
    culprit = None
    for name, expression in expressions.items():
        try:
            pl.collect_all([part.frame.select(pl.sql_expr(expression)) for part in raw.parts])
        except pl.exceptions.PolarsError:
            culprit = name
            break
    key = f"sources.{raw.name}.expressions.{culprit}" if culprit else f"sources.{raw.name}.columns"
    return (
        f"{key}: cannot be computed on the data of the {raw.name} source '{raw.files[0].name}' "
        f"({type(exc).__name__}, e.g. a CAST of text that is not a number); the cells are not shown here, "
        "rerun with --debug to see Polars' own message"
    )


def _temporal_outcome(source: str, counts: dict, rows: int, options: canonical.ParseOptions) -> ExpectationOutcome:
    if counts["kind"] == "era":
        failed = counts["buddhist"] > 0 and counts["gregorian"] > 0
        expectation = "single_calendar_era"
        details = f"{counts['buddhist']} Buddhist-era and {counts['gregorian']} Gregorian years as written (calendar = {options.calendar})"
        unexpected = min(counts["buddhist"], counts["gregorian"])
    else:
        failed = counts["gap"] + counts["overlap"] > 0
        expectation = "dst_adjusted_times"
        details = (
            f"{counts['gap']} naive times in a daylight-saving gap read one hour later, "
            f"{counts['overlap']} in a repeated hour read as the earlier instant ({options.timezone})"
        )
        unexpected = counts["gap"] + counts["overlap"]
    return ExpectationOutcome.counted(source, expectation, counts["column"], rows, unexpected, details, failed=failed)
