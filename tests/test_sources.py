"""File sources as users have them: encodings, BOM and quoting, delimiters, Excel, JSON, globs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from transforms.canonical import ParseOptions, to_canonical
from transforms.schema import ACCOUNTS, VISITS
from visitmix.config import SourceConfig
from visitmix.errors import SourceError
from visitmix.sources import read_source

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
BKK = "Asia/Bangkok"



def test_cp874_thai_csv_is_byte_exact_and_buddhist_dates_parse():
    source = SourceConfig(path=FIXTURES / "thai_cp874.csv", calendar="auto",
                          columns={"visit_id": "รหัส", "rep_id": "พนักงาน", "account_id": "ลูกค้า", "visit_start": "วันที่"})
    raw = read_source("visits", source)
    assert [f.encoding for f in raw.files] == ["cp874"]
    assert raw.frame["หมายเหตุ"].to_list() == ["ลูกค้าสนใจ – ขอใบเสนอราคา", "นัดสาธิต"]
    assert raw.frame["หมายเหตุ"][0].encode("cp874") == "ลูกค้าสนใจ – ขอใบเสนอราคา".encode("cp874")
    out = to_canonical(raw.frame.lazy(), VISITS, source.columns, {}, ParseOptions(BKK, "auto")).collect()
    assert out["visit_start"].to_list() == [datetime(2024, 3, 15, 2, 30, tzinfo=UTC), datetime(2024, 2, 28, 17, 0, tzinfo=UTC)]
    assert out["parse_error"].to_list() == [None, None]


def test_configured_encoding_alias():
    raw = read_source("visits", SourceConfig(path=FIXTURES / "thai_cp874.csv", encoding="windows-874"))
    assert raw.frame["พนักงาน"].to_list() == ["R1", "R1"]
    with pytest.raises(SourceError, match=r"sources.visits.encoding: cannot read visits source file '.*thai_cp874.csv': the bytes at offset 0 are not utf-8"):
        read_source("visits", SourceConfig(path=FIXTURES / "thai_cp874.csv", encoding="utf-8"))


def test_utf16_with_a_byte_order_mark_is_read_and_mixed_encodings_name_the_line(tmp_path: Path):
    # Excel's "Unicode Text" (UTF-16 LE, BOM, tabs) and a big-endian variant, with Thai text
    text = "Id\tRep\tหมายเหตุ\r\nV1\tR1\tลูกค้าสนใจ\r\nV2\tR2\tนัดสาธิต\r\n"
    for name, data in (("le.txt", b"\xff\xfe" + text.encode("utf-16-le")), ("be.csv", b"\xfe\xff" + text.encode("utf-16-be"))):
        (tmp_path / name).write_bytes(data)
        raw = read_source("visits", SourceConfig(path=tmp_path / name))
        assert (raw.files[0].encoding, raw.files[0].delimiter) == ("utf-16", "\t")
        assert raw.frame.select("Id", "หมายเหตุ").rows() == [("V1", "ลูกค้าสนใจ"), ("V2", "นัดสาธิต")]
    # UTF-8 Thai rows, then a row pasted from a Windows-874 file: refused, naming where UTF-8 stops
    (tmp_path / "mixed.csv").write_bytes("Id,Note\nV1,ลูกค้า\nV2,ok\n".encode() + "V3,นัด\n".encode("cp874"))
    with pytest.raises(SourceError, match=r"it mixes encodings: line 2 is UTF-8 text and line 4 is not"):
        read_source("visits", SourceConfig(path=tmp_path / "mixed.csv"))
    # the other way round: Windows-874 rows, then a UTF-8 one
    (tmp_path / "mixed2.csv").write_bytes("Id,Note\nV1,ลูกค้า\n".encode("cp874") + "V2,นัด\n".encode())
    with pytest.raises(SourceError, match=r"it mixes encodings: line 3 is UTF-8 text and line 2 is not"):
        read_source("visits", SourceConfig(path=tmp_path / "mixed2.csv"))
    # UTF-16 without its byte-order mark: named, with the encoding to set; set, it reads
    (tmp_path / "nobom.csv").write_bytes("Id,Rep\r\nV1,R1\r\n".encode("utf-16-le"))
    with pytest.raises(SourceError, match=r'UTF-16 text without its byte-order mark; set encoding = "utf-16-le"'):
        read_source("visits", SourceConfig(path=tmp_path / "nobom.csv"))
    assert read_source("visits", SourceConfig(path=tmp_path / "nobom.csv", encoding="utf-16-le")).frame["Rep"].to_list() == ["R1"]
    (tmp_path / "nobom_thai.csv").write_bytes("รหัส,พนักงาน\r\nV1,R1\r\n".encode("utf-16-le"))  # a Thai header: still little-endian
    with pytest.raises(SourceError, match=r'set encoding = "utf-16-le"'):
        read_source("visits", SourceConfig(path=tmp_path / "nobom_thai.csv"))
    (tmp_path / "nobom_be.csv").write_bytes("Id,Note\r\nV1,a\u00a0b\r\n".encode("utf-16-be"))  # not valid UTF-8 either
    with pytest.raises(SourceError, match=r'set encoding = "utf-16-be"'):
        read_source("visits", SourceConfig(path=tmp_path / "nobom_be.csv"))
    (tmp_path / "nuls.csv").write_bytes(b"Id,Note\nV1," + b"\x00" * 300 + b"\nV2,ok\n")  # NULs in one cell: UTF-8 text
    assert read_source("visits", SourceConfig(path=tmp_path / "nuls.csv")).frame["Id"].to_list() == ["V1", "V2"]


def test_bom_quoted_header_and_quoted_newlines():
    raw = read_source("accounts", SourceConfig(path=FIXTURES / "bom_quoted.csv"))
    assert raw.frame.columns == ["source_row_number", "Visit Id", "Rep", "Account", "Start", "Account Name", "__row_problem", "source_file"]
    assert raw.frame["Account Name"].to_list() == ["บริษัท สยาม, จำกัด\nสาขา 2", 'Lotus "Foods"']
    assert raw.frame["source_row_number"].to_list() == [1, 2]
    out = to_canonical(raw.frame.lazy(), ACCOUNTS, {"account_id": "Account", "account_name": "Account Name"}, {}, ParseOptions(BKK)).collect()
    assert out["account_name"].to_list() == ["บริษัท สยาม, จำกัด\nสาขา 2", 'Lotus "Foods"']


def test_semicolon_delimiter_is_detected():
    raw = read_source("visits", SourceConfig(path=FIXTURES / "semicolon.csv"))
    assert raw.frame.select("Id", "Start").rows() == [("V1", "2025-01-05 10:00")]


def test_delimiter_ties_go_to_the_one_that_splits_the_header_into_more_fields(tmp_path: Path):
    # a ';' export whose header names "Duration, min": ',' and ';' both split every row alike, but
    # ';' into the header's 4 fields; a tab file with "Notes; extra" in its header likewise
    (tmp_path / "semi.csv").write_text("Id;Start;Duration, min;Notes\nV1;2025-01-05 10:00;30;ok, called\nV2;2025-01-06 10:00;45;met, signed\n")
    raw = read_source("visits", SourceConfig(path=tmp_path / "semi.csv"))
    assert raw.files[0].delimiter == ";"
    assert raw.frame.select("Id", "Duration, min", "Notes").rows() == [("V1", "30", "ok, called"), ("V2", "45", "met, signed")]
    (tmp_path / "tab.csv").write_text("Id\tStart\tNotes; extra\nV1\t2025-01-05 10:00\ta; b\nV2\t2025-01-06 10:00\tc; d\n")
    assert read_source("visits", SourceConfig(path=tmp_path / "tab.csv")).files[0].delimiter == "\t"


def test_excel_named_sheet_text_cells_serial_dates_and_leading_zeros():
    source = SourceConfig(path=FIXTURES / "visits.xlsx", sheet="Visits",
                          columns={"visit_id": "Id", "rep_id": "Rep", "account_id": "Account", "visit_start": "Start", "duration_min": "Minutes"})
    raw = read_source("visits", source)
    out = to_canonical(raw.frame.lazy(), VISITS, source.columns, {}, ParseOptions(BKK, excel_serials=True)).collect()
    assert out["account_id"].to_list() == ["00123", "00124", "00125", "00126"]
    assert out["visit_start"].to_list() == [
        datetime(2024, 3, 15, 2, 30, tzinfo=UTC),  # a date cell
        datetime(2024, 3, 16, 3, 0, tzinfo=UTC),  # a text cell, day first
        datetime(2024, 3, 16, 5, 0, tzinfo=UTC),  # serial 45367.5 = 2024-03-16 12:00 Bangkok
        datetime(2024, 2, 28, 17, 0, tzinfo=UTC),  # 2024-02-29 00:00 Bangkok
    ]
    assert out["duration_min"].to_list() == [30.0, 45.5, None, None]
    assert out["parse_error"].to_list() == [None, None, None, None]  # an optional duration that cannot be read is NULL
    assert out["__diag_unreadable_duration_min"].to_list() == [False, False, False, True]


def test_excel_first_sheet_by_default_and_missing_sheet():
    raw = read_source("visits", SourceConfig(path=FIXTURES / "visits.xlsx"))
    assert raw.frame.columns[1] == "not the visits"
    with pytest.raises(SourceError, match=r"sources.visits.sheet: 'visits.xlsx' has no sheet 'Nope'"):
        read_source("visits", SourceConfig(path=FIXTURES / "visits.xlsx", sheet="Nope"))


def test_excel_error_cells_blank_rows_and_unnamed_columns(tmp_path: Path):
    # a VLOOKUP's #N/A is read as that text (quarantined as an unknown status, as in a CSV saved from
    # the sheet), never as an empty cell (which would count as completed); blank rows keep their
    # place in the numbering and are counted; a blank header is column_<position>, dropped when empty
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Id", "Status", "Account", None, "Notes", None])
    sheet.append(["V1", "Completed", "A1", "x", None, None])
    sheet.append(["V2", None, None, None, "see #REF", None])
    sheet.cell(3, 2).value, sheet.cell(3, 2).data_type = "#N/A", "e"
    sheet.cell(3, 3).value, sheet.cell(3, 3).data_type = "#REF!", "e"
    sheet.append([])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["V3", "Cancelled", "A3", None, None, None])
    book.save(tmp_path / "v.xlsx")
    raw = read_source("visits", SourceConfig(path=tmp_path / "v.xlsx"))
    assert raw.frame.select("source_row_number", "Id", "Status", "Account", "column_4").rows() == [
        (1, "V1", "Completed", "A1", "x"), (2, "V2", "#N/A", "#REF!", None), (5, "V3", "Cancelled", "A3", None)]
    assert "column_6" not in raw.frame.columns and raw.files[0].skipped_empty_rows == 2
    out = to_canonical(raw.frame.lazy(), VISITS, {"visit_id": "Id", "account_id": "Account", "status": "Status"}, {}, ParseOptions(BKK)).collect()
    assert out["status"].to_list() == ["completed", "#n/a", "cancelled"]  # an unknown status: quarantined by the visits suite
    assert out["account_id"].to_list() == ["A1", None, "A3"]  # #REF! names no account: missing, quarantined


def test_excel_formulas_without_a_computed_value_are_refused_not_read_as_empty(tmp_path: Path):
    # a workbook a program wrote with formulas and never calculated: the cells read as empty (an
    # empty status means completed), so the file is refused naming the cells; once Excel or
    # LibreOffice stored the values (a text result as t="str"), it is read
    import re
    import zipfile

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Id", "Status", "Code"])
    sheet.append(["V1", '=IF(C2="X","Cancelled","Completed")', "OK"])
    sheet.append(["V2", '=IF(C3="X","Cancelled","Completed")', "X"])
    book.save(tmp_path / "raw.xlsx")
    with pytest.raises(SourceError, match=r"'.*raw.xlsx': 2 formula cells \(B2, B3\) hold no computed value .* open and save it in Excel"):
        read_source("visits", SourceConfig(path=tmp_path / "raw.xlsx"))
    with zipfile.ZipFile(tmp_path / "raw.xlsx") as raw, zipfile.ZipFile(tmp_path / "saved.xlsx", "w") as saved:
        for item in raw.infolist():
            data = raw.read(item)
            if item.filename.endswith("sheet1.xml"):
                for row, value in ((2, b"Completed"), (3, b"Cancelled")):
                    data = re.sub(rb'<c r="B%d"([^>]*)>(<f>.*?</f>)<v\s*/>' % row, rb'<c r="B%d" t="str"\1>\2<v>%s</v>' % (row, value), data)
            saved.writestr(item, data)
    assert read_source("visits", SourceConfig(path=tmp_path / "saved.xlsx")).frame["Status"].to_list() == ["Completed", "Cancelled"]
    # a validation list taken from another sheet is stored as a formula outside the cells (<xm:f>): not a cell
    with zipfile.ZipFile(tmp_path / "saved.xlsx") as saved, zipfile.ZipFile(tmp_path / "listed.xlsx", "w") as listed:
        for item in saved.infolist():
            data = saved.read(item)
            if item.filename.endswith("sheet1.xml"):
                data = data.replace(b"</worksheet>", b'<extLst><ext xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
                                    b'<x14:dataValidations xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><x14:dataValidation>'
                                    b"<x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f></x14:formula1><xm:sqref>B2:B9</xm:sqref>"
                                    b"</x14:dataValidation></x14:dataValidations></ext></extLst></worksheet>")
            listed.writestr(item, data)
    assert read_source("visits", SourceConfig(path=tmp_path / "listed.xlsx")).frame["Status"].to_list() == ["Completed", "Cancelled"]


def _sheet(*rows: list):  # noqa: ANN202 - an openpyxl workbook and its sheet
    """A workbook (openpyxl) whose first sheet holds `rows`."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    return book, book.active


