"""The GX suites in ``expectations/`` compiled to Polars expressions, for exact counts at any size.

Great Expectations validates a pandas frame row by row in Python for several expectation types
and has no Polars backend, so at ten million rows it would dominate the run. The suites stay the
one definition of the checks (GX's own JSON); this module reads them and evaluates each
expectation as a vectorised Polars expression with GX's semantics, and :mod:`visitmix.dq` runs GX
itself on a sample of the same rows and compares the two: a check whose compiled form and GX
disagree is an ``error`` outcome, which stops the run.

Semantics (GX 1.x, pandas engine): column-map expectations ignore NULL values except
``not_be_null`` / ``be_null``; bounds are inclusive unless ``strict_min`` / ``strict_max``;
``unique`` and ``compound_columns_to_be_unique`` flag every copy of a repeated value (rows whose
columns are all NULL are ignored); a ``row_condition`` (pandas syntax: comparisons of a column with
a literal, or ``<column>.isnull()`` / ``.notnull()``, joined by ``&`` / ``|``) restricts the rows a check sees, and a NULL compares as pandas
compares it (``!=`` true, the others false). ``element_count`` counts the rows the check saw.

Supported types: ``expect_column_values_to_(not_)be_null``, ``…_to_be_unique``,
``…_to_be_in_set``, ``…_to_be_between``, ``expect_compound_columns_to_be_unique``,
``expect_table_row_count_to_be_between``. Any other type, or a row condition outside that syntax,
raises :class:`SuiteError` when the suite is compiled — never a silent skip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl


class SuiteError(ValueError):
    """A suite uses something the compiler does not support (the message names the expectation)."""


COLUMN_MAP = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_unique",
}
SUPPORTED = COLUMN_MAP | {"expect_compound_columns_to_be_unique", "expect_table_row_count_to_be_between"}


@dataclass(frozen=True)
class Check:
    """One compiled expectation: `unexpected` is True on each row that fails it."""

    order: int  # position in the suite
    expectation: str  # GX type
    column: str | None
    columns: tuple[str, ...]  # every column it reads (condition included)
    severity: str  # warn | error
    quarantine: bool
    reason: str | None  # the quarantine reason (never a cell value)
    reason_column: str | None  # or: the reason is this column of the failing row
    applies: pl.Expr  # rows the check sees (row_condition), Boolean, never NULL
    unexpected: pl.Expr | None  # Boolean, never NULL; None for a table-level check
    row_count_bounds: tuple[int | None, int | None] | None = None  # table-level
    description: str | None = None  # meta.description: what it checks, in plain language


_NULL_TEST = re.compile(r"^\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\.(isnull|isna|notnull|notna)\(\)\s*\)?\s*$")
_COMPARISON = re.compile(r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*("[^"]*"|'[^']*'|True|False|-?[0-9]+(?:\.[0-9]+)?)\s*$""")


def _literal(text: str) -> Any:
    if text[0] in "\"'":
        return text[1:-1]
    if text in ("True", "False"):
        return text == "True"
    return float(text) if "." in text else int(text)


def parse_row_condition(condition: str) -> tuple[pl.Expr, list[str]]:
    """A pandas ``row_condition`` → (Boolean expression, columns read). Raises SuiteError."""
    disjuncts = re.split(r"\s*(?:\||\bor\b)\s*", condition.strip())
    ors: list[pl.Expr] = []
    columns: list[str] = []
    for disjunct in disjuncts:
        ands: list[pl.Expr] = []
        for term in re.split(r"\s*(?:&|\band\b)\s*", disjunct):
            null_test = _NULL_TEST.match(term)
            if null_test is not None:  # pandas' <column>.isnull() / .notnull(): never NULL itself
                name, method = null_test.group(1), null_test.group(2)
                ands.append(pl.col(name).is_null() if method in ("isnull", "isna") else pl.col(name).is_not_null())
                columns.append(name)
                continue
            match = _COMPARISON.match(term.strip().removeprefix("(").removesuffix(")"))
            if match is None:
                raise SuiteError(f"row_condition '{condition}': '{term}' is not <column> <op> <literal> or <column>.isnull() / .notnull()")
            name, op, literal = match.group(1), match.group(2), _literal(match.group(3))
            column = pl.col(name)
            compared = {
                "==": column == literal, "!=": column != literal, ">": column > literal,
                "<": column < literal, ">=": column >= literal, "<=": column <= literal,
            }[op]
            # pandas: a missing value is unequal to everything and compares false otherwise
            ands.append(compared.fill_null(op == "!="))
            columns.append(name)
        ors.append(pl.all_horizontal(ands))
    return pl.any_horizontal(ors), sorted(set(columns))


