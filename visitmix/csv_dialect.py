"""How a CSV file is written: its text encoding, line ends, delimiter and header names.

Everything here looks at the file's text in time linear in its length (no backtracking regular
expressions, no ``csv.Sniffer``, whose regexes are quadratic on quote-heavy text), so an odd file
costs what a normal file of the same size costs.

* **Encoding**: the configured one, else strict UTF-8 (with or without BOM), else Windows-874
  (``cp874``, Thai Windows Excel — a superset of TIS-620; never Polars' lossy ``tis-620``). Text
  that decodes as cp874 but reads like a Western code page (a Thai vowel mark straight after a
  Latin letter, as ``café`` in Latin-1 would) is refused.
* **Line ends**: CR (classic Mac), LF and CRLF, also mixed in one file, all end a line.
* **Delimiter**: among ``,`` ``;`` tab ``|``, the one that splits the header and the first rows
  into the same number of fields (text inside double quotes does not count), so that decimal
  commas in a ``;`` file do not win.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_LINES = 50
_SAMPLE_CHARS = 1 << 16
_ENCODINGS = ("utf-8-sig", "cp874")
# Python has no lossless codec named windows-874 / tis-620: both mean cp874 here
ENCODING_ALIASES = {
    "windows-874": "cp874",
    "windows874": "cp874",
    "tis-620": "cp874",
    "tis620": "cp874",
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
}
# A Thai vowel or tone mark straight after a Latin letter never happens in Thai text: the bytes were
# a Western code page (café in Latin-1 decodes as caf้ in cp874). A character class, no backtracking.
_NOT_THAI = re.compile(r"[A-Za-z][\u0E31\u0E34-\u0E3A\u0E47-\u0E4E]")
# Thai text has words: runs of Thai letters. A cp1252 file read as cp874 has Thai characters one at a
# time or glued to Latin letters (Muñoz → Mu๑oz, São → Sใo, JOSÉ → JOSษ).
_THAI_RUN = re.compile(r"[\u0E01-\u0E5B]+")


def _looks_thai(text: str) -> bool:
    """True unless the text decoded as cp874 shows the marks of a Western code page: a Thai vowel
    after a Latin letter, Thai characters that never form a word, or Thai runs glued to Latin letters
    at least as often as not (one pass over the runs)."""
    if _NOT_THAI.search(text):
        return False
    runs = glued = words = 0
    for match in _THAI_RUN.finditer(text):
        runs += 1
        words += match.end() - match.start() > 1
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        glued += (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())
    return not runs or (words > 0 and glued * 2 < runs)


class DialectError(ValueError):
    """The text cannot be read as configured; the message says why (never a cell value)."""


def undecodable(name: str, path: object, exc: DialectError) -> str:
    """The message for a source file `exc` refused: the key to set, unless the reason names its own
    remedy (a mixed file, the UTF-16 encoding to set)."""
    reason = str(exc)
    hint = "" if "one encoding" in reason or "set encoding =" in reason else f"; set sources.{name}.encoding"
    return f"cannot read {name} source file '{path}': {reason}{hint}"


# byte-order marks: Excel's "Unicode Text" is UTF-16 LE with one (UTF-32's LE mark starts like UTF-16's: first)
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def bom_encoding(data: bytes) -> str | None:
    """``utf-16`` or ``utf-32`` when `data` starts with that byte-order mark, else None (UTF-8's own
    mark is read by the UTF-8 decoder)."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return encoding
    return None


