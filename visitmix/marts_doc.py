"""Render docs/marts.md from sql/catalog.toml (the same text the warehouse carries as comments).

    python -m visitmix.marts_doc           # (make docs) rewrite docs/marts.md
    python -m visitmix.marts_doc --check   # exit 1 when docs/marts.md is not what the catalog renders
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visitmix.catalog import Catalog, TableDoc, load_catalog
from visitmix.paths import PROJECT_ROOT

DOC_FILE = PROJECT_ROOT / "docs" / "marts.md"
_HEADER = """\
# Marts and audit tables

<!-- Generated from sql/catalog.toml by `make docs`; edit the catalog, not this file. -->

What each table and column of the warehouse means. The same descriptions are in the warehouse
itself (`COMMENT ON TABLE` / `COLUMN`): BI tools show them, and DuckDB lists them with
`select table_name, comment from duckdb_tables()` and
`select table_name, column_name, comment from duckdb_columns()`.
Dashboards read schema `marts`; `audit` is for auditors.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(table: TableDoc) -> list[str]:
    key = ", ".join(f"`{k}`" for k in table.key) if table.key else "none enforced"
    lines = [f"### `{table.qualified}`", "", table.about, "", f"- **Grain:** {table.grain}", f"- **Key:** {key}"]
    if table.export_by_month:
        lines.append(
            f"- **Export:** `visitmix export` writes it as a folder `{table.name}/`, one file per month of "
            f"`{table.export_by_month}` (`{table.export_month_column}=YYYY-MM-01/`)"
        )
    lines += ["", "| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {_cell(c.about)} |" for c in table.columns]
    return [*lines, ""]


def render(catalog: Catalog) -> str:
    """The whole of docs/marts.md for `catalog`."""
    lines = [_HEADER, "## Conventions", "", catalog.conventions, ""]
    for schema, title in (("marts", "## Marts (schema `marts`, for dashboards)"), ("audit", "## Audit tables (schema `audit`, for auditors)")):
        lines += [title, ""]
        for table in (t for t in catalog.tables if t.schema == schema):
            lines += _table(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/marts.md from sql/catalog.toml.")
    parser.add_argument("--check", action="store_true", help="only check that docs/marts.md is up to date")
    args = parser.parse_args(argv)
    text = render(load_catalog())
    current = DOC_FILE.read_text(encoding="utf-8") if DOC_FILE.exists() else None
    if args.check:
        if current != text:
            print(f"{DOC_FILE.relative_to(PROJECT_ROOT)} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        DOC_FILE.parent.mkdir(parents=True, exist_ok=True)
        DOC_FILE.write_text(text, encoding="utf-8")
    print(DOC_FILE.relative_to(PROJECT_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