def _refused_by_both(path: Path, message: str) -> None:
    """The pre-flight's header read and the run's read both refuse the visits file `path` with `message`."""
    from visitmix.headers import source_header

    for read in (source_header, read_source):
        with pytest.raises(SourceError, match=message):
            read("visits", SourceConfig(path=path))


def test_an_excel_error_value_the_reader_does_not_know_is_named(tmp_path: Path):
    # a newer Excel's #SPILL! (a dynamic array that cannot spill): calamine refuses the workbook;
    # the message names the value and the remedy, at the pre-flight's header read and at the run's
    book, sheet = _sheet(["Id", "Status"], ["V1", None])
    sheet.cell(2, 2).value, sheet.cell(2, 2).data_type = "#SPILL!", "e"
    book.save(tmp_path / "spill.xlsx")
    _refused_by_both(tmp_path / "spill.xlsx", r"'.*spill.xlsx' as Excel: a cell holds the error #SPILL! \(a newer Excel's error.*paste its results as values")


def test_a_stray_cell_far_from_the_data_is_refused_before_the_excel_reader_holds_the_range(tmp_path: Path):
    # one value at XFD1048576 made the Excel reader ask for 550 GB and abort the process (no message,
    # no run recorded): the used range is measured first, at the pre-flight's header read and the run's
    book, sheet = _sheet(["Id", "Status"], ["V1", "Done"])
    sheet["XFD1048576"] = "x"
    book.save(tmp_path / "stray.xlsx")
    _refused_by_both(tmp_path / "stray.xlsx", r"its used range reaches row 1,048,576 and column 16,384 .* a stray value")
    # a stale <dimension> claiming a small range, and rows without their r attribute, do not hide it
    import re
    import zipfile

    with zipfile.ZipFile(tmp_path / "stray.xlsx") as source, zipfile.ZipFile(tmp_path / "stale.xlsx", "w") as stale:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("sheet1.xml"):
                data = re.sub(rb'<row r="\d+"', b"<row", re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', data))
            stale.writestr(item, data)
    _refused_by_both(tmp_path / "stale.xlsx", r"its used range reaches row 1,048,576 and column 16,384")
    from openpyxl.worksheet.pagebreak import Break

    sheet.row_breaks.append(Break(id=5))  # a page break after the cells must not hide the last row
    book.save(tmp_path / "stray.xlsx")
    _refused_by_both(tmp_path / "stray.xlsx", r"its used range reaches row 1,048,576 and column 16,384")
    sheet["XFD1048576"] = None
    sheet["ZZ1048576"] = "x"  # 702 columns x 1,048,576 rows: too many as well
    book.save(tmp_path / "stray.xlsx")
    _refused_by_both(tmp_path / "stray.xlsx", r"its used range reaches row 1,048,576 and column 702")
    sheet["ZZ1048576"] = None
    sheet["Z60000"] = "far, but small enough"  # 60,000 rows x 26 columns: read
    book.save(tmp_path / "stray.xlsx")
    assert read_source("visits", SourceConfig(path=tmp_path / "stray.xlsx")).frame.height == 2


def _prefixed_workbook(path: Path, cells: str) -> None:
    """A minimal .xlsx whose sheet writes the main namespace with a prefix (<x:c>), as some report builders do."""
    import zipfile

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                      '<Default Extension="xml" ContentType="application/xml"/>'
                      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        book.writestr("_rels/.rels", f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                      f'<Relationship Id="r1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        book.writestr("xl/workbook.xml", f'<?xml version="1.0"?><x:workbook xmlns:x="{main}" xmlns:r="{rel}"><x:sheets>'
                      '<x:sheet name="Data" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>')
        book.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                      f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        book.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><x:worksheet xmlns:x="{main}"><x:sheetData>'
                      '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>Id</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>Status</x:t></x:is></x:c></x:row>'
                      f'<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>V1</x:t></x:is></x:c>{cells}</x:row></x:sheetData></x:worksheet>')