def decode(data: bytes, configured: str | None) -> tuple[str, str]:
    """Bytes → (text, encoding name as recorded): the configured encoding; else the one a UTF-16 or
    UTF-32 byte-order mark names; else strict UTF-8, then cp874 (Thai). Raises :class:`DialectError`,
    naming the offset and line where UTF-8 stops (a file that mixes encodings says so)."""
    if configured:
        encoding = ENCODING_ALIASES.get(configured.lower(), configured)
        try:
            return data.decode(encoding), configured
        except LookupError:
            raise DialectError(f"'{configured}' is not an encoding Python knows") from None
        except UnicodeDecodeError as exc:
            raise DialectError(f"the bytes at offset {exc.start} are not {configured}") from None
    marked = bom_encoding(data)
    if marked:
        try:
            return data.decode(marked), marked
        except UnicodeDecodeError as exc:
            raise DialectError(f"it starts with a {marked.upper()} byte-order mark, but the bytes at offset {exc.start} are not {marked.upper()}") from None
    stop = 0
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            stop = exc.start if encoding == "utf-8-sig" else stop
            continue
        if encoding == "cp874" and not _looks_thai(text):
            break
        _utf16_hint(data)  # NULs beside every letter decode as UTF-8 or cp874 text too
        return text, ("utf-8" if encoding == "utf-8-sig" else encoding)
    line = data.count(b"\n", 0, stop) + 1
    _utf16_hint(data)  # UTF-16 without its mark whose text is not valid UTF-8 either (a no-break space, é)
    mixed = _mixed_lines(data)
    if mixed:
        raise DialectError(
            f"it mixes encodings: line {mixed[0]} is UTF-8 text and line {mixed[1]} is not (rows pasted from a Windows-874 "
            "or Western file?); save it again in one encoding"
        )
    raise DialectError(
        "it is neither UTF-8 nor Windows-874 (cp874) text (a Western export? e.g. encoding = \"cp1252\"); UTF-8 stops at "
        f"line {line} (offset {stop}); Excel's \"Unicode Text\" saved without its byte-order mark needs encoding = \"utf-16\""
    )


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mixed_lines(data: bytes, limit: int = 200_000) -> tuple[int, int] | None:
    """(A line that is UTF-8 text with non-ASCII characters, a line that is not UTF-8), both 1-based,
    when the first `limit` lines hold both; else None. Only on the way to refusing a file."""
    utf8_line = other_line = None
    for number, line in enumerate(data.split(b"\n", limit)[:limit], start=1):
        if line.isascii():
            continue
        if _utf8(line.removeprefix(b"\xef\xbb\xbf")):
            utf8_line = utf8_line or number
        else:
            other_line = other_line or number
        if utf8_line and other_line:
            return utf8_line, other_line
    return None


def _utf16_hint(data: bytes) -> None:
    """Raise DialectError when `data` (whether it decoded as UTF-8, as cp874 or as neither) is UTF-16 without its byte-order mark:
    in the first 2,000 bytes, every other byte is the high byte of ASCII or Thai characters (0x00 or
    0x0E) and the bytes between them mostly are not. A run of NULs in one cell is not that pattern."""
    head = data[:2000]
    if len(head) < 8 or b"\x00" not in head:
        return
    def high(bytes_: bytes) -> float:
        return sum(1 for b in bytes_ if b in (0x00, 0x0E)) / max(len(bytes_), 1)
    even, odd = high(head[0::2]), high(head[1::2])
    order = "le" if odd >= 0.9 and even < 0.5 else "be" if even >= 0.9 and odd < 0.5 else None
    if order:
        raise DialectError(
            f"it holds a NUL character beside every letter: UTF-16 text without its byte-order mark; set encoding = \"utf-16-{order}\""
        )


def normalise_line_ends(text: str) -> str:
    """CRLF and lone CR → LF (a no-op copy-free return for text without CR)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _outside_quotes(sample: str) -> str:
    """The sample with double-quoted sections removed (``""`` inside quotes toggles twice)."""
    return "".join(sample.split('"')[0::2])


def sample_lines(text: str) -> list[str]:
    """The first non-empty lines of `text` with quoted text removed (header first)."""
    head = text[:_SAMPLE_CHARS]
    lines = _outside_quotes(head).split("\n")
    if len(text) > _SAMPLE_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off by the sample window
    return [line for line in lines if line.strip()][:_SAMPLE_LINES]


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the header and the first rows into the same number of fields.

    Candidates must occur in the header; the one that gives the header's field count on the most
    rows wins; among equals, the one that splits the header into more fields (a ``;`` file whose
    header names ``Duration, min``: both split every row alike, ``;`` into 8 fields, ``,`` into 2),
    then the earlier of ``, ; tab |``. Text with none of them is one column (``,``). Linear in the sample.
    """
    lines = sample_lines(text)
    if not lines:
        return ","
    header, rows = lines[0], lines[1:]
    best, best_score = ",", (-1, -1)
    for candidate in DELIMITERS:
        fields = header.count(candidate)
        if fields == 0:
            continue
        agreeing = sum(1 for row in rows if row.count(candidate) == fields)
        # a delimiter the header has and every sampled row agrees with beats partial agreement
        score = (agreeing * 2 + (1 if not rows else 0), fields)
        if score > best_score:
            best, best_score = candidate, score
    return best


@dataclass(frozen=True)
class Header:
    names: list[str]  # as written (BOM removed), in file order
    duplicates: list[str]  # names that occur more than once after trimming


_SEP_LINE = re.compile(r"sep=(.)[ \t]*")


