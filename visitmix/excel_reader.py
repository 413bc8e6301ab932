"""Excel workbooks (.xlsx, .xls) as visitmix reads them: one sheet, every cell as text.

Read with fastexcel (calamine, the engine of Polars' ``read_excel``) directly, for the positions of
error cells. Before the reader holds a sheet, its XML is looked at once: a used range far beyond
the data (a stray value at XFD1048576) is refused (calamine would ask for hundreds of gigabytes and
abort the process), and so are formula cells without a computed value (a workbook a program wrote
and never calculated: they would read as empty). The workbook's date system (1900 or 1904) is read
from ``xl/workbook.xml``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from visitmix.csv_dialect import TITLE_SCAN, title_rows
from visitmix.errors import SourceError, first_line

Errors = Sequence[tuple[int, int, str]]  # a sheet's error cells: (row, column, the text Excel shows), 0-based


def _duplicate_names(name: str, path: Path, names: list[str]) -> None:
    counts: dict[str, int] = {}
    for column in names:
        key = str(column).lstrip("\ufeff").strip()
        counts[key] = counts.get(key, 0) + 1
    repeated = sorted(n for n, c in counts.items() if c > 1)
    if repeated:
        raise SourceError(
            f"{name} source '{path.name}' has more than one column named {', '.join(repr(n) for n in repeated)}: "
            "rename them in the export (report builders repeat names such as Owner for the account's and the visit's owner)"
        )


# how Excel shows an error cell (calamine's CellErrorType names): a formula's #N/A is read as that
# text, as a CSV saved from the sheet writes it, never as an empty cell
_EXCEL_ERRORS = {
    "NA": "#N/A", "Div0": "#DIV/0!", "Value": "#VALUE!", "Ref": "#REF!", "Name": "#NAME?", "Num": "#NUM!",
    "Null": "#NULL!", "GettingData": "#GETTING_DATA",
}


def _sheet_list(path: Path) -> str:
    """``" (its sheets: 'A', 'B')"`` for a message, or "" where the workbook's sheets cannot be listed."""
    try:
        import fastexcel

        names = ", ".join(f"'{n}'" for n in fastexcel.read_excel(str(path)).sheet_names)
    except Exception:  # noqa: BLE001 - the list is a courtesy; the message stands without it
        names = ""
    return f" (its sheets: {names})" if names else ""


def excel_error(name: str, path: Path, sheet: str | None, exc: BaseException) -> SourceError:
    """The one-sentence error for a workbook the Excel reader refused (a missing sheet, an error value
    of a newer Excel such as #SPILL!, which calamine does not know)."""
    text = first_line(exc)
    if sheet and "sheet" in text.lower():
        return SourceError(f"sources.{name}.sheet: '{path.name}' has no sheet '{sheet}' ({text}){_sheet_list(path)}")
    unknown = re.search(r"[Uu]nsupported cell error value '([^']+)'", text)
    if unknown:
        return SourceError(
            f"cannot read {name} source file '{path}' as Excel: a cell holds the error {unknown.group(1)} (a newer Excel's "
            "error, which the Excel reader does not know): correct the formula or paste its results as values, then save again"
        )
    return SourceError(f"cannot read {name} source file '{path}' as Excel: {text}")


def sheet_grid(source: bytes | Path, sheet: str | None, n_rows: int | None = None) -> tuple[pl.DataFrame, Errors]:
    """The cells of `sheet` (default the first) from sheet row 1 (blank rows kept), every cell as
    text, in columns named by position; and its error cells as (row, column, shown text), 0-based
    in that grid. One parse of the sheet (calamine parses a whole sheet even for `n_rows`, about
    1 s per 300,000 rows; the title scan, the header and the data are all taken from it). Raises
    what fastexcel raises."""
    import fastexcel  # the engine of Polars' read_excel; read directly for the positions of error cells

    # every cell as text: type inference over the first rows silently nulls what doesn't fit
    loaded = fastexcel.read_excel(source if isinstance(source, bytes) else str(source)).load_sheet(
        sheet if sheet is not None else 0, header_row=None, skip_rows=0, n_rows=n_rows, dtypes="string")
    batch, errors = loaded.to_arrow_with_errors()
    cells = []
    for error in errors.errors if errors is not None else []:
        row, column = error.offset_position
        kind = re.search(r"Error\((\w+)\)", error.detail)
        cells.append((row, column, _EXCEL_ERRORS.get(kind.group(1), f"#{kind.group(1).upper()}") if kind else "#ERROR"))
    grid = pl.DataFrame(batch)
    return grid.with_columns(_as_shown(pl.col(c)) for c in grid.columns), cells