def test_excel_formulas_in_a_prefixed_sheet(tmp_path: Path):
    # <x:c> cells with cached values are read; the same formula without one is refused
    _prefixed_workbook(tmp_path / "cached.xlsx", '<x:c r="B2" t="str"><x:f>"Done"</x:f><x:v>Done</x:v></x:c>')
    assert read_source("visits", SourceConfig(path=tmp_path / "cached.xlsx")).frame.select("Id", "Status").rows() == [("V1", "Done")]
    _prefixed_workbook(tmp_path / "uncached.xlsx", '<x:c r="B2"><x:f>"Done"</x:f></x:c>')
    with pytest.raises(SourceError, match=r"1 formula cell \(B2\) holds no computed value"):
        read_source("visits", SourceConfig(path=tmp_path / "uncached.xlsx"))


def test_a_stray_cell_in_a_prefixed_sheet_of_many_rows_is_refused(tmp_path: Path):
    # the used-range check finds rows by the tags the sheet writes (<x:row>, no r attribute here):
    # 40,000 rows x column XFD is 655 million cells
    stray = '<x:c r="XFD2" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c></x:row>'
    row = '<x:row><x:c t="inlineStr"><x:is><x:t>y</x:t></x:is></x:c>'
    _prefixed_workbook(tmp_path / "stray.xlsx", stray + (row + "</x:row>") * 39_997 + row)
    _refused_by_both(tmp_path / "stray.xlsx", r"its used range reaches row 40,000 and column 16,384")


