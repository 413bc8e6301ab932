"""A raw source mapped onto its canonical columns (transforms.canonical), with errors that name keys.

Shape out: see :mod:`transforms.canonical` — the entity's canonical columns, ``source_file``,
``source_row_number`` and ``parse_error``. Each file is parsed on its own, so one export may write
zoned timestamps and another naive ones. Errors are :class:`visitmix.errors.SourceError` naming
the config key (a mapped column or an expression's column the source lacks, an expression that
fails on the data) — never quoting a cell (Polars' own messages do, so they are not shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from transforms import canonical, datetimes
from transforms.schema import ENTITIES, LINEAGE_COLUMNS, SOURCE_FILE, SOURCE_ROW, Entity
from visitmix.config import SourceConfig
from visitmix.dq import ExpectationOutcome
from visitmix.errors import SourceError
from visitmix.sources import DATA_ERRORS, RawSource


def choose_mapping(name: str, config: SourceConfig, available: list[str], files: str) -> dict[str, str]:
    """The expression chosen for each canonical column of source `name`, whose columns are
    `available` (`files` names its files in messages). Raises SourceError naming the config key: an
    expression or a mapped column the source lacks.

    Used on the data (:func:`canonicalise`) and, before Prefect starts, on the headers alone
    (:mod:`visitmix.preflight`): one rule, so a config the pre-flight passes is never refused later
    for its columns.
    """
    entity: Entity = ENTITIES[name]
    try:
        expressions = canonical.choose_expressions(config.expression_alternatives, available)
    except canonical.UnknownExpressionColumns as exc:
        raise SourceError(
            f"sources.{name}.expressions.{exc.column}: the expression reads {', '.join(repr(m) for m in exc.missing)}, "
            f"which the {name} source '{files}' does not have (its columns: {', '.join(available)}); column names "
            f"are case-sensitive. Alternatives that may all be missing: {exc.column} = {{ any_of = [...], optional = true }}"
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"sources.{name}.expressions: {str(exc).splitlines()[0]}") from None
    missing = canonical.missing_columns(config.columns, expressions, entity, available, frozenset(config.take_from_deal))
    if missing:
        wanted = "; ".join(
            f"no column '{source}' for canonical '{column}' (set sources.{name}.columns.{column})" for column, source in missing
        )
        is_json = config.format in ("json", "ndjson") or all(
            f.strip().lower().endswith((".json", ".ndjson", ".jsonl")) for f in files.split(", "))
        is_excel = config.format == "excel" or all(f.strip().lower().endswith((".xlsx", ".xlsm", ".xls")) for f in files.split(", "))
        title = (  # a report's title line read as the header, or a header split on the wrong delimiter: one or two "columns"
            f" — is the table on another sheet of the workbook? set sources.{name}.sheet to its name; or is the header "
            f"further down (a title above it)? set sources.{name}.skip_rows to the rows above it"
            if is_excel and not is_json and (len(available) <= 2 or len(missing) >= 3) else
            f" — is the header further down (a title above it)? set sources.{name}.skip_rows to the lines above it; "
            f"or is it split on the wrong character? set sources.{name}.delimiter (e.g. \";\")"
            if len(available) <= 2 and not is_json else
            " — the file holds no records" if not available else
            " — visitmix reads a JSON array of records ([{...}, {...}]) or one object per line (format = \"ndjson\"), "
            "not records wrapped in an object ({\"results\": [...]}): unwrap them first"
            if len(available) <= 2 else ""
        )
        raise SourceError(f"{name} source '{files}': {wanted}. Its columns are: {', '.join(available)}{title}")
    cursor = config.columns.get("updated_at", "updated_at")
    # over a glob's columns together: files may spell it differently (each file is checked on its own)
    found = "updated_at" not in config.columns and canonical.loose_matches("updated_at", available, frozenset(config.columns.values()))
    if config.mode == "incremental" and "updated_at" not in expressions and cursor not in available and not found:
        raise SourceError(
            f"sources.{name}.mode = \"incremental\" extracts rows by their last-modified time, but the {name} source "
            f"'{files}' has no column '{cursor}': set sources.{name}.columns.updated_at (e.g. \"LastModifiedDate\")"
        )
    if config.take_from_deal and "deal_id" not in config.columns and "deal_id" not in expressions and "deal_id" not in available:
        raise SourceError(f"sources.{name}.take_from_deal needs the visit's deal: set sources.{name}.columns.deal_id")
    return expressions


def check_file_columns(
    name: str, config: SourceConfig, expressions: dict[str, str], source_columns: list[str], file: str, columns: list[str]
) -> None:
    """Raise SourceError when the file `file` of source `name` (its own `columns`) lacks a column the
    mapping reads by name: one mapped in ``columns``, a required or rule column (status, dates,
    is_won …) or ``updated_at`` that other files of the source (`source_columns`) have under its own
    name, or the column a lookup joins on (its ``take`` columns would be empty in that file).
    Files are mapped alike, so such a column would be read as empty in that file: a renamed Status
    column would make every visit of that month completed. An expression (`expressions`) may read
    columns some files lack (they are NULL there, as a preset reading Events and Tasks does).
    """
    entity: Entity = ENTITIES[name]
    have, elsewhere = set(columns), set(source_columns)
    lacking = []
    for column in entity.columns:
        if column.name in expressions:
            continue
        if column.name in config.columns:
            if config.columns[column.name] not in have:
                lacking.append((column.name, config.columns[column.name]))
        elif column.name not in config.take_from_deal:
            taken = frozenset(config.columns.values())
            here = canonical.loose_matches(column.name, columns, taken)
            if len(here) > 1:  # not guessed between: the column would be read as empty
                raise SourceError(
                    f"{name} source file '{file}': the columns {', '.join(repr(c) for c in here)} could each be the "
                    f"canonical '{column.name}': set sources.{name}.columns.{column.name} to the one to read"
                )
            there = canonical.loose_matches(column.name, sorted(elsewhere), taken)
            if not here and (column.required or column.rule or column.name == "updated_at") and (there or column.required):
                lacking.append((column.name, there[0] if there else column.name))
    joins = [(f"sources.{name}.lookups[{index}].on", lookup.on) for index, lookup in enumerate(config.lookups)
             if lookup.on in elsewhere and lookup.on not in have]
    if lacking or joins:
        what = "; ".join([*(f"no column '{source}' for canonical '{column}'" for column, source in lacking),
                          *(f"no column '{source}' for {key} (its lookup's columns would be empty)" for key, source in joins)])
        remedy = "rename the column in that export"
        if lacking:
            column, source = lacking[0]
            if column == "status" and config.missing_status == "by_start":  # files without statuses are meant to be read so
                remedy += (f", or, where that export has no status at all (missing_status = \"by_start\" decides its visits by "
                           f"their start), map it as an expression, which a file may lack: [sources.{name}.expressions] "
                           f"status = '\"{source}\"'")
            else:
                remedy += (f", or map it with an expression over every name the files use, e.g. [sources.{name}.expressions] "
                           f"{column} = 'coalesce(\"{source}\", \"<its name in that file>\")'")
        raise SourceError(
            f"{name} source file '{file}': {what}, which other files of the source have (its columns: {', '.join(columns)}). "
            f"Every file is mapped alike, so it would be read as empty there: {remedy}"
        )


def _expressions(raw: RawSource, config: SourceConfig) -> dict[str, str]:
    """The expression chosen for each canonical column; SourceError naming the key otherwise."""
    return choose_mapping(raw.name, config, raw.columns, ", ".join(sorted({f.name for f in raw.files})))


@dataclass
class Canonical:
    frame: pl.DataFrame
    outcomes: list[ExpectationOutcome]  # written-value checks: eras, daylight saving, unreadable optional cells
    footer_rows: dict[str, int]  # per file label: trailing non-data rows dropped (report footers)
    date_orders: dict[str, tuple[str, bool]] = field(default_factory=dict)  # Plan.settled


@dataclass(frozen=True)
class Plan:
    """How a source's columns are mapped: decided once over all its files (a part read alone maps the same way)."""

    expressions: dict[str, str]
    orders: dict[str, str]  # text date column → "dmy" / "mdy"
    assumed: dict[str, int]  # text date column → dates whose day/month order was assumed
    columns: tuple[str, ...] = ()  # the source's columns over all its files
    # text date column → (order, whether assumed so far), for an incremental source's next batch
    settled: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # text date column whose own dates decided nothing → (the order the other date columns decided, its dates)
    borrowed: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Chunk:
    """Some of a source's files mapped, before the written-value outcomes are counted."""

    frame: pl.DataFrame
    diagnostics: list[dict]  # transforms.canonical.temporal_diagnostics
    footer_rows: dict[str, int]


