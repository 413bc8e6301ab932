"""CSV files as CRM report builders and spreadsheets write them: every record, nothing misread.

Shape out: one ``pl.String`` column per header name (cells exactly as written, no type inference),
``source_row_number`` (Int64: the 1-based data record of the file, the header not counted; a
quoted cell may span several lines) and ``__row_problem`` (String: NULL, or why the record is not
a row of the table — ``short row: row 7 (line 9) has fewer fields than the header's 5``).

* The dialect (encoding, line ends, delimiter, header) comes from :mod:`visitmix.csv_dialect`.
* Polars parses the records; DuckDB's CSV reader, with its rejects table, reads the same text to
  find the records whose number of fields differs from the header's (Polars pads short rows with
  empty cells and cuts long ones, silently). Both count records the same way, blank lines included,
  so a rejected line number is a record number. A record DuckDB cannot read at all (an unclosed
  quote) refuses the file with the line number, the delimiter used and the key that sets it.
* Blank records (every cell empty after trimming: blank lines, ``,,,,`` rows Excel leaves) are
  skipped and counted, never quarantined.
* Excel's way of keeping leading zeros, ``="00101"``, reads as ``00101``.
* A quote inside an unquoted cell (``demo of 55" TV``) is a character, as in spreadsheets: where
  Polars refuses such a file, Python's csv module reads it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.schema import LINEAGE_COLUMNS, ROW_PROBLEM, SOURCE_ROW
from visitmix import csv_dialect
from visitmix.duck import connect
from visitmix.errors import SourceError

_RAGGED = ("MISSING COLUMNS", "TOO MANY COLUMNS")


@dataclass(frozen=True)
class CsvFile:
    frame: pl.DataFrame
    encoding: str
    delimiter: str
    size_bytes: int
    sha256: str
    skipped_empty_rows: int
    blank_columns: tuple[str, ...] = ()  # column_<position> of blank-header columns dropped as empty
    title_rows: int = 0  # lines of a report's title block found above the header and skipped


def _problem_rows(
    name: str, path: Path, text_path: Path, delimiter: str, columns: int, payload: bytes, skip: int = 0
) -> dict[int, str]:
    """Record number → why it is not a row (wrong field count); SourceError for unreadable records.
    `skip`: lines above the header. DuckDB's line numbers count records from the file's start (a
    quoted title cell over two lines is one, a blank line one), so the records above the header are
    counted the same way (:func:`visitmix.csv_dialect.records_in`). A quote above the header (a title
    starting ``"Key Accounts" visit report``) can make DuckDB's skip swallow the whole table: then
    DuckDB reads a copy of the file from the header on."""
    offset = csv_dialect.line_start(payload, skip)
    if skip and b'"' in payload[:offset]:
        with _utf8_file(path, payload[offset:], unchanged=False) as table_path:
            return _rejected(name, path, table_path, delimiter, columns, payload[offset:], 0, payload.count(b"\n", 0, offset))
    return _rejected(name, path, text_path, delimiter, columns, payload, skip, 0)


def _rejected(
    name: str, path: Path, text_path: Path, delimiter: str, columns: int, payload: bytes, skip: int, lines_above: int
) -> dict[int, str]:
    """:func:`_problem_rows` of `text_path` (whose bytes are `payload`, `lines_above` lines of the
    file cut off above it)."""
    con = connect()
    try:
        names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(columns))
        quote_free = delimiter.replace("'", "''")
        con.execute(
            f"select count(*) from read_csv(?, header = true, delim = '{quote_free}', quote = '\"', escape = '\"', "
            f"auto_detect = false, columns = {{{names}}}, store_rejects = true, strict_mode = true, null_padding = false, "
            f"max_line_size = 1000000000, encoding = 'utf-8', skip = {int(skip)})",
            [str(text_path)],
        ).fetchall()
        rejects = con.execute(
            "select line, min(line_byte_position), min(error_type), count(*) from reject_errors group by line order by line"
        ).fetchall()
    finally:
        con.close()
    problems: dict[int, str] = {}
    above = csv_dialect.records_in(payload, skip) if rejects and skip else 0
    for line, byte_position, error_type, _ in rejects:
        physical = _physical_line(payload, byte_position or 0) + lines_above
        record = int(line) - 1 - above  # DuckDB counts the records above the header, the header and each record as one line
        if error_type not in _RAGGED:
            raise SourceError(
                f"cannot read {name} source file '{path}' as CSV with delimiter {delimiter!r} (set sources.{name}.delimiter): "
                f"line {physical}: {error_type.lower()} (an unclosed quote?)"
            )
        short = error_type == "MISSING COLUMNS"
        problems[record] = (
            f"{'short' if short else 'long'} row: row {record} (line {physical}) has "
            f"{'fewer' if short else 'more'} fields than the header's {columns}"
        ) + ("" if short else _beyond_header(payload, byte_position or 0, delimiter, columns))
    return problems


def _beyond_header(payload: bytes, position: int, delimiter: str, columns: int) -> str:
    """``; beyond them: 'x', 'y'`` — the fields of the record at byte `position` past the header's
    `columns` (a long row keeps only the header's fields, so the rest is named in its reason: nothing
    of the row is lost from the quarantine). At most 200 characters."""
    import csv
    import io

    end = payload.find(b"\n", position)
    end = len(payload) if end < 0 else end
    if payload.count(b'"', position, end) % 2:  # a quoted field goes on past the line: a bounded window
        end = min(len(payload), position + 4096)
    chunk = payload[position:end].decode("utf-8", errors="replace")
    record = next((r for r in csv.reader(io.StringIO(chunk, newline=""), delimiter=delimiter) if r), [])
    beyond = ", ".join(repr(field) for field in record[columns:])
    return f"; beyond them: {beyond[:200]}{'…' if len(beyond) > 200 else ''}" if beyond else ""


def _physical_line(payload: bytes, position: int) -> int:
    """The 1-based line of the file where the record at byte `position` starts. DuckDB may point at
    the blank lines before a record: those are skipped to the record's own line."""
    start = payload.rfind(b"\n", 0, position) + 1  # the start of the line holding `position`
    line = payload.count(b"\n", 0, start) + 1
    while True:
        end = payload.find(b"\n", start)
        if end < 0 or payload[start:end].strip(b" \t\r"):
            return line
        start, line = end + 1, line + 1