def _mixed(path: Path, rows_unprefixed: int) -> None:
    """Rewrite `path` (:func:`_prefixed_workbook`) so the sheet also declares the main namespace
    unprefixed and writes its first `rows_unprefixed` row elements as <row> (cells stay <x:c>)."""
    import zipfile

    main = b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    with zipfile.ZipFile(path) as source:
        items = [(item, source.read(item)) for item in source.infolist()]
    with zipfile.ZipFile(path, "w") as book:
        for item, data in items:
            if item.filename.endswith("sheet1.xml"):
                data = data.replace(b"<x:worksheet xmlns:x=" + main, b"<x:worksheet xmlns=" + main + b" xmlns:x=" + main)
                data = data.replace(b"<x:row", b"<row", rows_unprefixed).replace(b"</x:row>", b"</row>", rows_unprefixed)
            book.writestr(item, data)


def test_excel_checks_read_a_sheet_that_mixes_prefixed_and_plain_rows(tmp_path: Path):
    # QA: taking one prefix from the first <row> missed <x:f> under <row> (a formula without a value
    # read as empty) and <x:row>s after a <row> (a stray cell let through: calamine aborted the process)
    _prefixed_workbook(tmp_path / "formula.xlsx", '<x:c r="B2"><x:f>1+1</x:f></x:c>')
    _mixed(tmp_path / "formula.xlsx", 2)
    with pytest.raises(SourceError, match=r"1 formula cell \(B2\) holds no computed value"):  # the run's check (the pre-flight reads headers)
        read_source("visits", SourceConfig(path=tmp_path / "formula.xlsx"))
    stray = '<x:c r="XFD2" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c></x:row>'
    row = '<x:row><x:c t="inlineStr"><x:is><x:t>y</x:t></x:is></x:c>'
    _prefixed_workbook(tmp_path / "stray.xlsx", stray + (row + "</x:row>") * 39_997 + row)
    _mixed(tmp_path / "stray.xlsx", 1)
    _refused_by_both(tmp_path / "stray.xlsx", r"its used range reaches row 40,000 and column 16,384")


def test_error_cells_above_a_table_are_written_rows_for_skip_rows_0(tmp_path: Path):
    # QA: a first row holding only error cells is the first written row (the header for skip_rows = 0),
    # as fastexcel read it; the grid holds error cells as empty, which skipped it as blank
    from visitmix.headers import source_header

    book, sheet = _sheet([None, None], ["Id", "Status"], ["V1", "Done"])
    sheet.cell(1, 1).value, sheet.cell(1, 1).data_type = "#N/A", "e"
    book.save(tmp_path / "v.xlsx")
    config = SourceConfig(path=tmp_path / "v.xlsx", skip_rows=0)
    assert source_header("visits", config) == ["column_1", "column_2"]
    assert read_source("visits", config).frame.select("source_row_number", "column_1", "column_2").rows() == [(1, "Id", "Status"), (2, "V1", "Done")]