def _as_shown(cell: pl.Expr) -> pl.Expr:
    """A date cell's text without the midnight the reader adds (``2025-03-03 00:00:00`` is
    ``2025-03-03``) and a time-only cell's text without the day 0 of Excel's calendar
    (``1899-12-31 10:00:00`` is ``10:00:00``), as the sheet shows them: a Date and a Time column
    joined by an expression (``"Visit Date" || ' ' || "Visit Time"``) then reads as one date and time.
    Slices, no regex: a sheet of dates is rewritten in every cell."""
    # 1899-12-30/31 are day 0 of the 1900 system (no visit is dated then); 1904-01-01, the 1904 system's,
    # is left alone: in most workbooks it is a date; a time must follow (hh:mm:ss, maybe a fraction)
    timed = (cell.str.slice(13, 1) == ":") & (cell.str.slice(16, 1) == ":") & (cell.str.len_bytes() >= 19)
    day0 = (cell.str.starts_with("1899-12-30 ") | cell.str.starts_with("1899-12-31 ")) & timed
    midnight = cell.str.ends_with(" 00:00:00") & (cell.str.len_bytes() == 19)  # YYYY-MM-DD 00:00:00
    # day 0 first: a time-only cell of midnight (1899-12-31 00:00:00) is 00:00:00, not a date
    return pl.when(day0).then(cell.str.slice(11)).when(midnight).then(cell.str.slice(0, 10)).otherwise(cell)


def header_row(grid: pl.DataFrame, skip_rows: int | None) -> int:
    """The rows above the header in `grid` (:func:`sheet_grid`): `skip_rows`, or when it is None
    those of a report's title block (:func:`visitmix.csv_dialect.title_rows` over the first rows;
    a merged title cell is one cell written). Where the header is: :func:`header_position`."""
    if skip_rows is not None:
        return skip_rows
    return title_rows([list(row) for row in grid.head(TITLE_SCAN + 11).iter_rows()])


def header_position(grid: pl.DataFrame, skip_rows: int, errors: Errors = ()) -> int:
    """The grid row of the header after `skip_rows` rows: that row, except that 0 means the sheet's
    first written row (a value or an error cell, `errors` of :func:`sheet_grid`; blank rows above a
    table are not its header; fastexcel's ``header_row`` reads them so, and visitmix read Excel
    through it before: the same cells give the same header)."""
    if skip_rows or not grid.width:
        return skip_rows
    written = grid.select(pl.any_horizontal(pl.all().is_not_null()).arg_true().first()).item()
    return min([row for row, _column, _text in errors] + ([written] if written is not None else []), default=0)


def checked_header(
    name: str, path: Path, grid: pl.DataFrame, skip_rows: int, errors: Errors = (), sheet: str | None = None
) -> tuple[int, list[str]]:
    """The grid row of the header after `skip_rows` rows (:func:`header_position`) and its column
    names: a cell's text as written (a date or number header as its text), a blank cell
    ``column_<position>`` as the CSV reader names it. The run's read and the pre-flight both take it
    from here. Raises SourceError naming the file: an empty sheet, a skip_rows past its last row, a
    name written twice. `sheet`: the sheet's name, for the messages (None: the first)."""
    if not grid.height:
        shown = f"its sheet '{sheet}'" if sheet else "its first sheet"
        raise SourceError(f"cannot read {name} source file '{path}' as Excel: {shown} is empty: set sources.{name}.sheet "
                          f"to the sheet that holds the table{_sheet_list(path)}")
    at = header_position(grid, skip_rows, errors)
    if grid.height <= at:
        rows = f"{grid.height} row{'s' if grid.height != 1 else ''}"
        raise SourceError(f"{name} source file '{path}': skip_rows = {skip_rows} passes every row of the sheet ({rows}), "
                          "so no header row is left: lower it, or leave it out to find the header below a title block")
    cells = grid.row(at)
    _duplicate_names(name, path, [v for v in cells if v is not None and v.strip()])  # blank cells are column_<position>
    return at, [c if c is not None and c.strip() else f"column_{i}" for i, c in enumerate(cells, start=1)]


