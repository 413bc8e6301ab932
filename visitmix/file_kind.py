"""What a CSV or Excel source file really holds, from its first bytes, where its name says otherwise.

Report builders and older CRMs save tab-separated text or an HTML table under an ``.xls`` name
("Export to Excel"), and a workbook is sometimes renamed ``.csv``. A workbook (a ZIP container:
xlsx, xlsm; or an OLE one: xls) is read as Excel whatever its name; text under an ``.xls`` name is
read as CSV (its delimiter and encoding are found as for any CSV; text named ``.xlsx`` is a broken
workbook and gets the Excel reader's error); an HTML page is refused with the remedy, since no reader
here parses HTML tables.
"""

from __future__ import annotations

from pathlib import Path

from visitmix.errors import SourceError

ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm (Office Open XML is a ZIP container)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xls (the compound file of Excel 97-2003)
_TEXT_LEAD = b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n"  # byte-order marks, UTF-16 zero bytes, white space


def actual_format(name: str, path: Path, fmt: str | None) -> str | None:
    """`fmt` ("csv" or "excel", from the name or the config) corrected by what `path` starts with;
    other formats as given. Raises SourceError for an HTML page saved as a spreadsheet, naming the file."""
    if fmt not in ("csv", "excel"):
        return fmt
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return fmt  # the reader names the file and the reason
    if head.startswith((ZIP_MAGIC, OLE_MAGIC)):
        return "excel"
    if fmt == "excel" and head.strip():
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head.replace(b"\x00", b""):
            raise SourceError(
                f"{name} source file '{path}' is an Excel 2003 XML spreadsheet, which no reader here opens: open it in "
                "Excel and save it as .xlsx, or export the report as CSV"
            )
        if head.lstrip(_TEXT_LEAD).startswith(b"<"):
            raise SourceError(
                f"{name} source file '{path}' is an HTML page saved under a spreadsheet name (as some report exports are), "
                "not an Excel workbook: open it in Excel and save it as .xlsx, or export the report as CSV"
            )
        if path.suffix.lower() == ".xls":  # the legacy name report builders give their text exports
            return "csv"
    return fmt