def test_an_excel_sheet_is_parsed_once_by_the_run_and_once_by_the_preflight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # calamine parses a whole sheet even for a few rows (about 1 s per 300,000 rows): the title scan,
    # the header and the data come from one parse (they took three, and the pre-flight two)
    import fastexcel

    from visitmix.headers import source_header

    book, sheet = _sheet(["Visit report"], [], ["Id", "Status"], ["V1", "Done"], ["V2", "Planned"])
    book.save(tmp_path / "v.xlsx")
    opened = []
    parse = fastexcel.read_excel
    monkeypatch.setattr(fastexcel, "read_excel", lambda source, *a, **k: opened.append(1) or parse(source, *a, **k))
    assert read_source("visits", SourceConfig(path=tmp_path / "v.xlsx")).frame.select("Id", "Status").rows() == [("V1", "Done"), ("V2", "Planned")]
    assert len(opened) == 1
    assert source_header("visits", SourceConfig(path=tmp_path / "v.xlsx")) == ["Id", "Status"]
    assert len(opened) == 2


def test_excel_headers_below_blank_rows_date_cells_and_repeated_names(tmp_path: Path):
    """A header in row 3 with a date cell: the run names the column by the date's text, as the
    pre-flight shows it (the run named it column_2 before); a repeated name below blank rows is
    refused (the check read sheet row 1 while the reader took row 3)."""
    from datetime import datetime as dt

    from visitmix.headers import source_header

    book, sheet = _sheet([], [], ["Id", dt(2025, 1, 1), "Status"], ["V1", "5", "Done"])
    book.save(tmp_path / "v.xlsx")
    for skip in (None, 0):
        config = SourceConfig(path=tmp_path / "v.xlsx", skip_rows=skip)
        assert source_header("visits", config) == ["Id", "2025-01-01", "Status"]
        assert read_source("visits", config).frame.select("Id", "2025-01-01", "Status").rows() == [("V1", "5", "Done")]
    book, sheet = _sheet([], [], ["Id", "Status", "Status"], ["V1", "Done", "Done"])
    book.save(tmp_path / "twice.xlsx")
    _refused_by_both(tmp_path / "twice.xlsx", r"more than one column named 'Status'")  # the pre-flight listed it once
    from visitmix.headers import file_headers

    for read in (file_headers, read_source):  # a skip_rows past the last row, or an empty sheet: named, at the pre-flight and the run
        with pytest.raises(SourceError, match=r"skip_rows = 5 passes every row of the sheet \(4 rows\), so no header row is left"):
            read("visits", SourceConfig(path=tmp_path / "twice.xlsx", skip_rows=5))
    _sheet()[0].save(tmp_path / "empty.xlsx")
    _refused_by_both(tmp_path / "empty.xlsx", r"cannot read visits source file '.*empty.xlsx' as Excel: its first sheet is empty: "
                                              r"set sources.visits.sheet to the sheet that holds the table \(its sheets: 'Sheet'\)")
    book, sheet = _sheet(["Id", " ", "Status", " "], ["V1", "x", "Done", None])  # blank names are positions, not repeats
    book.save(tmp_path / "blank.xlsx")
    assert read_source("visits", SourceConfig(path=tmp_path / "blank.xlsx")).frame.select("Id", "column_2", "Status").rows() == [("V1", "x", "Done")]


def test_an_id_that_is_a_spreadsheet_error_is_missing():
    # a failed lookup's value (Excel's #N/A, LibreOffice's Err:502 in a CSV it saved) names no account
    frame = pl.DataFrame({"Id": ["V1", "V2", "V3", "V4", "V5"], "Account": ["#N/A", "Err:502", "A1", "#123", "A#N/A"]})
    frame = frame.with_columns(source_file=pl.lit("v.csv"), source_row_number=pl.int_range(1, 6, dtype=pl.Int64))
    out = to_canonical(frame.lazy(), VISITS, {"visit_id": "Id", "account_id": "Account"}, {}, ParseOptions(BKK)).collect()
    assert out["account_id"].to_list() == [None, None, "A1", "#123", "A#N/A"]


def test_json_and_ndjson(tmp_path: Path):
    (tmp_path / "v.json").write_text('[{"visit_id": "V1", "visit_start": "2025-01-05T10:00:00Z", "duration_min": 30}]')
    (tmp_path / "v.ndjson").write_text('{"visit_id": "V1", "visit_start": "2025-01-05T10:00:00Z"}\n{"visit_id": "V2", "visit_start": null}\n')
    for name, rows in (("v.json", 1), ("v.ndjson", 2)):
        raw = read_source("visits", SourceConfig(path=tmp_path / name))
        assert raw.frame.height == rows
        out = to_canonical(raw.frame.lazy(), VISITS, {}, {}, ParseOptions(BKK)).collect()
        assert out["visit_start"][0] == datetime(2025, 1, 5, 10, 0, tzinfo=UTC)