def read_excel(
    name: str, path: Path, data: bytes, sheet: str | None, skip_rows: int | None = None
) -> tuple[pl.DataFrame, tuple[str, ...], int]:
    """One sheet, every cell as text; the header is the row after `skip_rows` rows (a title above
    it); None: after a report's title block, found by :func:`header_row`.

    Blank rows are kept (numbered and counted with the others); an error cell is its text
    (``#N/A``, ``#REF!`` …); a column with a blank header is ``column_<position>`` (as the pre-flight
    and the CSV reader name it), dropped when it holds nothing. Returns the frame, the names dropped
    and the rows above the header. Raises SourceError naming the file or sheet.
    """
    sheet = sheet or first_visible_sheet(data)
    xml = sheet_xml(data, sheet)
    oversized_sheet(name, path, xml)
    try:
        grid, errors = sheet_grid(data, sheet)
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error types
        raise excel_error(name, path, sheet, exc) from None
    skip_rows = header_row(grid, skip_rows)
    at, names = checked_header(name, path, grid, skip_rows, errors, sheet)
    if missing := uncalculated_formulas(xml):
        shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
        raise SourceError(
            f"{name} source file '{path}': {len(missing)} formula cell{'s' if len(missing) != 1 else ''} ({shown}) "
            f"hold{'s' if len(missing) == 1 else ''} no "
            "computed value (the workbook was written by a program and never calculated), so they would read as empty: "
            "open and save it in Excel or LibreOffice, which calculate it, or export the values"
        )
    grid = filled_merged_cells(grid, xml, at)
    frame = grid.slice(at + 1)
    below: dict[int, tuple[list[int], list[str]]] = {}
    for row, column, text in errors:  # error cells below the header, as their text
        if row > at:
            rows, texts = below.setdefault(column, ([], []))
            rows.append(row - at - 1)
            texts.append(text)
    for column, (rows, texts) in below.items():
        frame = frame.with_columns(frame.to_series(column).scatter(rows, texts))
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    blank = [n for n, cell in zip(names, grid.row(at), strict=True) if cell is None or not cell.strip()]
    empty = [c for c in blank if frame.get_column(c).null_count() == frame.height]
    return frame.drop(empty), tuple(empty), skip_rows


_MERGED = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
# a cell holding a value, as the reader counts it: a <v> with text (after a formula, if any) or an inline string;
# an empty <c ...></c> or <v></v> is no value (the reader's grid does not start at such a cell's column)
_VALUED_CELL = re.compile(
    rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)[0-9]+"[^>]*?(?<!/)>\s*'
    rb'(?:<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>)\s*)?'
    rb'<(?:\w+:)?(?:v>[^<]|is>)'
)


