"""Source rows → canonical rows: column mapping, typed parsing and status spellings.

Shape in: a frame of one source with its own column names (CSV columns arrive as ``pl.String``;
Parquet columns keep their types) plus the lineage columns ``source_file`` (String) and
``source_row_number`` (UInt32/Int64, 1-based data row).

Shape out: exactly the entity's canonical columns with the dtypes listed in
:mod:`transforms.schema`, then ``source_file``, ``source_row_number`` and ``parse_error``
(String: NULL, or ``"<column>: the value cannot be read as <kind>"`` for the first cell of the
row that did not parse — never the cell's text, which may hold personal data), and for each date/timestamp column written as text the diagnostic columns
``__diag_era_<column>`` (``buddhist``/``gregorian`` as written) and, in zones with daylight saving,
for each timestamp column holding naive values (text without an offset, or a typed value without a
zone) ``__diag_dst_<column>`` (``gap``/``overlap``), summarised by :func:`temporal_diagnostics` and then
dropped. A cell that does not parse becomes NULL and is reported in ``parse_error``; nothing is
dropped here — quarantine is decided by the validation suite.

Dates and timestamps: see :mod:`transforms.datetimes` (formats, Buddhist-era years, time zones
and the daylight-saving policy). Canonical timestamps are UTC instants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from transforms import datetimes
from transforms.schema import (
    BLANKS,
    COMPLETED,
    PARSE_ERROR,
    ROW_PROBLEM,
    SOURCE_FILE,
    SOURCE_ROW,
    STATUS_SPELLINGS,
    WHOLE_FLOAT_ID,
    ZERO_WIDTH,
    Column,
    Entity,
)

# the only Boolean column is is_won: CRM words for a deal's outcome count too (Won/Lost, Salesforce's
# stage names Closed Won / Closed Lost), and Thai yes/no, true/false, won/lost
_TRUE = ["true", "t", "yes", "y", "1", "won", "closed won", "ใช่", "จริง", "ชนะ"]
_FALSE = ["false", "f", "no", "n", "0", "lost", "closed lost", "ไม่ใช่", "เท็จ", "แพ้"]


def _loose(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.casefold())


def same_name(canonical: str, available: Sequence[str], taken: frozenset[str] = frozenset()) -> str | None:
    """The source column an unmapped canonical column reads: the column of its exact name, else the one
    column whose name equals it ignoring case, spaces, underscores, hyphens and dots (``Status``,
    ``Close Date``, ``IsWon``, ``CUSTOMER_SINCE``), not counting the columns in `taken` (mapped to other
    canonical columns). None when there is none, or several match loosely (the user must choose).

    Rule: a report's ``Status`` column read as no status at all would make every visit completed.
    """
    matches = loose_matches(canonical, available, taken)
    return matches[0] if len(matches) == 1 else None


def loose_matches(canonical: str, available: Sequence[str], taken: frozenset[str] = frozenset()) -> list[str]:
    """The columns :func:`same_name` chooses from: ``[canonical]`` when a column has the exact name,
    else every column named like it but for case, spaces, underscores, hyphens and dots."""
    if canonical in available:
        return [canonical]
    key = _loose(canonical)
    return [name for name in available if name not in taken and _loose(name) == key]


def source_columns(mapping: Mapping[str, str], entity: Entity, available: list[str]) -> dict[str, str]:
    """Resolve which source column feeds each canonical column.

    A canonical name absent from `mapping` reads the source column of the same name, or of the same
    name but for case, spaces, underscores, hyphens and dots when exactly one such column exists
    (:func:`same_name`). Returns ``{canonical_name: source_column}`` for the columns that resolve.
    """
    resolved: dict[str, str] = {}
    taken = frozenset(mapping.values())
    for column in entity.columns:
        if column.name in mapping:
            resolved[column.name] = mapping[column.name]
        elif (found := same_name(column.name, available, taken)) is not None:
            resolved[column.name] = found
    return resolved


def missing_columns(
    mapping: Mapping[str, str],
    expressions: Mapping[str, str],
    entity: Entity,
    available: list[str],
    filled_elsewhere: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """List ``(canonical_name, source_column)`` pairs that a source needs but does not have.

    A required column may instead come from an expression or from elsewhere (``filled_elsewhere``,
    e.g. account and rep taken from the linked deal). A mapped optional column that is absent
    from the source is an error too: the user asked for it by name.
    """
    missing = []
    for column in entity.columns:
        if column.name in expressions:
            continue
        if column.name in mapping:
            if mapping[column.name] not in available:
                missing.append((column.name, mapping[column.name]))
        # over a glob's columns together: files may spell it differently (each file is checked on its own)
        elif column.required and not loose_matches(column.name, available, frozenset(mapping.values())) \
                and column.name not in filled_elsewhere:
            missing.append((column.name, column.name))
    return missing


class UnknownExpressionColumns(ValueError):
    """An expression (or every alternative of one) names columns the source does not have."""

    def __init__(self, column: str, missing: list[str]) -> None:
        super().__init__(f"{column}: no column {', '.join(repr(m) for m in missing)}")
        self.column = column
        self.missing = missing


def expression_columns(expression: str) -> list[str]:
    """The source columns a SQL expression reads (``pl.sql_expr``'s root names, case-sensitive)."""
    return list(pl.sql_expr(expression).meta.root_names())


def expression_inputs(frame: pl.LazyFrame, expressions: Sequence[str | pl.Expr]) -> pl.LazyFrame:
    """`frame` with the text columns the `expressions` (SQL text or Polars expressions) read trimmed
    as every parsed value is (:func:`expression_text_columns`, :func:`as_read`). So an expression or
    a `where` filter compares what the export shows: ``type = 'Meeting'`` keeps a cell written
    ``"Meeting\u200b "``; a Salesforce id with a trailing zero-width space is 18 characters long.
    Other columns are unchanged."""
    text = expression_text_columns(frame, expressions)
    return frame.with_columns(as_read(c) for c in text) if text else frame


def expression_text_columns(frame: pl.LazyFrame, expressions: Sequence[str | pl.Expr]) -> list[str]:
    """The text columns (``pl.String``, and dictionary-typed ``pl.Categorical``/``pl.Enum`` of a
    Parquet export) of `frame` the `expressions` read; an expression that does not parse reads
    nothing here (its error is raised where it is used)."""
    names: dict[str, None] = {}
    for expression in expressions:
        try:
            roots = (pl.sql_expr(expression) if isinstance(expression, str) else expression).meta.root_names()
        except pl.exceptions.PolarsError:
            continue
        names.update(dict.fromkeys(roots))
    schema = frame.collect_schema()
    return [c for c in names if isinstance(schema.get(c), pl.String | pl.Categorical | pl.Enum)]


def as_read(column: str) -> pl.Expr:
    """Text column `column` as ``pl.String`` trimmed as an id or a text value is read: Unicode
    spaces and zero-width characters (:data:`BLANKS`) cut from both ends (those inside stay, as in
    an id)."""
    return pl.col(column).cast(pl.String).str.strip_chars(BLANKS)


def choose_expressions(expressions: Mapping[str, tuple[Sequence[str], bool]], available: list[str]) -> dict[str, str]:
    """Resolve each canonical column's expression: the first alternative whose columns all exist.

    In: ``{canonical_name: (alternatives, optional)}``. A column none of whose alternatives fits
    is left out (unmapped) when `optional`, else :class:`UnknownExpressionColumns` is raised
    naming the columns the first alternative lacks: an expression is never skipped silently.
    Raises ``polars.exceptions.PolarsError`` on an expression that does not parse.
    """
    chosen: dict[str, str] = {}
    have = set(available)
    for name, (alternatives, optional) in expressions.items():
        for candidate in alternatives:
            if set(expression_columns(candidate)) <= have:
                chosen[name] = candidate
                break
        else:
            if not optional:
                first = alternatives[0]
                raise UnknownExpressionColumns(name, [c for c in dict.fromkeys(expression_columns(first)) if c not in have])
    return chosen


def whole_float_id(text: pl.Expr) -> pl.Expr:
    """Id text that a float column wrote for an integer (``101.0``: pandas writes an id column with a
    gap as float, in CSV as in Parquet) → its digits (``101``), so the same id matches across files and
    types; any other text as it is. The regex runs only where a value ends with ``.0`` (cheap check)."""
    return pl.when(_float_suffix(text)).then(text.str.replace(WHOLE_FLOAT_ID, "$1")).otherwise(text)


def _float_suffix(text: pl.Expr) -> pl.Expr:
    return text.str.ends_with(".0") | text.str.ends_with(",0")


def whole_float_ids(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """`frame` (canonical, collected) with its id columns' ``<digits>.0`` text read as the integer
    (:func:`whole_float_id`): pandas writes an id column with a gap to CSV as ``101.0``, and the same id
    in Parquet is read as ``101``. Only a column holding such a value pays for the rewrite (an eager
    check per column: inside the lazy parse the guarded rewrite cost a fifth of the mapping time)."""
    ids = [c.name for c in entity.columns if c.kind == "id" and c.name in frame.columns]
    if not ids:
        return frame
    found = frame.lazy().select(_float_suffix(pl.col(c)).any().alias(c) for c in ids).collect().row(0)  # one parallel pass
    touched = [c for c, hit in zip(ids, found, strict=True) if hit]
    return frame.with_columns(whole_float_id(pl.col(c)).alias(c) for c in touched) if touched else frame


def parse_bool_text(raw: pl.Expr) -> pl.Expr:
    """true/false, yes/no, 1/0, t/f, y/n, won/lost, closed won/closed lost and the Thai ใช่/ไม่ใช่,
    จริง/เท็จ, ชนะ/แพ้ (case, and spaces, underscores or hyphens between words, ignored) → ``pl.Boolean``;
    1 and 0 also written as decimals (``1.0``, ``0.00``, ``1,0``: pandas writes a flag column with a gap
    as float); anything else NULL."""
    t = (raw.str.normalize("NFKC").str.strip_chars(BLANKS).str.to_lowercase().str.replace(r"^([01])[.,]0+$", "$1")
         .str.replace_all(r"[\s_\-]+", " ").str.strip_chars(" "))
    return pl.when(t.is_in(_TRUE)).then(True).when(t.is_in(_FALSE)).then(False).otherwise(None)


_SIGN = r"^[-+]?"
_THOUSANDS_SPACE = r"[ \u00a0\u202f']"  # 1 234,5 (French), 1'234.5 (Swiss)


def parse_number_text(raw: pl.Expr, decimal: str = ".") -> pl.Expr:
    """Numbers as locales write them → ``pl.Float64``; NaN, infinities and overflow → NULL.

    `decimal` is the source's decimal mark (``"."`` or ``","``). Read where the convention is clear:
    ``1,234.5`` and ``1.234,5`` (both marks: the last one is the decimal mark) whatever `decimal`
    says; ``37,5`` / ``37.5`` (one mark, not followed by exactly three digits: a decimal mark);
    ``1,234`` / ``1.234`` (one mark, three digits: a thousands separator unless it is `decimal`);
    spaces and apostrophes between digit groups are thousands separators; Thai (๖๐) and full-width
    digits and marks (１，２３４．５, －５: NFKC) are the digits and marks they are. Anything else: NULL.
    """
    digits = datetimes.NATIVE_DIGITS
    t = raw.str.normalize("NFKC").str.strip_chars(BLANKS).str.replace_many(list(digits), list(digits.values()))
    other = "," if decimal == "." else "."
    d, o = "\\" + decimal, "\\" + other
    grouped_other = rf"{_SIGN}[0-9]{{1,3}}({o}[0-9]{{3}})+({d}[0-9]+)?$"  # 1,234,567.5 with decimal "."
    grouped_decimal = rf"{_SIGN}[0-9]{{1,3}}({d}[0-9]{{3}})+{o}[0-9]+$"  # 1.234,5 when decimal is "." (comma last)
    lone_other = rf"{_SIGN}[0-9]+{o}([0-9]{{1,2}}|[0-9]{{4,}})$"  # 37,5 with decimal ".": not a thousands group
    spaced = rf"{_SIGN}[0-9]{{1,3}}({_THOUSANDS_SPACE}[0-9]{{3}})+([.,][0-9]+)?$"
    normal = (
        pl.when(t.str.contains(spaced))
        .then(t.str.replace_all(_THOUSANDS_SPACE, "").str.replace(",", ".", literal=True))
        .when(t.str.contains(grouped_other))
        .then(t.str.replace_all(other, "", literal=True).str.replace(decimal, ".", literal=True))
        .when(t.str.contains(grouped_decimal))
        .then(t.str.replace_all(decimal, "", literal=True).str.replace(other, ".", literal=True))
        .when(t.str.contains(lone_other))
        .then(t.str.replace(other, ".", literal=True))
        .otherwise(t.str.replace(decimal, ".", literal=True))
    )
    value = normal.cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)  # NaN, inf and 1e309 are not amounts


def status_key(raw: pl.Expr) -> pl.Expr:
    """How status words are compared: Unicode NFKC (Thai ``ำ`` typed as ``ํ`` + ``า`` is the same
    word), trimmed, lower case, runs of spaces and hyphens as ``_``."""
    return raw.str.normalize("NFKC").str.replace_all(ZERO_WIDTH, "").str.strip_chars(BLANKS).str.to_lowercase().str.replace_all(r"[\s\-]+", "_")


def _status_spelling(raw: pl.Expr, status_map: Mapping[str, str], missing: str | None) -> pl.Expr:
    own = {pl.select(status_key(pl.lit(k))).item(): v for k, v in status_map.items()}
    spelled = status_key(raw).replace({**STATUS_SPELLINGS, **own, "": missing})
    return spelled if missing is None else spelled.fill_null(missing)


def by_distinct(raw: pl.Expr, rule: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """`rule` applied once per distinct value of `raw` and mapped back (for a column of few values).

    Same result as ``rule(raw)``; on a status column of ten million rows, half the time.
    """

    def apply(values: pl.Series) -> pl.Series:
        distinct = values.unique()
        results = distinct.to_frame("v").select(rule(pl.col("v"))).to_series()
        return values.replace_strict(distinct, results, return_dtype=dtype)

    return raw.map_batches(apply, return_dtype=dtype)


def normalise_status(raw: pl.Expr, status_map: Mapping[str, str] | None = None, missing_status: str = "completed") -> pl.Expr:
    """CRM status spellings → one of ``VISIT_STATUSES``; NULL/blank → ``completed`` (issue #2), or
    NULL with `missing_status` ``"by_start"`` (decided per run by :func:`transforms.status.status_by_start`).

    `status_map` holds the source's own words (``{"Deferred": "cancelled"}``), matched like the
    built-in spellings (:func:`status_key`) and taking precedence over them. Unknown spellings are
    kept (as their key) so the validation suite can quarantine them and the message can list them.
    Computed once per distinct spelling (a status column holds a handful of them).
    """
    mapping = dict(status_map or {})
    missing = None if missing_status == "by_start" else COMPLETED
    return by_distinct(raw, lambda values: _status_spelling(values, mapping, missing), pl.String())


def _parsed(column: Column, raw: pl.Expr, dtype: pl.DataType, parts: pl.Expr | None, options: ParseOptions) -> pl.Expr:
    kind = column.kind
    if kind == "timestamp":
        if parts is not None:
            written = datetimes.timestamp_from_parts(parts, options.timezone, options.year_calendar)
            epoch = datetimes.from_epoch_text(raw.cast(pl.String))
            if options.excel_serials:  # a 10- or 13-digit number is epoch time there too; a serial has at most 6 digits
                serial = datetimes.naive_from_excel_serial(raw.cast(pl.String), options.excel_1904)
                return pl.coalesce(written, epoch, datetimes.localize(serial, options.timezone))
            return pl.coalesce(written, epoch)
        if dtype.is_integer():  # epoch seconds or milliseconds (HubSpot, JSON APIs)
            return datetimes.from_epoch_number(raw)
        if isinstance(dtype, pl.Datetime):
            value = datetimes.in_year_range(raw.cast(pl.Datetime("us", dtype.time_zone)))
            return value.dt.convert_time_zone("UTC") if dtype.time_zone else datetimes.localize(value, options.timezone)
        if dtype == pl.Date:  # local midnight
            return datetimes.localize(datetimes.in_year_range(raw).cast(pl.Datetime("us")), options.timezone)
        return pl.lit(None, dtype=pl.Datetime("us", "UTC"))  # a type that holds no instant (Time, Duration, …)
    if kind == "date":
        if parts is not None:
            written = (datetimes.local_date_from_parts(parts, options.date_zone, options.year_calendar) if options.date_zone
                       else datetimes.date_from_parts(parts, options.year_calendar))
            # epoch seconds or milliseconds (pandas' to_json, HubSpot's closedate) are instants: dated like them
            epoch = datetimes.instant_day(datetimes.from_epoch_text(raw.cast(pl.String)), options.date_zone or "UTC")
            written = pl.coalesce(written, epoch)
            if options.excel_serials:
                return pl.coalesce(written, datetimes.naive_from_excel_serial(raw.cast(pl.String), options.excel_1904).dt.date())
            return written
        if dtype.is_integer():  # epoch seconds or milliseconds, as for timestamps
            return datetimes.instant_day(datetimes.from_epoch_number(raw), options.date_zone or "UTC")
        if isinstance(dtype, pl.Datetime) and dtype.time_zone and options.date_zone:  # an instant: its day in date_zone
            return datetimes.in_year_range(datetimes.instant_day(raw, options.date_zone))
        if isinstance(dtype, pl.Datetime | pl.Date):
            return datetimes.in_year_range(raw.dt.date() if isinstance(dtype, pl.Datetime) else raw)
        return pl.lit(None, dtype=pl.Date)
    if kind == "bool":
        if dtype.is_numeric():  # 1 / 0 (1.0 / 0.0 from a float column); any other number is no flag
            return pl.when(raw == 1).then(True).when(raw == 0).then(False)
        return raw if dtype == pl.Boolean else parse_bool_text(raw.cast(pl.String))
    if kind == "number":
        if dtype.is_numeric():
            value = raw.cast(pl.Float64)
            return pl.when(value.is_finite()).then(value)
        return parse_number_text(raw.cast(pl.String), options.decimal)
    if kind == "status":
        return normalise_status(raw.cast(pl.String), dict(options.status_map), options.missing_status)
    # id / text: trimmed text, blank = missing; an id that is a spreadsheet's error (a failed VLOOKUP's
    # #N/A) names nothing: missing too, so a visit is quarantined for it instead of joining a fake account
    if kind == "id" and dtype.is_float():  # a column of ids that pandas made float (one NaN in it): 101.0 is id 101
        whole = raw.is_finite() & (raw == raw.floor()) & (raw.abs() < 2.0**53)
        raw = pl.when(whole).then(raw.cast(pl.Int64, strict=False).cast(pl.String)).when(~raw.is_nan()).then(raw.cast(pl.String))  # NaN: missing
    text = raw.cast(pl.String).str.strip_chars(BLANKS)
    missing = text.is_in(_MISSING_IDS) if kind == "id" else text == ""  # one hash lookup: a regex per id cost twice the time
    return pl.when(missing).then(None).otherwise(text)


# the values a spreadsheet shows for a formula that failed (Excel, Google Sheets; LibreOffice also writes Err:502 …)
SPREADSHEET_ERRORS = frozenset({
    "#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!", "#CALC!",
    "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#ERROR!",
})
# an id written as one of these names nothing: blank, a spreadsheet error, LibreOffice's Err:000 … Err:999
_MISSING_IDS = ["", *sorted(SPREADSHEET_ERRORS), *(f"Err:{code:03d}" for code in range(1000))]


@dataclass(frozen=True)
class ParseOptions:
    """How a source writes its values: the zone of naive timestamps, the era and order of dates."""

    timezone: str
    calendar: str = "gregorian"  # gregorian | buddhist | auto (see transforms.datetimes)
    date_order: str = "dmy"  # dmy | mdy, for dates written with slashes or dots
    decimal: str = "."  # the decimal mark of numbers written as text: "." or ","
    excel_serials: bool = False  # a plain number in a date column is an Excel serial date
    excel_1904: bool = False  # … on the 1904 date system (Mac Excel) instead of the 1900 one
    # the source's own status words → a canonical status, matched after normalising (see normalise_status)
    status_map: tuple[tuple[str, str], ...] = ()
    # per canonical column: a date order decided from its values (overrides date_order)
    column_date_orders: tuple[tuple[str, str], ...] = ()
    # the zone whose calendar a date column's instants are dated in (the classification time zone);
    # None: an instant's date as written
    date_zone: str | None = None
    # a visit without status: "completed" (issue #2), or "by_start": left NULL, decided by each run
    # from its start (transforms.status.status_by_start)
    missing_status: str = "completed"

    def date_order_of(self, column: str) -> str:
        return dict(self.column_date_orders).get(column, self.date_order)

    @property
    def year_calendar(self) -> str:
        """How written years are read. In a workbook, ``buddhist`` reads only years above 2400 as
        Buddhist era: a cell Excel stores as a date (shown as ``1/03/2567`` in a Thai locale) reaches
        us as a Gregorian ``2024-03-01 10:00:00``, and a Gregorian year read as Buddhist era is never
        a date (1481) — text cells with Buddhist-era years are still read as such."""
        return "auto" if self.calendar == "buddhist" and self.excel_serials else self.calendar

    @property
    def zone_is_fixed(self) -> bool:
        """True for zones without daylight saving now or in their rules' recent past (e.g. Asia/Bangkok)."""
        return datetimes.has_no_dst(self.timezone)


def to_canonical(
    frame: pl.LazyFrame,
    entity: Entity,
    mapping: Mapping[str, str],
    expressions: Mapping[str, str],
    options: ParseOptions,
    own_columns: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Map and parse one source frame onto `entity`'s canonical columns.

    `mapping` is ``{canonical_name: source_column}``; `expressions` is ``{canonical_name: SQL
    expression over the source's own columns}`` (parsed by ``pl.sql_expr``). Columns neither
    mapped nor present keep NULL (an absent status means completed). `own_columns`: the file's own
    column names when `frame` was aligned with other files' (an unmapped column is found among
    them, :func:`source_columns`); default the frame's. See the module docstring
    for the shape and :mod:`transforms.datetimes` for dates, eras and time zones.
    Raises ``polars.exceptions.SQLSyntaxError``/``SQLInterfaceError`` on a bad expression.
    """
    frame = expression_inputs(frame, list(expressions.values()))
    schema = frame.collect_schema()
    resolved = source_columns(mapping, entity, list(own_columns if own_columns is not None else schema.names()))
    sources: dict[str, pl.Expr] = {}
    for column in entity.columns:
        if column.name in expressions:
            sources[column.name] = pl.sql_expr(expressions[column.name])
        elif column.name in resolved:
            source = pl.col(resolved[column.name])
            # NaN in a float column is pandas' missing value (a flag, an id, a number left blank), not a value
            sources[column.name] = source.fill_nan(None) if schema[resolved[column.name]].is_float() else source
    # stage 1: each source value once under a private name, and the written date parts of text
    # dates/timestamps (one regex pass per column)
    staged = frame.with_columns([expr.alias(f"__raw_{name}") for name, expr in sources.items()])
    dtypes = staged.collect_schema()
    temporal_text = [
        name
        for name in sources
        if entity.column(name).kind in ("timestamp", "date") and not dtypes[f"__raw_{name}"].is_temporal()
    ]
    staged = staged.with_columns(
        [datetimes.parts(pl.col(f"__raw_{n}").cast(pl.String), options.date_order_of(n)).alias(f"__parts_{n}") for n in temporal_text]
    )
    values: dict[str, pl.Expr] = {}
    errors: list[pl.Expr] = []
    unread: list[pl.Expr] = []
    if ROW_PROBLEM in schema.names():  # a record of the file that is not a row of the table
        errors.append(pl.col(ROW_PROBLEM))
    for column in entity.columns:
        if column.name not in sources:
            # an unmapped status means every visit is completed (missing status = completed), or by_start
            missing = COMPLETED if column.kind == "status" and options.missing_status != "by_start" else None
            values[column.name] = pl.lit(missing, dtype=_dtype(column.kind))
            continue
        raw = pl.col(f"__raw_{column.name}")
        dtype = dtypes[f"__raw_{column.name}"]
        parts = pl.col(f"__parts_{column.name}") if column.name in temporal_text else None
        values[column.name] = _parsed(column, raw, dtype, parts, options).cast(_dtype(column.kind))
        if column.kind in ("id", "text", "status"):
            continue  # blank text is missing, any other text is a value: nothing can fail to parse
        written = raw.str.strip_chars(BLANKS).str.len_bytes() > 0 if dtype == pl.String else raw.is_not_null()
        unreadable = (pl.col(f"__value_{column.name}").is_null() & written).fill_null(False)
        if column.rule:  # the rules need it: the row is held back
            errors.append(pl.when(unreadable).then(pl.lit(f"{column.name}: the value cannot be read as {_KIND_NAMES[column.kind]}")))
        else:  # an optional cell never drops a row: NULL, counted
            unread.append(unreadable.alias(f"{DIAGNOSTIC_PREFIX}unreadable_{column.name}"))
    # stage 2: each parsed value once (the parse-error checks below read it, not re-compute it)
    staged = staged.with_columns([expr.alias(f"__value_{name}") for name, expr in values.items()])
    values = {name: pl.col(f"__value_{name}") for name in values}
    parse_error = pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.String)
    diagnostics = list(unread)
    for name in temporal_text:
        parts = pl.col(f"__parts_{name}")
        diagnostics.append(datetimes.written_era(parts).alias(f"{DIAGNOSTIC_PREFIX}era_{name}"))
    for name in sources:  # instants written as epoch numbers: counted, so that a wrong mapping shows
        dtype = dtypes[f"__raw_{name}"]
        if entity.column(name).kind == "timestamp" and (name in temporal_text or dtype.is_integer()):
            raw = pl.col(f"__raw_{name}")
            epoch = datetimes.from_epoch_text(raw.cast(pl.String)) if name in temporal_text else datetimes.from_epoch_number(raw)
            diagnostics.append(epoch.is_not_null().alias(f"{DIAGNOSTIC_PREFIX}epoch_{name}"))
    if not options.zone_is_fixed:
        # the daylight-saving policy applies to naive wall-clock values only: text without an
        # offset, and typed values without a zone; an instant with an offset is never adjusted
        for name in sources:
            if entity.column(name).kind != "timestamp":
                continue
            dtype = dtypes[f"__raw_{name}"]
            if name in temporal_text:
                naive = datetimes.naive_local_from_parts(pl.col(f"__parts_{name}"), options.year_calendar)
            elif dtype == pl.Date:
                naive = pl.col(f"__raw_{name}").cast(pl.Datetime("us"))
            elif isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
                naive = pl.col(f"__raw_{name}").cast(pl.Datetime("us"))
            else:
                continue
            diagnostics.append(datetimes.dst_adjustment(naive, options.timezone).alias(f"{DIAGNOSTIC_PREFIX}dst_{name}"))
    return staged.select(
        *[expr.alias(name) for name, expr in values.items()],
        pl.col(SOURCE_FILE),
        pl.col(SOURCE_ROW).cast(pl.Int64),
        parse_error.cast(pl.String).alias(PARSE_ERROR),
        *diagnostics,
    )


DIAGNOSTIC_PREFIX = "__diag_"
SHORT_ROW = "short row"  # how the CSV reader starts the problem text of a row with fields missing


# a footer line written into a full-width row (an Excel sheet, a CSV re-saved by Excel pads every row
# with empty fields) has at most this many cells written: one text, perhaps a total beside it
FOOTER_CELLS = 2


def footer_suspects(frame: pl.DataFrame, keys: list[str]) -> pl.Series:
    """True for the rows that could belong to a file's trailing footer block on their keys alone:
    a value in at most one key column (`keys`, as for :func:`trailing_non_data`), after the last
    row of the file with two or more. All False when the entity has fewer than two keys: a one-key row of
    accounts or reps ("A1,,2024-01-01,") is data however few cells it writes. In: a canonical frame
    in file order. Linear."""
    if len(keys) < 2:
        return pl.Series("few", [False] * frame.height, dtype=pl.Boolean)
    present = pl.sum_horizontal([pl.col(k).is_not_null().cast(pl.UInt32) for k in keys])
    marked = frame.select(SOURCE_FILE, few=present <= 1, data=(present >= 2).cast(pl.UInt32))
    return marked.select(pl.col("few") & (pl.col("data").cum_sum(reverse=True).over(SOURCE_FILE) == 0)).to_series()


def trailing_non_data(frame: pl.DataFrame, keys: list[str], few_cells: pl.Series | None = None) -> pl.Series:
    """True for each file's trailing block of non-data rows: report footers and summaries.

    A row is a candidate when it has no value in any key column (`keys`: the entity's required
    columns as the source writes them), or a value in at most one key column and fewer fields than
    the header or, in a full-width row (`few_cells`: at most :data:`FOOTER_CELLS` cells written,
    from the raw row; an Excel sheet, a CSV padded with empty fields), hardly any cell written: a
    footer line is one text (``Grand Totals (10 records)``, ``Generated by …``), perhaps with a total
    beside it. The block is the candidates after the last row of the file that is not one. A short
    row with two or more keys (a visit cut off at the end of an export) is data, quarantined as a
    short row, as is any such row in the middle of a file. In: a canonical frame in file order. Linear.
    """
    present = pl.sum_horizontal([pl.col(k).is_not_null().cast(pl.UInt32) for k in keys])
    short = pl.col(PARSE_ERROR).str.starts_with(SHORT_ROW).fill_null(False)
    if few_cells is not None:
        short = short | pl.lit(few_cells)
    candidate = (present == 0) | (short & (present <= 1))
    marked = frame.select(SOURCE_FILE, data=(~candidate).cast(pl.UInt32))
    # rows of the same file at or after this one that are data; 0 = inside the trailing block
    after = marked.select(pl.col("data").cum_sum(reverse=True).over(SOURCE_FILE)).to_series()
    return (after == 0).alias("non_data")


def temporal_diagnostics(canonical: pl.DataFrame) -> list[dict]:
    """Counts behind the written-value checks of one source, from :func:`to_canonical`'s diagnostic columns.

    Returns one dict per column: ``column``, ``kind`` (``era``, ``dst``, ``epoch`` or
    ``unreadable``), and the counts ``buddhist`` / ``gregorian`` (years as written), ``gap`` /
    ``overlap`` (naive times the daylight-saving policy adjusted), ``epoch`` (instants written as
    epoch seconds or milliseconds) or ``unreadable`` with ``sample`` (up to 10 ``file:row`` of
    optional cells that could not be read and were set to NULL).
    """
    out = []
    for name in [c for c in canonical.columns if c.startswith(DIAGNOSTIC_PREFIX)]:
        kind, column = name.removeprefix(DIAGNOSTIC_PREFIX).split("_", 1)
        if kind == "epoch":
            out.append({"column": column, "kind": kind, "epoch": int(canonical.get_column(name).sum())})
            continue
        if kind == "unreadable":
            flagged = canonical.filter(pl.col(name))
            sample = [f"{f}:{r}" for f, r in flagged.select(SOURCE_FILE, SOURCE_ROW).head(10).iter_rows()]
            out.append({"column": column, "kind": kind, "unreadable": flagged.height, "sample": sample})
            continue
        counts = dict(canonical.get_column(name).drop_nulls().value_counts().iter_rows())
        out.append({"column": column, "kind": kind, **{k: int(counts.get(k, 0)) for k in (("buddhist", "gregorian") if kind == "era" else ("gap", "overlap"))}})
    return out


# How a parse error names the kind of value a column needs (never the value itself).
_KIND_NAMES = {
    "timestamp": "a date and time",
    "date": "a date",
    "bool": "true/false (yes/no, won/lost, 1/0)",
    "number": "a number",
    "id": "text",
    "text": "text",
    "status": "a status",
}


def _dtype(kind: str) -> pl.DataType:
    return {
        "timestamp": pl.Datetime("us", "UTC"),
        "date": pl.Date(),
        "bool": pl.Boolean(),
        "number": pl.Float64(),
    }.get(kind, pl.String())


def empty_canonical(entity: Entity) -> pl.DataFrame:
    """A zero-row canonical frame for an input that is not configured (same shape as to_canonical)."""
    schema: dict[str, pl.DataType] = {c.name: _dtype(c.kind) for c in entity.columns}
    schema |= {SOURCE_FILE: pl.String(), SOURCE_ROW: pl.Int64(), PARSE_ERROR: pl.String()}
    return pl.DataFrame(schema=schema)