def plan(raw: RawSource, config: SourceConfig, kept_orders: dict[str, tuple[str, bool]] | None = None) -> Plan:
    """The mapping of every canonical column and the day/month order of every text date column,
    over all of `raw`'s files (and `kept_orders`, an incremental source's orders so far). Raises
    SourceError naming the key."""
    expressions = _expressions(raw, config)
    orders, assumed, settled, borrowed = _date_orders(raw, config, ENTITIES[raw.name], expressions, kept_orders or {})
    return Plan(expressions, orders, assumed, tuple(raw.columns), settled, borrowed)


def canonicalise(
    raw: RawSource, config: SourceConfig, timezone: str, kept_orders: dict[str, tuple[str, bool]] | None = None
) -> Canonical:
    """Map and parse a raw source onto its canonical columns, with the written-value checks.

    The trailing block of non-data rows of each spreadsheet or CSV file (footers and summaries of
    report exports: no key value, or one key and fewer fields than the header or — visits and deals,
    whose rows have two keys or more — at most two cells written; :func:`transforms.canonical.trailing_non_data`)
    is dropped and counted. The
    outcomes count mixed calendar eras, the naive times the daylight-saving policy adjusted and the
    optional cells that could not be read (warnings: counted, not fatal). A source whose files are all
    exports of no records (JSON's ``[]``, an empty NDJSON file: no columns at all) maps to no rows: an
    incremental delta with nothing new (a full source is then stopped by its suite's row count).
    Raises SourceError.
    """
    if raw.parts and all(part.columns == () for part in raw.parts):
        return Canonical(canonical.empty_canonical(ENTITIES[raw.name]), [], {}, dict(kept_orders or {}))
    decided = plan(raw, config, kept_orders)
    chunk = map_files(raw, config, timezone, decided)
    return Canonical(chunk.frame, outcomes(raw.name, config, timezone, decided, chunk.diagnostics, chunk.frame.height), chunk.footer_rows,
                     decided.settled)