def _bound(value: Any, dtype: pl.DataType) -> Any:
    """A suite bound as a value of the column's type (ISO text for dates and times)."""
    if value is None or not isinstance(value, str):
        return value
    if dtype == pl.Date:
        return datetime.fromisoformat(value).date() if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(dtype, pl.Datetime):
        parsed = datetime.fromisoformat(value)
        if dtype.time_zone and parsed.tzinfo is None:
            from zoneinfo import ZoneInfo

            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
        return parsed
    return value


def _between(column: str, kwargs: dict, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(column)
    low, high = _bound(kwargs.get("min_value"), dtype), _bound(kwargs.get("max_value"), dtype)
    outside = pl.lit(False)
    if low is not None:
        if dtype == pl.Date and isinstance(low, datetime):
            value = value.cast(pl.Datetime("us"))
        outside = outside | ((value <= low) if kwargs.get("strict_min") else (value < low))
    if high is not None:
        if dtype == pl.Date and isinstance(high, datetime):
            value = pl.col(column).cast(pl.Datetime("us"))
        outside = outside | ((value >= high) if kwargs.get("strict_max") else (value > high))
    return pl.col(column).is_not_null() & outside


def _resolve(kwargs: dict, parameters: dict[str, Any]) -> dict:
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$PARAMETER" in value:
            name = value["$PARAMETER"]
            if name not in parameters:
                raise SuiteError(f"suite parameter '{name}' has no value")
            value = parameters[name]
        out[key] = value
    return out


def compile_suite(definition: dict, schema: pl.Schema | dict[str, pl.DataType], parameters: dict[str, Any] | None = None) -> list[Check]:
    """Every expectation of a suite (GX's JSON form) as a :class:`Check` over a frame of `schema`.

    A column the frame does not have makes the check unexpected on every row it sees (GX fails
    it too). Raises SuiteError for an unsupported expectation type or row condition.
    """
    checks = []
    names = dict(schema)
    for order, spec in enumerate(definition["expectations"]):
        kind = spec["type"]
        if kind not in SUPPORTED:
            raise SuiteError(f"suite '{definition['name']}': {kind} is not supported by visitmix's compiled checks")
        kwargs = _resolve(spec.get("kwargs", {}), parameters or {})
        meta = spec.get("meta", {})
        applies, read = pl.lit(True), []
        if kwargs.get("row_condition"):
            applies, read = parse_row_condition(kwargs["row_condition"])
        column = kwargs.get("column")
        unexpected: pl.Expr | None = None
        bounds = None
        if kind == "expect_table_row_count_to_be_between":
            bounds = (kwargs.get("min_value"), kwargs.get("max_value"))
        elif kind == "expect_compound_columns_to_be_unique":
            cols = list(kwargs["column_list"])
            read += cols
            present = ~pl.all_horizontal([pl.col(c).is_null() for c in cols])
            unexpected = present & pl.struct(cols).is_duplicated()
        elif column not in names:
            unexpected = pl.lit(True)
        elif kind == "expect_column_values_to_not_be_null":
            unexpected = pl.col(column).is_null()
        elif kind == "expect_column_values_to_be_null":
            unexpected = pl.col(column).is_not_null()
        elif kind == "expect_column_values_to_be_in_set":
            unexpected = pl.col(column).is_not_null() & ~pl.col(column).is_in(list(kwargs["value_set"]))
        elif kind == "expect_column_values_to_be_between":
            unexpected = _between(column, kwargs, names[column])
        else:  # unique: every copy of a repeated value (NULLs ignored)
            unexpected = pl.col(column).is_not_null() & pl.col(column).is_duplicated()
        if column:
            read.append(column)
        if unexpected is not None and kwargs.get("row_condition") and kind in ("expect_column_values_to_be_unique",):
            raise SuiteError(f"suite '{definition['name']}': a row_condition on {kind} is not supported")
        checks.append(
            Check(
                order=order,
                expectation=kind,
                column=column,
                columns=tuple(dict.fromkeys(read)),
                severity=meta.get("severity", "warn"),
                quarantine=bool(meta.get("quarantine")),
                reason=meta.get("reason"),
                reason_column=meta.get("reason_column"),
                applies=applies,
                unexpected=None if unexpected is None else (applies & unexpected).fill_null(False),
                row_count_bounds=bounds,
                description=meta.get("description"),
            )
        )
    return checks


def check_columns(checks: list[Check]) -> list[str]:
    """Every column the checks read (in suite order)."""
    seen: dict[str, None] = {}
    for check in checks:
        seen.update(dict.fromkeys(check.columns))
    return list(seen)


@dataclass
class Evaluated:
    """A suite evaluated on a frame: per check its counts and row mask; per row its first reason."""

    checks: list[Check]
    element_counts: list[int | None]
    unexpected_counts: list[int | None]
    passed: list[bool]
    masks: list[pl.Series | None]  # aligned with the frame's rows; None for table-level checks
    reason: pl.Series  # String per row: the first quarantining check's reason, NULL = not held back
    uncomputable: dict[int, str] = field(default_factory=dict)  # check order → the error's type


def evaluate(frame: pl.DataFrame, checks: list[Check]) -> Evaluated:
    """Evaluate compiled checks on `frame`: linear in its rows.

    Uniqueness uses :func:`transforms.versions.repeated` (hashes sorted, candidates compared
    exactly) instead of ``is_duplicated`` on text, which costs seconds per ten million rows.
    """
    from transforms.versions import repeated

    row_checks = [c for c in checks if c.unexpected is not None]
    hashed = {c.order for c in row_checks if c.expectation == "expect_column_values_to_be_unique" and c.column in frame.columns}
    columns = [c.unexpected.alias(f"u{c.order}") for c in row_checks if c.order not in hashed]
    columns += [c.applies.alias(f"a{c.order}") for c in row_checks]
    failing: dict[int, str] = {}
    try:
        work = frame.select(columns)
    except pl.exceptions.PolarsError:
        # find the checks that cannot be computed on this data (a text column compared with a
        # number, say); the others are still evaluated exactly
        for check in row_checks:
            try:
                frame.head(1000).select(check.unexpected.alias("u"), check.applies.alias("a"))
            except pl.exceptions.PolarsError as exc:
                failing[check.order] = type(exc).__name__
        row_checks = [c for c in row_checks if c.order not in failing]
        work = frame.select(
            *[c.unexpected.alias(f"u{c.order}") for c in row_checks if c.order not in hashed],
            *[c.applies.alias(f"a{c.order}") for c in row_checks],
        )
    work = work.with_columns([repeated(frame.get_column(c.column)).alias(f"u{c.order}") for c in row_checks if c.order in hashed])
    sums = work.select(pl.all().sum()).row(0, named=True) if frame.height and work.width else {}
    masks: list[pl.Series | None] = []
    elements: list[int | None] = []
    unexpected: list[int | None] = []
    passed: list[bool] = []
    for check in checks:
        if check.order in failing:
            masks.append(None)
            elements.append(frame.height)
            unexpected.append(None)
            passed.append(False)
            continue
        if check.unexpected is None:
            low, high = check.row_count_bounds or (None, None)
            masks.append(None)
            elements.append(None)
            unexpected.append(None)
            passed.append((low is None or frame.height >= low) and (high is None or frame.height <= high))
            continue
        masks.append(work.get_column(f"u{check.order}"))
        elements.append(int(sums.get(f"a{check.order}", 0) or 0))
        unexpected.append(int(sums.get(f"u{check.order}", 0) or 0))
        passed.append(unexpected[-1] == 0)
    holding = [c for c in row_checks if c.quarantine]
    if holding:
        reasons = [
            pl.when(pl.col(f"u{c.order}")).then(frame.get_column(c.reason_column) if c.reason_column else pl.lit(c.reason or f"{c.column} failed {c.expectation}"))
            for c in holding
        ]
        reason = work.select(pl.coalesce(reasons).cast(pl.String).alias("reason")).to_series()
    else:
        reason = pl.Series("reason", [None] * frame.height, dtype=pl.String)
    return Evaluated(checks, elements, unexpected, passed, masks, reason, failing)