def filled_merged_cells(grid: pl.DataFrame, xml: bytes | None, header: int) -> pl.DataFrame:
    """`grid` (:func:`sheet_grid`) with each cell merged down over several rows below the `header`
    row (a grouped report's "Cancelled" spanning two visits) read in every row it spans, as the sheet
    shows it: the reader gives the value to the first row only, and the others read as blank (a blank
    status is a completed visit). Only the merged range's first column is filled, up to the sheet's
    last row, and only in rows holding something else (a blank separator row the merge spans stays
    blank); merges within one row (across columns) are left as they are. A legacy .xls (no XML) is
    returned as it is."""
    if xml is None or b"mergeCell" not in xml:
        return grid
    # the grid's first column is the sheet's first column holding a cell with content (rows start at row 1)
    used = [_column_number(m.group(1).decode()) for m in _VALUED_CELL.finditer(_sheet_data(xml))]
    if not used:
        return grid
    first = min(used)
    for m in _MERGED.finditer(xml):
        column = _column_number(m.group(1).decode()) - first
        top, bottom = int(m.group(2)) - 1, int(m.group(4)) - 1  # grid rows, 0-based
        bottom = min(bottom, grid.height - 1)
        if bottom <= top or top <= header or not 0 <= column < grid.width:
            continue
        series = grid.to_series(column)
        value = series[top]
        if value is None:
            continue
        span = grid.slice(top + 1, bottom - top)
        written = pl.any_horizontal(pl.all().is_not_null() & (pl.all().str.strip_chars() != ""))
        rows = span.select(span.to_series(column).is_null() & written).to_series().arg_true() + (top + 1)
        grid = grid.with_columns(series.scatter(rows, value)) if rows.len() else grid
    return grid


_CELL_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_CELL_START = re.compile(rb"<(?:\w+:)?c[\s>]")
_CELL_END = re.compile(rb"</(?:\w+:)?c>")
_CACHED = re.compile(rb"<(?:\w+:)?v>[^<]+</(?:\w+:)?v>")


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def first_visible_sheet(source: bytes | Path) -> str | None:
    """The name of the first worksheet a user sees in an .xlsx workbook when the first sheet is hidden
    (a template's lookup sheet, a CRM's "hiddenSheet") or a chart sheet (a report's chart, placed
    first); None when the first sheet is a visible worksheet, or for a legacy .xls. Excel opens on a
    visible sheet; reading a hidden one gave a wrong header, a chart sheet an empty one."""
    import xml.etree.ElementTree as ET

    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as book:
            sheets = list(ET.fromstring(book.read("xl/workbook.xml")).iter(f"{_MAIN_NS}sheet"))
            relations = {r.get("Id"): r.get("Type", "") + " " + r.get("Target", "")
                         for r in ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))}
    except (zipfile.BadZipFile, KeyError, OSError, ET.ParseError):
        return None

    def shown_table(sheet: ET.Element) -> bool:
        return sheet.get("state", "visible") == "visible" and "chartsheet" not in relations.get(sheet.get(_REL_ID), "")

    if not sheets or shown_table(sheets[0]):
        return None
    return next((s.get("name") for s in sheets if shown_table(s)), None)