def map_files(raw: RawSource, config: SourceConfig, timezone: str, decided: Plan) -> Chunk:
    """`raw`'s files (all, or some of a source's) mapped by `decided`; footers dropped and counted."""
    entity: Entity = ENTITIES[raw.name]
    plans = []
    for part in raw.parts:
        # a file of no records (JSON's [], an empty NDJSON file) has no columns to lack
        if part.columns and part.file.format != "database":
            check_file_columns(raw.name, config, decided.expressions, list(decided.columns), part.file.label, list(part.columns))
        options = canonical.ParseOptions(
            config.timezone or timezone,
            config.calendar,
            "dmy" if config.date_order == "auto" else config.date_order,
            decimal=config.decimal or ("," if part.file.delimiter == ";" else "."),
            excel_serials=part.file.format == "excel",
            excel_1904=part.file.excel_1904,
            status_map=tuple(config.status_map.items()),
            column_date_orders=tuple(decided.orders.items()),
            date_zone=timezone,
            missing_status=config.missing_status,
        )
        plans.append(canonical.to_canonical(part.frame, entity, config.columns, decided.expressions, options, part.columns))
    try:
        # the streaming engine reads and parses file by file in bounded memory; one chunk after: later
        # gathers and sorts are a third faster
        frame = canonical.whole_float_ids(pl.concat(plans, how="diagonal").collect(engine="streaming").rechunk(), entity)
    except DATA_ERRORS as exc:
        raise _data_error(raw, decided.expressions, exc) from None
    raw.verify_unchanged()
    footers: dict[str, int] = {}
    texts = [p.file.label for p in raw.parts if p.file.format in ("csv", "excel")]
    if texts and frame.height:
        keys = [c.name for c in entity.columns if c.required and c.name not in config.take_from_deal]  # as written
        few = _few_cells(raw, frame, canonical.footer_suspects(frame, keys) & frame.get_column(SOURCE_FILE).is_in(texts))
        non_data = canonical.trailing_non_data(frame, keys, few) & frame.get_column(SOURCE_FILE).is_in(texts)
        # a footer ends the file: no row the `where` filter judged out comes after it
        excluded = {p.file.label: p.last_excluded_row for p in raw.parts if p.last_excluded_row is not None}
        if excluded:
            last = pl.col(SOURCE_FILE).replace_strict(excluded, default=0, return_dtype=pl.Int64)
            non_data = non_data & frame.select(pl.col(SOURCE_ROW) > last).to_series()
        if non_data.any():
            footers = dict(frame.filter(non_data).group_by(SOURCE_FILE).len().iter_rows())
            frame = frame.filter(~non_data)
    diagnostics = canonical.temporal_diagnostics(frame)
    return Chunk(frame.drop([c for c in frame.columns if c.startswith(canonical.DIAGNOSTIC_PREFIX)]), diagnostics, footers)