@contextmanager
def _utf8_file(path: Path, payload: bytes, unchanged: bool) -> Iterator[Path]:
    """The file as UTF-8 on disk for DuckDB: the original, or a transcoded copy removed afterwards."""
    if unchanged:
        yield path
        return
    handle, copy = tempfile.mkstemp(suffix=".csv", prefix="visitmix-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        yield Path(copy)
    finally:
        os.unlink(copy)


def _unnamed_columns(frame: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Columns with a blank header (Excel's trailing empty columns) are dropped when empty, else
    named ``column_<position>`` so that no value is lost and they can be mapped; and the
    ``column_<position>`` names of those dropped."""
    if len(names) != len(frame.columns):
        return frame, ()
    drop, rename, dropped = [], {}, []
    for position, (header, column) in enumerate(zip(names, frame.columns, strict=True), start=1):
        if header.strip():
            continue
        if frame.get_column(column).str.strip_chars().str.len_bytes().fill_null(0).max() in (0, None):
            drop.append(column)
            dropped.append(f"column_{position}")
        else:
            rename[column] = f"column_{position}"
    return frame.drop(drop).rename(rename), tuple(dropped)


def _excel_text(frame: pl.DataFrame) -> pl.DataFrame:
    """``="00101"`` (Excel's leading-zero trick) → ``00101``, in the columns that use it."""
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String and c not in (ROW_PROBLEM, SOURCE_ROW)]
    columns = [c for c in text if frame.get_column(c).str.starts_with('="').any()]
    return frame.with_columns(pl.col(c).str.replace(r'^="(.*)"$', "${1}") for c in columns) if columns else frame


def _read_leniently(payload: bytes, separator: str, columns: int) -> pl.DataFrame:
    """The records as Python's csv module reads them (a quote inside an unquoted cell is a
    character), shaped as Polars reads the others: the header's names, every cell a String, an
    empty cell NULL, short records padded and long ones cut (both are flagged by _problem_rows)."""
    import csv
    import io

    records = csv.reader(io.StringIO(payload.decode("utf-8"), newline=""), delimiter=separator)
    names = next(records)
    cells: list[list[str | None]] = [[] for _ in range(columns)]
    for record in records:
        for position in range(columns):
            value = record[position] if position < len(record) else ""
            cells[position].append(value if value != "" else None)
    return pl.DataFrame({name: values for name, values in zip(names, cells, strict=True)}, schema={n: pl.String for n in names})


def read_csv(name: str, path: Path, data: bytes, encoding: str | None, delimiter: str | None, skip_rows: int | None = None) -> CsvFile:
    """Read one CSV file's bytes (see the module docstring); `skip_rows` lines above the header (and
    Excel's ``sep=;`` line) are not read; None: a report's title block above it is found and skipped
    (:func:`visitmix.csv_dialect.title_rows`, counted in ``title_rows``). Raises SourceError naming the file."""
    try:
        text, used = csv_dialect.decode(data, encoding)
    except csv_dialect.DialectError as exc:
        key = f"sources.{name}.encoding: " if encoding else ""
        raise SourceError(key + csv_dialect.undecodable(name, path, exc)) from None
    if not text.strip():
        raise SourceError(f"cannot read {name} source file '{path}': the file is empty")
    unchanged = used == "utf-8" and "\r" not in text and not data.startswith(b"\xef\xbb\xbf")
    text = csv_dialect.normalise_line_ends(text.lstrip("\ufeff"))
    skip, table, separator = csv_dialect.locate_header(text, skip_rows, delimiter)
    title = skip - csv_dialect.above_header(text, 0)[0] if skip_rows is None else 0
    if not table.strip():
        raise SourceError(f"cannot read {name} source file '{path}': nothing after the {skip} lines above the header (sources.{name}.skip_rows)")
    header = csv_dialect.read_header(table, separator)
    if [d for d in header.duplicates if d]:
        names = ", ".join(f"'{n}'" for n in header.duplicates if n)
        raise SourceError(
            f"{name} source '{path.name}' has more than one column named {names}: rename them in the export "
            "(report builders repeat names such as Owner for the account's and the visit's owner)"
        )
    reserved = sorted({n.strip() for n in header.names} & set(LINEAGE_COLUMNS))
    if reserved:
        raise SourceError(f"{name} source '{path.name}' has a column named '{reserved[0]}', a name visitmix keeps for lineage; rename it in the export")
    payload = data if unchanged else text.encode("utf-8")
    with _utf8_file(path, payload, unchanged) as text_path:
        try:
            # an empty cell is NULL, as expressions (coalesce, CASE) expect
            frame = pl.read_csv(payload, infer_schema=False, separator=separator, truncate_ragged_lines=True, skip_lines=skip)
        except pl.exceptions.PolarsError:
            _problem_rows(name, path, text_path, separator, len(header.names), payload, skip)  # an unclosed quote: names the line
            # Polars refuses a quote inside an unquoted cell (55" TV); spreadsheets and Python's csv
            # module read it as the character it is
            frame = _read_leniently(table.encode("utf-8"), separator, len(header.names))
        problems = _problem_rows(name, path, text_path, separator, len(frame.columns), payload, skip)
    frame, blank_columns = _unnamed_columns(frame, header.names)
    frame = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    cells = [c for c in frame.columns if c != SOURCE_ROW]
    blank = pl.all_horizontal([pl.col(c).str.strip_chars().str.len_bytes().fill_null(0) == 0 for c in cells]) if cells else pl.lit(True)
    problem = pl.col(SOURCE_ROW).replace_strict(list(problems), list(problems.values()), default=None, return_dtype=pl.String)
    frame = frame.with_columns(problem.alias(ROW_PROBLEM) if problems else pl.lit(None, dtype=pl.String).alias(ROW_PROBLEM))
    kept = frame.filter(~blank)
    return CsvFile(
        frame=_excel_text(kept),
        encoding=used,
        delimiter=separator,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        skipped_empty_rows=frame.height - kept.height,
        blank_columns=blank_columns,
        title_rows=title,
    )