def sheet_xml(source: bytes | Path, sheet: str | None) -> bytes | None:
    """The XML of worksheet `sheet` (default: the first) of an .xlsx workbook (its bytes or path);
    None for a legacy .xls or a sheet not found here."""
    import xml.etree.ElementTree as ET

    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as book:
            sheets = ET.fromstring(book.read("xl/workbook.xml")).iter(f"{_MAIN_NS}sheet")
            ids = [s.get(_REL_ID) for s in sheets if sheet is None or s.get("name") == sheet]
            targets = {r.get("Id"): r.get("Target", "") for r in ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))}
            if not ids or ids[0] not in targets:
                return None
            target = targets[ids[0]]
            return book.read(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
    except (zipfile.BadZipFile, KeyError, OSError, ET.ParseError):
        return None


# calamine holds a sheet's whole used range, about 32 bytes a cell: a stray value far from the data
# (XFD1048576) makes it ask for hundreds of gigabytes and abort the process
MAX_SHEET_CELLS = 500_000_000


def oversized_sheet(name: str, path: Path, xml: bytes | None) -> None:
    """Raise SourceError when the used range of a sheet (its XML, :func:`sheet_xml`) spans more than
    :data:`MAX_SHEET_CELLS` cells (its last row × its furthest column), before the Excel reader
    tries to hold it."""
    if xml is None:
        return
    data = _sheet_data(xml)
    rows_at = _tags(_prefixes(xml, data), b"row")
    # the largest row number written, or the count of rows where they carry none (r is optional);
    # a <dimension> the writer recorded is not trusted: it may be stale
    numbered = [int(n) for tag in rows_at for n in re.findall(tag + rb'\b[^>]*? r="(\d+)"', data)]
    rows = max(max(numbered, default=0), sum(len(re.findall(tag + rb"[ >]", data)) for tag in rows_at))
    # cells from column AA on (two or three letters) can make it too large with enough rows; their
    # references also name their rows (a row element may carry none, or come out of order)
    wide = [(m.group(1), int(m.group(2))) for m in re.finditer(rb' r="([A-Z]{2,3})([0-9]+)"', data)]
    width = max((_column_number(column.decode()) for column, _row in wide), default=0)
    rows = max(rows, max((row for _column, row in wide), default=0))
    if rows * width > MAX_SHEET_CELLS:
        raise SourceError(
            f"cannot read {name} source file '{path}' as Excel: its used range reaches row {rows:,} and column {width:,} "
            f"({rows * width:,} cells), far beyond the data? a stray value or format (Ctrl+End shows the range's "
            "last cell): delete those rows and columns and save again"
        )


def _sheet_data(xml: bytes) -> bytes:
    """The ``<sheetData>`` element of a sheet's XML (its cells); the whole XML when it has none."""
    start = re.search(rb"<(?:\w+:)?sheetData\b", xml)
    end = max(xml.rfind(b"</sheetData>"), xml.rfind(b":sheetData>"))
    return xml[start.start(): end] if start and end > start.start() else xml


def _prefixes(xml: bytes, data: bytes) -> list[bytes] | None:
    """How the sheet's elements may be spelled: no prefix and each prefix the XML declares (``b"x:"``
    for ``<x:row>``, as some report builders write the main namespace; a sheet may mix them). None
    when some row element has a prefix it does not declare: then search with patterns allowing any
    prefix (many times slower: they have no literal to search for)."""
    declared = sorted({p + b":" for p in re.findall(rb"xmlns:(\w+)=", xml)})
    known = sum(data.count(b"<" + p + b"row") + data.count(b"</" + p + b"row") for p in declared)
    return [b"", *declared] if data.count(b":row") <= known else None


def _tags(prefixes: list[bytes] | None, name: bytes) -> list[bytes]:
    """Patterns for the start tag `name` under each of `prefixes` (:func:`_prefixes`)."""
    if prefixes is None:
        return [rb"<(?:\w+:)?" + name]
    return [b"<" + re.escape(p) + name for p in prefixes]


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def uncalculated_formulas(xml: bytes | None) -> list[str]:
    """References (``E2`` …) of the formula cells of a sheet (its XML, :func:`sheet_xml`) that hold
    no computed value — a workbook written by a program (openpyxl, a report service) and never
    calculated: such a cell reads as empty. Excel and LibreOffice store each formula's value (an
    empty text result as ``t="str"``). [] for a legacy .xls, or a sheet not found."""
    if xml is None:
        return []
    data = _sheet_data(xml)  # formulas elsewhere (a validation list's <xm:f>) are not cells
    prefixes = _prefixes(xml, data)
    found = []
    for match in sorted((m for tag in _tags(prefixes, rb"f[\s>/]") for m in re.finditer(tag, data)), key=lambda m: m.start()):
        start = match.start()  # its cell: the nearest <c> before it (a step back per tag), under any prefix
        while (start := data.rfind(b"<", 0, start)) >= 0 and not _CELL_START.match(data, start):
            pass
        end = _CELL_END.search(data, match.start())
        cell = data[start: end.start() if end else -1]
        tag = cell[: cell.find(b">") + 1]
        if _CACHED.search(cell) or b't="str"' in tag or b't="e"' in tag:
            continue
        ref = _CELL_REF.search(tag)
        found.append(ref.group(1).decode() if ref else "?")
    return found


def excel_1904(data: bytes) -> bool:
    """True for a workbook on the 1904 date system (Mac Excel): serial 0 is 1904-01-01, not 1899-12-30.

    Read from ``xl/workbook.xml`` (``<workbookPr date1904="1"/>``); a legacy .xls says False.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            workbook = book.read("xl/workbook.xml")[:65536]
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    return re.search(rb'<(?:\w+:)?workbookPr[^>]*\bdate1904="(?:1|true)"', workbook) is not None