def _few_cells(raw: RawSource, frame: pl.DataFrame, suspects: pl.Series) -> pl.Series | None:
    """For each row of `frame` (mapped from `raw`): whether it is among `suspects` and its raw row
    has at most :data:`transforms.canonical.FOOTER_CELLS` cells written (counted on the source's own
    columns, only for the suspects: a file's last rows). None when there are no suspects."""
    if not suspects.any():
        return None
    wanted = frame.filter(suspects).select(SOURCE_FILE, SOURCE_ROW)
    counted = []
    for part in raw.parts:
        rows = wanted.filter(pl.col(SOURCE_FILE) == part.file.label).get_column(SOURCE_ROW)
        if rows.is_empty():
            continue
        columns = [c for c in part.frame.collect_schema().names() if c not in LINEAGE_COLUMNS]
        written = [(pl.col(c).cast(pl.String).str.strip_chars().str.len_bytes() > 0).fill_null(False).cast(pl.UInt32) for c in columns]
        counted.append(
            part.frame.filter(pl.col(SOURCE_ROW).is_in(rows.implode()))
            .select(SOURCE_FILE, SOURCE_ROW, few=pl.sum_horizontal(written) <= canonical.FOOTER_CELLS)
            .collect()
        )
    if not counted:
        return None
    few = frame.select(SOURCE_FILE, SOURCE_ROW).join(pl.concat(counted), on=[SOURCE_FILE, SOURCE_ROW], how="left", maintain_order="left")
    return few.get_column("few").fill_null(False)


def merge_diagnostics(parts: list[list[dict]]) -> list[dict]:
    """Diagnostics of several chunks of one source as if counted at once: counts add up, samples
    keep the first ten row references in chunk order."""
    merged: dict[tuple[str, str], dict] = {}
    for diagnostics in parts:
        for d in diagnostics:
            into = merged.setdefault((d["kind"], d["column"]), {"column": d["column"], "kind": d["kind"]})
            for key, value in d.items():
                if key == "sample":
                    into["sample"] = [*into.get("sample", []), *value][:10]
                elif key not in ("column", "kind"):
                    into[key] = into.get(key, 0) + value
    return list(merged.values())


def outcomes(name: str, config: SourceConfig, timezone: str, decided: Plan, diagnostics: list[dict], rows: int) -> list[ExpectationOutcome]:
    """The written-value outcomes of a source of `rows` mapped rows, from its chunks' merged `diagnostics`."""
    written = canonical.ParseOptions(config.timezone or timezone, config.calendar)
    found = [_temporal_outcome(name, d, rows, written) for d in diagnostics]
    found += [hint for d in diagnostics if d["kind"] == "era" and (hint := _era_hint(name, d, rows, config.calendar))]
    found += [
        ExpectationOutcome(name, "date_order_assumed", column, "warn", "failed", rows, count, None,
                           f"no value of {column} tells day from month (every field is 12 or less): read day first; "
                           f"set sources.{name}.date_order = \"mdy\" for a US export")
        for column, count in decided.assumed.items()
    ]
    words = {"dmy": "day first", "mdy": "month first"}
    found += [
        ExpectationOutcome(name, "date_order_from_other_columns", column, "info", "passed", rows, count, None,
                           f"no value of {column} tells day from month: read {words[order]}, as the source's other date "
                           f"columns are written; set sources.{name}.date_order to choose")
        for column, (order, count) in decided.borrowed.items()
    ]
    return found


