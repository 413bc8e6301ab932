"""What every published table and column means, from one file: ``sql/catalog.toml``.

The catalog is written into each warehouse visitmix publishes as ``COMMENT ON TABLE`` /
``COMMENT ON COLUMN`` (BI tools show them as descriptions; DuckDB shows them in
``duckdb_tables()`` / ``duckdb_columns()``) and rendered to ``docs/marts.md``
(:mod:`visitmix.marts_doc`). It also says which marts ``visitmix export`` splits by month.
A new mart needs a section there: a test fails on any column of schema ``marts`` or ``audit``
without one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from visitmix.errors import WarehouseError
from visitmix.paths import SQL_DIR

CATALOG_FILE = SQL_DIR / "catalog.toml"
DESCRIBED_SCHEMAS = ("marts", "audit")
TYPE_ALIASES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}  # short name in the catalog → duckdb_columns().data_type
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
_TABLE_KEYS = {"about", "grain", "key", "export_by_month", "columns"}
_COLUMN_KEYS = {"type", "about"}


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str  # as written in the catalog (TIMESTAMPTZ, VARCHAR …)
    about: str

    @property
    def duckdb_type(self) -> str:
        """The type as ``duckdb_columns().data_type`` spells it."""
        return TYPE_ALIASES.get(self.type, self.type)


@dataclass(frozen=True)
class TableDoc:
    schema: str
    name: str
    about: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[ColumnDoc, ...]
    export_by_month: str | None = None  # a DATE column: export one file per month of it

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def export_month_column(self) -> str | None:
        """The column a by-month export adds and splits on (``visit_date`` → ``visit_month``)."""
        return f"{self.export_by_month.removesuffix('_date')}_month" if self.export_by_month else None

    @property
    def comment(self) -> str:
        """The table's comment: what it is for, its grain and its key."""
        key = ", ".join(self.key) if self.key else "none enforced"
        return f"{self.about} Grain: {self.grain}. Key: {key}."


@dataclass(frozen=True)
class Catalog:
    conventions: str  # how to read units, dates and ids in every table
    tables: tuple[TableDoc, ...]

    def table(self, qualified: str) -> TableDoc | None:
        return next((t for t in self.tables if t.qualified == qualified), None)


@cache
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """Read and check the catalog. Raises WarehouseError naming the file and the key at fault."""
    where = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WarehouseError(f"cannot read the table catalog {where}: {exc}") from None
    conventions = raw.pop("conventions", "")
    tables = []
    for schema, entries in raw.items():
        if schema not in DESCRIBED_SCHEMAS or not isinstance(entries, dict):
            raise WarehouseError(f"{where}: '{schema}' is not one of the schemas {', '.join(DESCRIBED_SCHEMAS)}")
        tables.extend(_table(where, schema, name, entry) for name, entry in entries.items())
    return Catalog(conventions=conventions, tables=tuple(tables))


def _table(where: str, schema: str, name: str, entry: dict) -> TableDoc:
    at = f"{where}: {schema}.{name}"
    unknown = set(entry) - _TABLE_KEYS
    missing = {"about", "grain", "key", "columns"} - set(entry)
    if unknown or missing or not _IDENTIFIER.match(name):
        raise WarehouseError(f"{at}: bad table entry (unknown keys {sorted(unknown)}, missing {sorted(missing)})")
    columns = []
    for column, spec in entry["columns"].items():
        if not _IDENTIFIER.match(column) or not isinstance(spec, dict) or set(spec) != _COLUMN_KEYS:
            raise WarehouseError(f"{at}.columns.{column}: write it as {{ type = \"…\", about = \"…\" }}")
        columns.append(ColumnDoc(column, spec["type"], spec["about"]))
    names = {c.name for c in columns}
    by_month = entry.get("export_by_month")
    if not set(entry["key"]) <= names or (by_month is not None and by_month not in names):
        raise WarehouseError(f"{at}: key and export_by_month must name columns of the table")
    return TableDoc(schema, name, entry["about"], entry["grain"], tuple(entry["key"]), tuple(columns), by_month)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(catalog: Catalog, present: set[tuple[str, str, str | None]] | None = None) -> list[str]:
    """``COMMENT ON`` statements for the catalog (DuckDB takes no parameters there: the text is
    quoted here, and names are checked identifiers from the catalog). With `present`, a set of
    ``(schema, table, None)`` and ``(schema, table, column)``, only those that exist."""
    statements = []
    for table in catalog.tables:
        if present is None or (table.schema, table.name, None) in present:
            statements.append(f'comment on table "{table.schema}"."{table.name}" is {_literal(table.comment)}')
        for column in table.columns:
            if present is None or (table.schema, table.name, column.name) in present:
                statements.append(
                    f'comment on column "{table.schema}"."{table.name}"."{column.name}" is {_literal(column.about)}'
                )
    return statements


def apply_comments(con: duckdb.DuckDBPyConnection, *, only_present: bool = False) -> None:
    """Write the catalog's descriptions into the connection's database.

    Strict by default: a table or column the catalog names but the database lacks raises
    WarehouseError (the catalog is stale). `only_present`: describe what exists and skip the rest
    (an older warehouse, a failed run's audit-only file).
    """
    present = None
    if only_present:
        rows = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and schema_name in ('marts', 'audit')"
        ).fetchall()
        present = {(s, t, c) for s, t, c in rows} | {(s, t, None) for s, t, _ in rows}
    try:
        for statement in comment_statements(load_catalog(), present):
            con.execute(statement).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"sql/{CATALOG_FILE.name} describes a table or column the warehouse does not have: {exc}") from None