def above_header(text: str, skip_rows: int) -> tuple[int, str | None]:
    """(Lines before the header, the delimiter an Excel ``sep=;`` line names or None): Excel's own
    first line ``sep=<c>`` when it is there, then the `skip_rows` configured lines (a report's title,
    its date range) — `skip_rows` never counts the ``sep=`` line. In: text with LF line ends."""
    hint = _SEP_LINE.fullmatch(text.split("\n", 1)[0])
    return (skip_rows + 1, hint.group(1)) if hint else (skip_rows, None)


TITLE_SCAN = 30  # records searched for a header below a report's title block

Records = list[tuple[int, list[str]]]  # (the line or position a record starts on, its cells written)


def title_rows(records: list[list[object]]) -> int:
    """How many of a file's first records (at most :data:`TITLE_SCAN` + 11, as lists of cells) are
    a report's title block above the header (the rule: :func:`_header_position`)."""
    cells = [(k, _written(record)) for k, record in enumerate(records[: TITLE_SCAN + 11])]
    if not cells or len(cells[0][1]) > 1:
        return 0
    return _header_position(lambda k: cells[k:], min(len(cells), TITLE_SCAN))


def _header_position(records_from: Callable[[int], Records | None], scan: int) -> int:
    """The position of the header below a report's title block (its name, date range, filters, blank
    lines), 0 when there is none. Called only when the first record has at most one cell written:
    a header names two columns or more. `records_from(k)`: the records from position k on (k's own
    first), or None when no record starts there.

    The header is the first record (positions 1 .. `scan` - 1) with at least two cells written,
    none of them a number, date or time (a value, never a column name: a data row is never taken for
    the header), and at least as many as the (lower) median of the ten records after it: a
    ``Date range:,March`` line has fewer than the rows below it, and a long row below the header (an
    unquoted comma) does not outvote it. Two cells, the first ending with a colon (``Owner:``), are
    a label and its value, never a header. A record of two cells so found is a ``Region,North``
    filter line, not the header, when a wider record among the ten below it is header-like and the
    rows below *that* one are wider (median) than two: a block of filter lines longer than the table (or above a table of
    sparse rows) pulls their median down to one or two. A long data row below a header is never
    such a record: the rows below it are no wider than the header.
    """
    found = next((k for k in range(1, scan) if (records := records_from(k)) and _header_like(records[0][1], _cells(records[1:11]))), 0)
    while found:
        records = records_from(found)
        assert records is not None
        width = len(records[0][1])
        if width > 2:  # wider than a Label,Value line: the header
            return found
        wider = next((line for line, cells in records[1:11] if len(cells) > width and _table_below(records_from(line), width)), None)
        if wider is None:
            return found
        found = wider
    return 0


def _table_below(records: Records | None, width: int) -> bool:
    """Whether `records` start with a header-like record whose rows below are wider than `width`."""
    if not records:
        return False
    below = _cells(records[1:11])
    return _header_like(records[0][1], below) and _median(below) > width


_VALUE = re.compile(r"[\d\s.,:/+\-]+")  # a number, a date or a time


def _written(record: list[object]) -> list[str]:
    return [text for cell in record if cell is not None and (text := str(cell).strip())]


def _cells(records: Records) -> list[list[str]]:
    return [cells for _, cells in records]