def _date_orders(
    raw: RawSource, config: SourceConfig, entity: Entity, expressions: dict[str, str], kept: dict[str, tuple[str, bool]]
) -> tuple[dict[str, str], dict[str, int], dict[str, tuple[str, bool]], dict[str, tuple[str, int]]]:
    """With ``date_order = "auto"``: per text date column, the order its slash/dot dates are written in;
    a column whose own dates decide nothing takes the order the source's other date columns decided
    (when they agree), and only where none decides is day first assumed.

    Returns (column → order, column → number of dates whose order had to be assumed, column →
    (order, whether it is still an assumption), column → (order, dates) taken from the other columns). `kept`: an incremental source's orders as decided
    over the rows kept so far; a batch whose dates decide nothing is read the same way (a US export's
    batch of the 1st to the 12th of a month is all ambiguous). Raises SourceError for a column that
    mixes day-first and month-first dates, also across batches, and for a batch that contradicts an
    order earlier batches assumed (the kept rows were read the other way: a full refresh reads them
    again). The rule is :func:`transforms.datetimes.decide_date_order`.
    """
    if config.date_order != "auto":
        return {}, {}, {}, {}
    # each file reads the column its own header names (globs may spell it differently: Close Date, CLOSE_DATE)
    resolved = [canonical.source_columns(config.columns, entity, list(part.columns if part.columns is not None else raw.columns)) for part in raw.parts]
    orders, assumed, settled, borrowed = {}, {}, {}, {}
    decided: dict[str, tuple[str | None, int, tuple[str, bool] | None]] = {}  # column → (its own order, dates written, kept)
    for column in entity.columns:
        if column.kind not in ("timestamp", "date") or (column.name not in expressions and all(column.name not in r for r in resolved)):
            continue
        sources = [(part, pl.sql_expr(expressions[column.name]) if column.name in expressions else pl.col(names[column.name]))
                   for part, names in zip(raw.parts, resolved, strict=True) if column.name in expressions or column.name in names]
        frames = [(canonical.expression_inputs(part.frame, [source]), source) for part, source in sources]
        texts = [
            frame.select(datetimes.slash_fields(source.cast(pl.String)).alias("f")).unnest("f")
            for frame, source in frames
            if not frame.select(source).collect_schema().dtypes()[0].is_temporal()
        ]
        earlier = kept.get(column.name)
        if not texts:
            if earlier:
                settled[column.name] = earlier
            continue
        try:
            fields = pl.concat(texts).collect()
        except DATA_ERRORS as exc:
            raise _data_error(raw, expressions, exc) from None
        order = datetimes.decide_date_order(fields)
        written = int(fields.get_column("first").is_not_null().sum())  # slash/dot dates in this batch
        if order == "both":
            raise SourceError(
                f"sources.{raw.name}.date_order: column {column.name} mixes day-first and month-first dates "
                "(a first field above 12 in some, a second one in others); set it to \"dmy\" or \"mdy\""
            )
        decisive = order is not None and written > 0
        if earlier and decisive and order != earlier[0]:
            raise SourceError(_order_conflict(raw.name, column.name, earlier, order))
        decided[column.name] = (order if decisive else None, written, earlier)
    # an export writes its dates in one locale: a column whose own values decide nothing (updated_at of
    # 4/1/2025 and 3/2/2025) reads them as the source's other date columns decided (a visit_start of 3/14/2025)
    siblings = {order for order, _, _ in decided.values() if order is not None}
    for name, (order, written, earlier) in decided.items():
        if order is None and earlier:
            order, still_assumed = earlier[0], earlier[1]
        elif order is None and len(siblings) == 1 and written:
            order, still_assumed = next(iter(siblings)), False
            borrowed[name] = (order, written)
        else:
            still_assumed = order is None
        if still_assumed and written:
            assumed[name] = written
        orders[name] = order or "dmy"
        if not still_assumed or written or earlier:  # a column of ISO dates only has decided nothing yet
            settled[name] = (orders[name], still_assumed)
    return orders, assumed, settled, borrowed


def _order_conflict(source: str, column: str, earlier: tuple[str, bool], order: str) -> str:
    words = {"dmy": "day first", "mdy": "month first"}
    if earlier[1]:
        return (
            f"sources.{source}.date_order: column {column}: earlier runs read its dates {words[earlier[0]]} (nothing decided "
            f"it then, so day first was assumed), but this batch has dates only {words[order]} can read; the kept rows were "
            f"read the other way: set date_order = \"{order}\" and run once with --full-refresh, which reads the source whole"
        )
    return (
        f"sources.{source}.date_order: column {column} mixes day-first and month-first dates across batches (earlier "
        f"runs' were {words[earlier[0]]}, this batch's are {words[order]}); set it to \"dmy\" or \"mdy\" and run with --full-refresh"
    )


def _data_error(raw: RawSource, expressions: dict[str, str], exc: BaseException) -> SourceError:
    """The error for data that could not be mapped: a file that changed since it was read first
    (TransientSourceError, retried), else which expression or `where` failed in which file."""
    raw.verify_unchanged()
    return SourceError(_expression_failure(raw, expressions, exc))


