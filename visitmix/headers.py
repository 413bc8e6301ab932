"""A source's columns from its files' headers alone, for the pre-flight check (issue #12).

Reads the first bytes of each CSV file, the first row of each sheet, the schema of each Parquet
file — never the data — and names the columns as :func:`visitmix.sources.read_source` will: names
trimmed (snake_case for presets), Hive partition folders added, blank CSV/Excel headers as
``column_<position>``, lookups' ``take`` columns added. The set is never smaller than what the run
will see, so a config this check passes is not refused later for a missing column. JSON files have
no header: a source with one is not checked here (its columns are checked when it is read).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from visitmix import csv_dialect
from visitmix.config import SourceConfig
from visitmix.errors import SourceError, SourceMissing, first_line
from visitmix.excel_reader import checked_header, excel_error, first_visible_sheet, header_row, oversized_sheet, sheet_grid, sheet_xml
from visitmix.file_kind import actual_format
from visitmix.sources import FORMATS, clean_names, read_json_file, source_files, wanted_columns

HEADER_BYTES = 1 << 16  # a header record longer than this is cut (no export writes one)


def _line_end(head: bytes, encoding: str | None) -> int:
    """Where the last whole line of `head` ends. In UTF-16 and UTF-32 a line feed is a 2- or 4-byte
    code unit (``0A 00`` little-endian, ``00 0A`` big-endian): the cut falls after the whole unit."""
    end = head.rfind(b"\n")
    name = (encoding or csv_dialect.bom_encoding(head) or "").lower().replace("_", "-")
    width = 4 if "32" in name else 2 if "16" in name else 1
    return end - end % width + width


def _csv_header(name: str, path: Path, config: SourceConfig) -> list[str]:
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_BYTES)
    except OSError as exc:
        raise SourceError(f"cannot read {name} source file '{path}': {exc.strerror or exc}") from None
    if not head.strip():
        raise SourceError(f"cannot read {name} source file '{path}': the file is empty")
    if len(head) == HEADER_BYTES and b"\n" in head:
        head = head[: _line_end(head, config.encoding)]  # whole lines only: never a cut character
    try:
        text, _ = csv_dialect.decode(head, config.encoding)
    except csv_dialect.DialectError as exc:
        raise SourceError(csv_dialect.undecodable(name, path, exc)) from None
    text = csv_dialect.normalise_line_ends(text.lstrip("\ufeff"))
    _skip, table, separator = csv_dialect.locate_header(text, config.skip_rows, config.delimiter)
    names = csv_dialect.read_header(table, separator).names
    return [n if n.strip() else f"column_{i}" for i, n in enumerate(names, start=1)]


def _excel_header(name: str, path: Path, config: SourceConfig) -> list[str]:
    sheet = config.sheet or first_visible_sheet(path)
    oversized_sheet(name, path, sheet_xml(path, sheet))
    # the rows down to the header (0 and None: down to the first written row, wherever it is; the parse is whole anyway)
    rows = config.skip_rows + 1 if config.skip_rows else None
    try:
        grid, errors = sheet_grid(path, sheet, n_rows=rows)
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error types
        raise excel_error(name, path, sheet, exc) from None
    return checked_header(name, path, grid, header_row(grid, config.skip_rows), errors, sheet)[1]


def source_header(name: str, config: SourceConfig) -> list[str] | None:
    """Every column the files of source `name` will have (first-seen order), or None when one of
    them has no header to read (a format the pre-flight does not know). Raises SourceMissing (a path or glob matches nothing) and
    SourceError (a file that cannot be opened), naming the key or file."""
    files = file_headers(name, config)
    if files is None:
        return None
    seen: dict[str, None] = {}
    for _path, names in files:
        seen.update(dict.fromkeys(names))
    return list(seen)


def file_headers(name: str, config: SourceConfig) -> list[tuple[Path, list[str]]] | None:
    """Each file of source `name` with the columns it will have (its lookups' ``take`` columns
    included), or None when one of them has no header to read. A JSON file has none: it is read
    whole (its keys over every record), as the run reads it. Raises as :func:`source_header`."""
    files: list[tuple[Path, list[str]]] = []
    seen: dict[str, None] = {}
    wanted = wanted_columns(config) if config.column_case == "snake" else frozenset()
    for match in source_files(name, config):
        path = match.path
        fmt = "parquet" if match.dataset else actual_format(name, path, config.format or FORMATS.get(path.suffix.lower()))
        if fmt == "csv":
            names = _csv_header(name, path, config)
        elif fmt == "excel":
            names = _excel_header(name, path, config)
        elif fmt == "parquet":
            try:
                names = list(pl.read_parquet_schema(path))
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise SourceError(f"cannot read {name} source file '{path}' as Parquet: {first_line(exc)}") from None
        elif fmt in ("json", "ndjson"):
            names = list(read_json_file(name, path, fmt).columns)
        else:
            return None
        names = [*names, *(k for k in match.partition_values() if k not in names)]
        names = list(clean_names(name, path, names, config.column_case, wanted).values())
        files.append((path, names))
        seen.update(dict.fromkeys(names))
    taken: list[str] = []
    for index, lookup in enumerate(config.lookups):
        key = f"sources.{name}.lookups[{index}]"
        if lookup.on not in seen:
            raise SourceError(f"{key}.on: the {name} source has no column '{lookup.on}'")
        try:
            table = source_header(f"{name}.lookups[{index}]", SourceConfig(path=lookup.path, column_case=config.column_case,
                                                                             encoding=config.encoding))
        except SourceMissing:
            if not lookup.optional:
                raise
            table = None
        wanted = [lookup.lookup_on or lookup.on, *lookup.take]
        if table is not None and not lookup.optional and (missing := [c for c in wanted if c not in table]):
            raise SourceError(f"{key}: the lookup file has no column {', '.join(missing)} (its columns: {', '.join(table)})")
        taken.extend(lookup.take)
        seen.update(dict.fromkeys(lookup.take))
    return [(path, [*names, *(t for t in dict.fromkeys(taken) if t not in names)]) for path, names in files]