def test_json_types_are_inferred_from_every_record_and_a_bom_is_skipped(tmp_path: Path):
    """A value after 150 nulls, or a text id after 150 numeric ones, refused the whole file (Polars looked at
    the first 100 records only); an NDJSON file starting with a byte-order mark was refused too."""
    import json

    records = [{"visit_id": i, "visit_start": "2025-01-05T10:00:00Z", "duration_min": None} for i in range(150)]
    records.append({"visit_id": "V-150", "visit_start": "2025-01-05T10:00:00Z", "duration_min": 45})
    (tmp_path / "v.json").write_text(json.dumps(records))
    (tmp_path / "v.ndjson").write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(r) for r in records).encode())
    for name in ("v.json", "v.ndjson"):
        frame = read_source("visits", SourceConfig(path=tmp_path / name)).frame
        out = to_canonical(frame.lazy(), VISITS, {}, {}, ParseOptions(BKK)).collect()
        assert out["visit_id"].to_list()[-2:] == ["149", "V-150"] and out["duration_min"].to_list()[-2:] == [None, 45.0]
    # one object per line in a .json file, and records wrapped in an object: the message says what is read
    (tmp_path / "lines.json").write_text('{"visit_id": "V1"}\n{"visit_id": "V2"}\n')
    with pytest.raises(SourceError, match=r'one JSON object per line: set sources.visits.format = "ndjson"'):
        read_source("visits", SourceConfig(path=tmp_path / "lines.json"))
    from visitmix.canonicalise import choose_mapping

    (tmp_path / "wrapped.json").write_text('{"results": [{"visit_id": "V1"}], "paging": null}')
    wrapped = SourceConfig(path=tmp_path / "wrapped.json")
    columns = read_source("visits", wrapped).frame.columns
    with pytest.raises(SourceError, match=r"not records wrapped in an object") as refused:
        choose_mapping("visits", wrapped, [c for c in columns if c in ("results", "paging")], "wrapped.json")
    assert "skip_rows" not in str(refused.value)


def test_glob_reads_every_file_keeping_its_name():
    raw = read_source("visits", SourceConfig(path=FIXTURES / "monthly" / "visits_*.csv"))
    assert raw.frame.select("Id", "source_file", "source_row_number").rows() == [
        ("V1", "visits_2025-01.csv", 1),
        ("V2", "visits_2025-01.csv", 2),
        ("V2", "visits_2025-02.csv", 1),
        ("V3", "visits_2025-02.csv", 2),
    ]


def test_unreadable_and_empty_files(tmp_path: Path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match=r"cannot read visits source file '.*empty.csv': the file is empty"):
        read_source("visits", SourceConfig(path=tmp_path / "empty.csv"))
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(SourceError, match=r"cannot read visits source file '.*bad.xlsx' as Excel"):
        read_source("visits", SourceConfig(path=tmp_path / "bad.xlsx"))
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(SourceError, match=r"sources.visits.path: '.*dir.csv' is a folder with no .parquet files"):
        read_source("visits", SourceConfig(path=tmp_path / "dir.csv"))