def _expression_failure(raw: RawSource, expressions: dict[str, str], exc: BaseException) -> str:
    """Which expression (or the source's `where`) failed on the data, and in which file, without
    Polars' message (it quotes the offending cells)."""
    culprit, where = None, raw.files[0].name
    for part in raw.parts:  # the first file where one fails is named, not the source's first file
        try:
            part.frame.select(pl.len()).collect()  # the rows themselves: the `where` filter is applied
        except DATA_ERRORS:
            return (
                f"sources.{raw.name}.where: cannot be applied to the data of the {raw.name} source '{part.file.name}' "
                f"({type(exc).__name__}, e.g. a CAST of text that is not a number); the cells are not shown here, "
                "rerun with --debug to see Polars' own message"
            )
        for name, expression in expressions.items():
            try:
                canonical.expression_inputs(part.frame, [expression]).select(pl.sql_expr(expression)).collect()
            except DATA_ERRORS:
                culprit, where = name, part.file.name
                break
        if culprit:
            break
    key = f"sources.{raw.name}.expressions.{culprit}" if culprit else f"sources.{raw.name}.columns"
    return (
        f"{key}: cannot be computed on the data of the {raw.name} source '{where}' "
        f"({type(exc).__name__}, e.g. a CAST of text that is not a number); the cells are not shown here, "
        "rerun with --debug to see Polars' own message"
    )


BUDDHIST_ERA_UNREAD = "buddhist_era_years_unread"
GREGORIAN_UNREAD = "gregorian_years_unread"
# calendar setting → (the era it cannot read, the outcome, what the values are, the remedy)
_UNREAD_ERAS = {
    "gregorian": ("buddhist", BUDDHIST_ERA_UNREAD, "written with a Buddhist-era year (above 2400, e.g. 2567 = 2024) cannot be "
                  'read with calendar = "gregorian" (the default)', '"buddhist", or "auto" where eras mix'),
    "buddhist": ("gregorian", GREGORIAN_UNREAD, "written with a Gregorian year (2400 or less, e.g. 2025) are read as Buddhist "
                 'era with calendar = "buddhist", 543 years earlier, and are no dates',
                 '"auto" (years above 2400 Buddhist era, the others Gregorian), or "gregorian"'),
}


def _era_hint(source: str, counts: dict, rows: int, calendar: str) -> ExpectationOutcome | None:
    """Years the `calendar` setting cannot read are no dates (2567 read as Gregorian, 2025 read as Buddhist
    era: 1482): say which key reads them. None when the column has none."""
    if calendar not in _UNREAD_ERAS or not counts[_UNREAD_ERAS[calendar][0]]:
        return None
    era, expectation, what, remedy = _UNREAD_ERAS[calendar]
    column = counts["column"]
    return ExpectationOutcome.counted(source, expectation, column, rows, counts[era],
                                      f"values of {column} {what}: set sources.{source}.calendar = {remedy}")


def _temporal_outcome(source: str, counts: dict, rows: int, options: canonical.ParseOptions) -> ExpectationOutcome:
    if counts["kind"] == "unreadable":
        import json

        return ExpectationOutcome(
            suite=source, expectation="optional_value_readable", column_name=counts["column"], severity="warn",
            outcome="failed" if counts["unreadable"] else "passed", element_count=rows, unexpected_count=counts["unreadable"],
            unexpected_sample=json.dumps(counts["sample"]) if counts["sample"] else None,
            details=f"values of {counts['column']} that cannot be read: set to NULL, the rows stay",
        )
    if counts["kind"] == "epoch":
        return ExpectationOutcome(
            suite=source, expectation="epoch_timestamps", column_name=counts["column"], severity="info", outcome="passed",
            element_count=rows, unexpected_count=counts["epoch"], unexpected_sample=None,
            details=f"values of {counts['column']} written as epoch seconds or milliseconds, read as UTC instants",
        )
    if counts["kind"] == "era":
        failed = counts["buddhist"] > 0 and counts["gregorian"] > 0
        expectation = "single_calendar_era"
        details = f"{counts['buddhist']} Buddhist-era and {counts['gregorian']} Gregorian years as written (calendar = {options.calendar})"
        unexpected = min(counts["buddhist"], counts["gregorian"])
    else:  # information: the daylight-saving policy did its documented work
        details = (
            f"{counts['gap']} naive times in a daylight-saving gap read one hour later, "
            f"{counts['overlap']} in a repeated hour read as the earlier instant ({options.timezone})"
        )
        return ExpectationOutcome(source, "dst_adjusted_times", counts["column"], "info", "passed", rows,
                                  counts["gap"] + counts["overlap"], None, details)
    return ExpectationOutcome.counted(source, expectation, counts["column"], rows, unexpected, details, failed=failed)
