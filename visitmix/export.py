"""``visitmix export``: every mart as Parquet or CSV files, for tools that cannot open DuckDB.

One file per mart, named after it (``dim_rep.parquet``, ``visit_mix_monthly.csv``). A mart whose
catalog entry has ``export_by_month`` (the visit-grain ones, which grow with every visit) is a
folder of one file per month instead: ``fct_visit/visit_month=2025-01-01/data_0.parquet`` —
Hive-style folders that DuckDB, Spark, Polars, pyarrow and Power BI's folder connector read as one
table; the month column is inside each file too, so a single CSV also stands on its own (and a
month stays under Excel's 1,048,576 rows). CSV: UTF-8 with a byte-order mark (so that Excel, opening
the file by double-click, shows Thai names as written), comma, a header line, instants in UTC
(``2025-01-05 03:00:00+00``), dates ``YYYY-MM-DD``, NULL as an empty cell. A folder holds one format:
a CSV export into a folder with a Parquet export (or the reverse) is refused, since the monthly
folders of both would have the same name.

The published warehouse is opened read-only, so a run may publish meanwhile (the export then
reads the marts as they were when it started). Each mart is written under a hidden name in the
folder and renamed into place when complete: a reader never sees half a file. Other files in the
folder are left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class ExportFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


@dataclass(frozen=True)
class Exported:
    mart: str  # the table name in schema marts
    path: Path  # a file, or a folder of monthly files
    rows: int


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _writable_folder(out: Path) -> None:
    from visitmix.errors import VisitmixError

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise VisitmixError(f"cannot write to the folder '{out}': {exc.strerror or exc}") from None


def _swap_in(partial: Path, final: Path) -> None:
    aside = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.is_dir() and not final.is_symlink():
        os.replace(final, aside)
    elif final.exists() and partial.is_dir():
        final.unlink()
    os.replace(partial, final)
    shutil.rmtree(aside, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def export_marts(warehouse: Path, out: Path, fmt: ExportFormat | str) -> list[Exported]:
    """Write every table of schema ``marts`` in `warehouse` into the folder `out` as `fmt`.

    Returns one :class:`Exported` per mart, in name order, with the rows written. Replaces files
    and folders named after the marts; nothing else in `out` is touched. Raises VisitmixError when
    the warehouse does not exist or cannot be opened read-only, has no marts yet, or `out` cannot
    be written — never with cell values in the message.
    """
    import duckdb

    from visitmix.catalog import load_catalog
    from visitmix.duck import open_read_only
    from visitmix.errors import VisitmixError

    fmt = ExportFormat(fmt)
    # "~/…" (quoted past the shell) is the home folder, for the folder made here and for DuckDB's COPY,
    # which expands it itself: never a folder named ~ beside files written to the home folder
    warehouse, out = warehouse.expanduser(), out.expanduser()
    if not warehouse.is_file():
        raise VisitmixError(f"warehouse '{warehouse}' does not exist: run `visitmix run` first")
    _writable_folder(out)
    con = open_read_only(warehouse)  # in UTC: CSV instants in UTC, whatever the machine's zone
    try:
        from visitmix.warehouse import foreign, is_ours

        if not is_ours(con):
            raise foreign(warehouse)
        marts = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() and schema_name = 'marts' order by 1"
        ).fetchall()]
        if not marts:
            raise VisitmixError(f"warehouse '{warehouse}' has no marts yet: no run has succeeded")
        _one_format(out, marts, fmt)
        options = "format parquet" if fmt is ExportFormat.parquet else "format csv, header true"
        catalog = load_catalog()
        return [_export_one(con, name, catalog.table(f"marts.{name}"), out, fmt, options) for name in marts]
    finally:
        con.close()


UTF8_BOM = b"\xef\xbb\xbf"


def _with_bom(path: Path) -> None:
    """Prefix a UTF-8 CSV with the byte-order mark Excel needs to read it as UTF-8 (a streamed copy)."""
    marked = path.with_name(f".{path.name}.bom")
    with path.open("rb") as source, marked.open("wb") as target:
        target.write(UTF8_BOM)
        shutil.copyfileobj(source, target, 1 << 20)
    os.replace(marked, path)


def _one_format(out: Path, marts: list[str], fmt: ExportFormat) -> None:
    """Refuse to export into a folder that holds the other format's export of these marts."""
    other = ExportFormat.csv if fmt is ExportFormat.parquet else ExportFormat.parquet
    found = sorted(p.name for p in out.glob(f"*.{other.value}") if p.stem in marts)
    found += sorted(f"{p.parent.parent.name}/…" for p in out.glob(f"*/*/*.{other.value}") if p.parent.parent.name in marts)
    if found:
        from visitmix.errors import VisitmixError

        raise VisitmixError(
            f"'{out}' holds a {other.value} export ({', '.join(found[:3])}): a {fmt.value} export there would replace its "
            f"monthly folders and leave the two formats mixed; export to another folder (--out)"
        )


def _export_one(con, name: str, doc, out: Path, fmt: ExportFormat, options: str) -> Exported:  # noqa: ANN001
    import duckdb

    from visitmix.errors import VisitmixError

    table = f"marts.{_identifier(name)}"
    by_month = doc.export_by_month if doc is not None else None
    final = out / (name if by_month else f"{name}.{fmt.value}")
    partial = out / f".{final.name}.partial-{os.getpid()}"
    _remove(partial)
    try:
        rows = int(con.execute(f"select count(*) from {table}").fetchone()[0])
        if by_month:
            month = _identifier(doc.export_month_column)
            source = f"(select *, date_trunc('month', {_identifier(by_month)})::date as {month} from {table})"
            con.execute(f"copy {source} to {_literal(partial)} ({options}, partition_by ({month}), write_partition_columns true)").fetchall()
            partial.mkdir(exist_ok=True)  # an empty mart: an empty folder
        else:
            con.execute(f"copy {table} to {_literal(partial)} ({options})").fetchall()
        if fmt is ExportFormat.csv:
            for path in partial.rglob("*.csv") if partial.is_dir() else [partial]:
                _with_bom(path)
        _swap_in(partial, final)
    except (duckdb.Error, OSError) as exc:
        _remove(partial)
        raise VisitmixError(f"cannot write marts.{name} to '{final}': {exc}") from None
    return Exported(name, final, rows)


def export_command(
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="parquet or csv.", case_sensitive=False)],  # noqa: A002
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into (created if missing).")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The config whose warehouse to export; default: the bundled sample's.")] = None,
    warehouse: Annotated[Path | None, typer.Option("--warehouse", help="Export this warehouse file instead of the config's.")] = None,
) -> None:
    """Write every mart as Parquet or CSV files: one per mart, visit-grain marts one per month."""
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError

    try:
        path = warehouse or load_config(config).warehouse.path
        exported = export_marts(path, out, format)
    except VisitmixError as exc:
        typer.secho(f"visitmix: error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    width = max((len(item.mart) for item in exported), default=0)
    for item in exported:
        typer.echo(f"marts.{item.mart:<{width}} {item.rows:>10,} rows  {item.path}{os.sep if item.path.is_dir() else ''}")