def _median(below: list[list[str]]) -> int:
    """The lower median of the records' widths (0 for none): at a tie the narrower width."""
    widths = sorted(len(cells) for cells in below)
    return widths[(len(widths) - 1) // 2] if widths else 0


def _header_like(names: list[str], below: list[list[str]]) -> bool:
    return (
        len(names) >= max(2, _median(below))
        and not any(_VALUE.fullmatch(name) for name in names)
        and not (len(names) == 2 and names[0].endswith(":"))  # Owner:,Somchai is a filter line
    )


def _records(text: str, delimiter: str) -> Records:
    """The first :data:`TITLE_SCAN` + 11 records of CSV `text` as (the line it starts on, 0-based;
    its cells written): a quoted cell may run over several lines (a title with a line break)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records, start = [], 0
    try:
        for fields in reader:
            records.append((start, _written(fields)))
            start = reader.line_num
            if len(records) > TITLE_SCAN + 10:
                break
    except csv.Error:
        pass  # a record the csv module cannot read ends the scan
    return records


def line_start(payload: bytes, lines: int) -> int:
    """The byte offset where line `lines` (0-based) of `payload` (LF line ends) starts; its length
    when it has fewer lines."""
    offset = 0
    for _ in range(lines):
        offset = payload.find(b"\n", offset) + 1
        if offset == 0:
            return len(payload)
    return offset


def records_in(payload: bytes, lines: int) -> int:
    """How many CSV records the first `lines` lines of UTF-8 `payload` (LF line ends) hold, a blank
    line being one: a quoted cell over two lines (a title with a line break) is one record."""
    end = line_start(payload, lines)
    return sum(1 for _ in csv.reader(io.StringIO(payload[:end].decode("utf-8", errors="replace"), newline="")))


def _below_title(lines: list[str]) -> str:
    """The delimiter of the lines below a would-be title: detected (:func:`detect_delimiter`) from
    the first of them that holds one, so a second title line without any (a date, "Generated …")
    does not decide it."""
    start = next((i for i, line in enumerate(lines) if any(d in line for d in DELIMITERS)), 0)
    return detect_delimiter("\n".join(lines[start:]))


def _header_and_row(lines: list[str], delimiters: tuple[str, ...]) -> bool:
    """Whether the first line splits on one of `delimiters` into two names or more and the next two
    non-blank lines hold that delimiter as often, the first of them no other delimiter more often:
    a header and its first rows, never a title (a ;-file's header above rows whose names hold
    commas, ``Foo Co., Ltd.``; not a title ``Visit report, January`` above a ;-header naming
    ``Duration, min``). Quoted text is left out."""
    below = [_outside_quotes(line) for line in lines[1:] if line.strip()][:2]
    if not below:
        return False
    first = _outside_quotes(lines[0])
    most = max(below[0].count(d) for d in DELIMITERS)
    return any(
        first.count(d) and below[0].count(d) == most and all(line.count(d) == first.count(d) for line in below)
        and len(_written(first.split(d))) >= 2
        for d in delimiters
    )


def _title_lines(table: str, delimiter: str | None) -> int:
    """:func:`title_rows` of a CSV text (from the line after any ``sep=`` line), in lines. The first
    line is the header when the next lines agree with it (:func:`_header_and_row`); it is a title
    only when it has at most one cell written, split on `delimiter`, else on the delimiter of the
    lines below it (:func:`_below_title`; a title may hold a comma in a ;-separated file, a footer
    may use another delimiter than the table). Each candidate header line is split on `delimiter`,
    else on the delimiter detected from it and the lines below, and so is the title block above it;
    records are read as CSV (each delimiter's once), so a quoted title cell may hold a line break."""
    head = table[:_SAMPLE_CHARS]  # never a copy of the whole file
    lines = head.split("\n")[: TITLE_SCAN + 11]
    if _header_and_row(lines, (delimiter,) if delimiter else DELIMITERS):
        return 0
    parsed: dict[str, Records] = {}

    def records_on(separator: str) -> Records:
        if separator not in parsed:
            parsed[separator] = _records(head, separator)
        return parsed[separator]

    first = records_on(delimiter or _below_title(lines[1:]))
    if not first or len(first[0][1]) > 1:
        return 0

    def records_from(k: int) -> Records | None:
        records = records_on(delimiter or detect_delimiter("\n".join(lines[k:])))
        index = next((i for i, (line, _) in enumerate(records) if line == k), None)
        if index is None or len(records[0][1]) > 1:
            return None  # k continues a quoted cell, or the first record names two columns or more
        return records[index:]

    return _header_position(records_from, min(len(lines), TITLE_SCAN))


def locate_header(text: str, skip_rows: int | None, delimiter: str | None) -> tuple[int, str, str]:
    """(Lines above the header, the text from the header on, the delimiter): the configured
    `delimiter`, else the one an Excel ``sep=`` line names, else the one detected from the header and
    the first rows (see :func:`above_header`). `skip_rows` None: a report's title block above the
    header is found (:func:`title_rows`). In: text with LF line ends."""
    skip, hinted = above_header(text, skip_rows or 0)
    table = text.split("\n", skip)[-1] if skip else text
    if skip_rows is None and (title := _title_lines(table, delimiter or hinted)):
        skip += title
        table = table.split("\n", title)[-1]
    return skip, table, delimiter or hinted or detect_delimiter(table)


def read_header(text: str, delimiter: str) -> Header:
    """The header record (quoted names may hold delimiters and newlines); duplicates after trimming."""
    reader = csv.reader(io.StringIO(text[:_SAMPLE_CHARS]), delimiter=delimiter)
    try:
        names = next(reader)
    except (StopIteration, csv.Error):
        names = []
    if names:
        names[0] = names[0].lstrip("\ufeff")
    counts = Counter(name.strip() for name in names)
    return Header(names=names, duplicates=sorted(n for n, c in counts.items() if c > 1))