def test_mixed_naive_and_aware_partitions(tmp_path: Path):
    # one export in UTC with offsets, the other in Bangkok wall time: the same instant either way
    (tmp_path / "visits_crm.csv").write_text("Id,Start\nV1,2025-01-31T17:30:00Z\n", encoding="utf-8")
    (tmp_path / "visits_sheet.csv").write_text("Id,Start\nV2,01/02/2025 00:30\n", encoding="utf-8")
    source = SourceConfig(path=tmp_path / "visits_*.csv", columns={"visit_id": "Id", "visit_start": "Start"})
    raw = read_source("visits", source)
    out = to_canonical(raw.frame.lazy(), VISITS, source.columns, {}, ParseOptions(BKK)).collect()
    assert out.select("visit_id", "visit_start", "source_file").rows() == [
        ("V1", datetime(2025, 1, 31, 17, 30, tzinfo=UTC), "visits_crm.csv"),
        ("V2", datetime(2025, 1, 31, 17, 30, tzinfo=UTC), "visits_sheet.csv"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_file_larger_than_the_header_read_passes_the_preflight_and_reads_whole(tmp_path: Path, encoding: str):
    """Excel's "Unicode Text" (UTF-16 with BOM, tab-separated) and a big-endian variant, larger than the
    64 KiB the pre-flight reads for the header: the cut falls after a whole line-feed code unit."""
    from visitmix.headers import HEADER_BYTES, source_header

    lines = ["รหัส\tพนักงาน\tลูกค้า\tวันที่"] + [f"V{i}\tR{i % 7}\tA{i % 13}\t2024-03-{1 + i % 28:02d} 09:00" for i in range(3000)]
    data = ("\n".join(lines) + "\n").encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # with its BOM, as Windows writes it
    assert len(data) > HEADER_BYTES
    path = tmp_path / "visits.txt"
    path.write_bytes(data)
    columns = {"visit_id": "รหัส", "rep_id": "พนักงาน", "account_id": "ลูกค้า", "visit_start": "วันที่"}
    source = SourceConfig(path=path, format="csv", encoding=encoding, columns=columns)
    assert source_header("visits", source) == ["รหัส", "พนักงาน", "ลูกค้า", "วันที่"]
    raw = read_source("visits", source)
    assert raw.frame.height == 3000
    assert raw.frame["ลูกค้า"][2999] == "A9"  # 2999 % 13


def test_a_file_is_read_as_what_it_holds_not_as_its_name_says(tmp_path: Path):
    """"Export to Excel" of many report builders is tab-separated text (UTF-16 here, as Excel's Unicode
    Text) or an HTML table under an .xls name; a workbook is sometimes renamed .csv. Text is read as
    CSV and a workbook as Excel, by the run and the pre-flight alike; an HTML page is refused with the
    remedy (it got calamine's 'Invalid OLE' error, and a workbook named .csv got advice on encodings)."""
    from visitmix.headers import source_header

    (tmp_path / "tsv.xls").write_bytes("\ufeffvisit_id\trep_id\taccount_id\tvisit_start\nV1\tR1\tA1\t2025-03-01 10:00\n".encode("utf-16-le"))
    book, sheet = _sheet(["visit_id", "rep_id", "account_id", "visit_start"], ["V2", "R1", "A1", "2025-03-02 10:00"])
    book.save(tmp_path / "book.csv")
    for name, visit in (("tsv.xls", "V1"), ("book.csv", "V2")):
        config = SourceConfig(path=tmp_path / name)
        assert source_header("visits", config) == ["visit_id", "rep_id", "account_id", "visit_start"]
        out = to_canonical(read_source("visits", config).frame.lazy(), VISITS, {}, {}, ParseOptions(BKK)).collect()
        assert out.select("visit_id", "account_id").rows() == [(visit, "A1")]
    (tmp_path / "xml2003.xls").write_text('<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
                                          "<Worksheet ss:Name=\"Visits\"/></Workbook>")
    with pytest.raises(SourceError, match=r"'.*xml2003.xls' is an Excel 2003 XML spreadsheet"):
        read_source("visits", SourceConfig(path=tmp_path / "xml2003.xls"))
    (tmp_path / "page.xls").write_text("<html><body><table><tr><td>visit_id</td></tr></table></body></html>")
    for read in (read_source, source_header):
        with pytest.raises(SourceError, match=r"'.*page.xls' is an HTML page saved under a spreadsheet name"):
            read("visits", SourceConfig(path=tmp_path / "page.xls"))


def test_the_default_sheet_is_the_first_one_a_user_sees_and_a_wrong_name_lists_the_sheets(tmp_path: Path):
    """A template's hidden first sheet (lookup lists) was read by default: a wrong header. Excel opens on
    the first visible sheet, and so do the run and the pre-flight; a veryHidden one counts as hidden too."""
    from visitmix.headers import source_header

    book, lists = _sheet(["Status"], ["Completed"])
    lists.title, lists.sheet_state = "Lists", "hidden"
    secret = book.create_sheet("Secret")
    secret.append(["x"])
    secret.sheet_state = "veryHidden"
    visits = book.create_sheet("Visits")
    visits.append(["visit_id", "rep_id", "account_id", "visit_start"])
    visits.append(["V1", "R1", "A1", "2025-03-01 10:00"])
    book.save(tmp_path / "visits.xlsx")
    config = SourceConfig(path=tmp_path / "visits.xlsx")
    assert source_header("visits", config) == ["visit_id", "rep_id", "account_id", "visit_start"]
    assert read_source("visits", config).frame.get_column("visit_id").to_list() == ["V1"]
    assert "Status" in read_source("visits", SourceConfig(path=tmp_path / "visits.xlsx", sheet="Lists")).frame.columns  # named: read
    wrong = SourceConfig(path=tmp_path / "visits.xlsx", sheet="visits")
    for read in (source_header, read_source):
        with pytest.raises(SourceError, match=r"has no sheet 'visits' .*\(its sheets: 'Lists', 'Secret', 'Visits'\)"):
            read("visits", wrong)


def test_a_cell_merged_down_over_several_visits_is_read_in_each_row(tmp_path: Path):
    """A grouped report merges a Status (or Rep) cell over the visits it applies to; the reader gives
    the value to the first row only, so the second visit read as blank: completed instead of
    cancelled. Merges down a column below the header are read in every row they span, wherever the
    table starts on the sheet; a merge across columns (a note spanning two cells) and a merged
    title above the header are left alone."""
    book, sheet = _sheet()
    sheet["B1"] = "Visits by rep"
    sheet.merge_cells("B1:D1")
    for row, values in enumerate([["Id", "Status", "Rep"], ["V1", "Cancelled", "R1"], ["V2", None, None], ["V3", "Done", "R2"],
                                  ["V4", "spanning note", None]], start=3):
        for column, value in zip("BCD", values, strict=True):
            sheet[f"{column}{row}"] = value
    sheet.merge_cells("C4:C5")
    sheet.merge_cells("D4:D5")
    sheet.merge_cells("C7:D7")
    book.save(tmp_path / "v.xlsx")
    raw = read_source("visits", SourceConfig(path=tmp_path / "v.xlsx"))
    assert raw.frame.select("Id", "Status", "Rep").rows() == [
        ("V1", "Cancelled", "R1"), ("V2", "Cancelled", "R1"), ("V3", "Done", "R2"), ("V4", "spanning note", None)]


def test_a_chart_sheet_placed_first_is_passed_over_and_a_table_on_another_sheet_is_pointed_to(tmp_path: Path):
    """A report workbook opens on its chart (a chart sheet, first): the table is on the first
    worksheet, which is read by default (a chart sheet read as the table was "empty Excel sheet"). A
    summary sheet first and the visits second: the message points to `sheet`, not to delimiters."""
    from openpyxl.chart import BarChart, Reference

    from visitmix.canonicalise import canonicalise

    book, data = _sheet(["Id", "Rep", "Account", "Start"], ["V1", "R1", "A1", "2025-03-01 10:00"])
    data.title = "Data"
    chart_sheet = book.create_chartsheet("Chart", 0)
    chart = BarChart()
    chart.add_data(Reference(data, min_col=1, min_row=1, max_row=2))
    chart_sheet.add_chart(chart)
    book.save(tmp_path / "report.xlsx")
    assert read_source("visits", SourceConfig(path=tmp_path / "report.xlsx")).frame.select("Id", "Start").rows() == [("V1", "2025-03-01 10:00")]
    book, summary = _sheet(["Rep", "Count"], ["R1", 1])
    summary.title = "Summary"
    book.create_sheet("Visits").append(["Id", "Rep", "Account", "Start"])
    book.save(tmp_path / "two.xlsx")
    config = SourceConfig(path=tmp_path / "two.xlsx")
    with pytest.raises(SourceError, match=r"Its columns are: Rep, Count — is the table on another sheet of the workbook\? "
                                          r"set sources.visits.sheet to its name"):
        canonicalise(read_source("visits", config), config, "Asia/Bangkok")


def test_header_names_read_as_they_look(tmp_path: Path):
    """A header typed with a no-break space (Visit ID), wrapped in an Excel cell with Alt+Enter
    (Visit / Date) or carrying a zero-width space is the name it looks like: the config's "Visit ID"
    finds it (the message listed 'Visit ID' as missing beside a column that looked the same)."""
    from visitmix.canonicalise import canonicalise

    (tmp_path / "v.csv").write_text('Visit\u00a0ID,"Visit\r\nDate",Rep\u200b,Account\nV1,2025-03-01 10:00,R1,A1\n', encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.visits.columns]\nvisit_id = "Visit ID"\nvisit_start = "Visit Date"\n'
                      'rep_id = "Rep"\naccount_id = "Account"\n', encoding="utf-8")
    from visitmix.config import load_config
    from visitmix.preflight import check_source_columns

    loaded = load_config(config)
    check_source_columns("visits", loaded.sources.visits, loaded.base_dir)
    raw = read_source("visits", loaded.sources.visits, loaded.base_dir)
    assert raw.columns == ["Visit ID", "Visit Date", "Rep", "Account"]
    frame = canonicalise(raw, loaded.sources.visits, "Asia/Bangkok").frame
    assert frame.select("visit_id", "rep_id").rows() == [("V1", "R1")]
    # a config written before, naming the header exactly as the file has it, still finds it
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.visits.columns]\nvisit_id = "Visit\\u00a0ID"\n'
                      'visit_start = "Visit\\r\\nDate"\nrep_id = "Rep"\naccount_id = "Account"\n', encoding="utf-8")
    loaded = load_config(config)
    assert loaded.sources.visits.columns["visit_start"] == "Visit Date"
    frame = canonicalise(read_source("visits", loaded.sources.visits, loaded.base_dir), loaded.sources.visits, "Asia/Bangkok").frame
    assert frame.select("visit_id", "rep_id").rows() == [("V1", "R1")]
    # a break after a space is one space; a name of zero-width characters only is blank (numbered);
    # two names that read alike are refused, showing how each was written
    (tmp_path / "w.csv").write_text('Id,"Duration \n(min)",\u200b\nV1,30,x\n', encoding="utf-8")
    assert read_source("visits", SourceConfig(path=tmp_path / "w.csv")).columns == ["Id", "Duration (min)", "column_3"]
    (tmp_path / "twice.csv").write_text("Id,Visit\u00a0ID,Visit ID\nV1,a,b\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"two columns named 'Visit ID' \('Visit\\xa0ID' and 'Visit ID' as written\)"):
        read_source("visits", SourceConfig(path=tmp_path / "twice.csv"))


def _with_cell_xml(path: Path, before: str, after: str) -> None:
    """Rewrite the first sheet's XML of the workbook at `path` (what another writer would have put there)."""
    import zipfile

    with zipfile.ZipFile(path) as book:
        files = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert before.encode() in files[sheet]
    files[sheet] = files[sheet].replace(before.encode(), after.encode(), 1)
    with zipfile.ZipFile(path, "w") as book:
        for name, data in files.items():
            book.writestr(name, data)


def test_merged_cells_past_the_last_row_over_a_blank_row_or_beside_an_empty_cell(tmp_path: Path):
    """A merge that runs past the data is read down to the last row; a blank separator row a merge
    spans stays blank (skipped as blank, not a visit without id); an empty cell written as
    <c ...></c> in column A is no value and does not shift the merged column."""
    book, sheet = _sheet(["Id", "Status"], ["V1", "Completed"], ["V2", "Cancelled"], ["V3", None])
    sheet.merge_cells("B3:B5")
    book.save(tmp_path / "beyond.xlsx")
    assert read_source("visits", SourceConfig(path=tmp_path / "beyond.xlsx")).frame.select("Id", "Status").rows() == [
        ("V1", "Completed"), ("V2", "Cancelled"), ("V3", "Cancelled")]
    book, sheet = _sheet(["Id", "Status"], ["V1", "Cancelled"], [None, None], ["V2", "Done"])
    sheet.merge_cells("B2:B3")
    book.save(tmp_path / "separator.xlsx")
    raw = read_source("visits", SourceConfig(path=tmp_path / "separator.xlsx"))
    assert raw.frame.select("Id", "Status").rows() == [("V1", "Cancelled"), ("V2", "Done")] and raw.files[0].skipped_empty_rows == 1
    book, sheet = _sheet()
    for row, values in enumerate([["Id", "Start", "Status"], ["V1", "2025-03-01", "Cancelled"], ["V2", "2025-03-02", None]], start=1):
        for column, value in zip("BCD", values, strict=True):
            sheet[f"{column}{row}"] = value
    sheet.merge_cells("D2:D3")
    book.save(tmp_path / "offset.xlsx")
    _with_cell_xml(tmp_path / "offset.xlsx", '<row r="2">', '<row r="2"><c r="A2" s="0"></c>')
    assert read_source("visits", SourceConfig(path=tmp_path / "offset.xlsx")).frame.select("Id", "Start", "Status").rows() == [
        ("V1", "2025-03-01", "Cancelled"), ("V2", "2025-03-02", "Cancelled")]
