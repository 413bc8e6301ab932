"""Read one configured file source (CSV, Excel, Parquet, JSON/NDJSON; one file or a glob).

Shape out: the source's own columns — CSV and Excel cells as ``pl.String`` exactly as written
(no type inference, so nothing is silently nulled and codes keep their leading zeros; Excel
dates arrive as ``YYYY-MM-DD HH:MM:SS`` text and plain numbers in date columns are read as Excel
serial dates later), Parquet and JSON columns as typed — plus ``source_file`` (String, the file's
path relative to the config file's folder, so that ``2025-01/visits.csv`` and ``2025-02/visits.csv``
stay apart) and ``source_row_number`` (Int64, 1-based data row in that file, the header not counted).
Header names are trimmed and BOM-free.

CSV dialect (encoding, line ends, delimiter, header names): see :mod:`visitmix.csv_dialect`; Excel
workbooks: :mod:`visitmix.excel_reader`. The
encoding used, the size and the SHA-256 of the bytes actually read are recorded per file when the
file is read; a file that changes while it is being read is refused.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
from urllib.parse import unquote
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from transforms.schema import LINEAGE_COLUMNS, ROW_PROBLEM, SOURCE_FILE, SOURCE_ROW, header_name
from transforms import canonical, references
from visitmix import csv_reader
from visitmix.excel_reader import excel_1904, read_excel
from visitmix.config import LookupConfig, SourceConfig
from visitmix.errors import SourceError, SourceMissing, TransientSourceError, first_line
from visitmix.file_kind import actual_format

# what reading and mapping lazily scanned files may raise on their data; a Parquet file replaced after it
# was opened makes Polars panic (its footer no longer matches the bytes)
DATA_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException)

FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
}


@dataclass(frozen=True)
class SourceFile:
    path: Path | None  # None for a database source
    size_bytes: int | None  # of the bytes read
    encoding: str | None  # CSV only
    format: str = "csv"
    # how the file is named everywhere (lineage, quarantine, audit): its path relative to the
    # config file's folder; a database source: its URI with every credential masked, and the table
    label: str | None = None
    sha256: str | None = None  # of the bytes read, computed when they were read
    delimiter: str | None = None  # CSV only: as configured or detected
    skipped_empty_rows: int = 0  # rows with every cell blank (and blank lines): not data
    skipped_footer_rows: int = 0  # the trailing block of rows without any key value (report footers)
    title_rows: int = 0  # CSV / Excel: rows of a report's title block found above the header and skipped
    repeated_headers: int = 0  # CSV / Excel: rows below the header repeating it (concatenated exports), skipped
    excel_1904: bool = False  # Excel: the workbook counts serial dates from 1904 (Mac Excel)
    # CSV / Excel: columns with a blank header (column_<position>) dropped because they were empty
    blank_columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.label) if self.label is not None else (self.path.name if self.path else "")


@dataclass(frozen=True)
class RawPart:
    """One file (or one database result) as read: its own columns plus ``source_file`` and
    ``source_row_number``, after the source's lookups and `where` filter."""

    file: SourceFile
    frame: pl.LazyFrame
    snapshot: _Snapshot | None = None  # a lazily read file: checked again once its data was consumed
    # the last row of the file the `where` filter judged out (None: none): a report footer comes after it
    last_excluded_row: int | None = None
    # the file's own columns and its lookups' (before the source's files were aligned); None: not yet aligned
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RawSource:
    name: str
    parts: tuple[RawPart, ...]
    rows_read: int  # before the `where` filter
    # per lookup ("visits.lookups[0]"): keys that matched several disagreeing rows (smallest value taken)
    ambiguous_lookups: tuple[tuple[str, str, int], ...] = ()  # (label, source key column, count)

    @property
    def files(self) -> tuple[SourceFile, ...]:
        return tuple(p.file for p in self.parts)

    @property
    def columns(self) -> list[str]:
        """Every source column of any part (lineage excluded), in first-seen order."""
        seen: dict[str, None] = {}
        for part in self.parts:
            seen.update(dict.fromkeys(c for c in part.frame.collect_schema().names() if c not in LINEAGE_COLUMNS))
        return list(seen)

    def aligned(self) -> list[pl.LazyFrame]:
        """Each part with every column of :attr:`columns` (absent ones as NULL text), for mapping."""
        columns = self.columns
        out = []
        for part in self.parts:
            have = set(part.frame.collect_schema().names())
            out.append(part.frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in columns if c not in have]))
        return out

    def verify_unchanged(self) -> None:
        """Raise SourceError when a lazily read file changed since it was hashed (call after reading it)."""
        for part in self.parts:
            if part.snapshot is not None:
                part.snapshot.check()

    @property
    def frame(self) -> pl.DataFrame:
        """All parts in one frame (columns aligned by name, types relaxed): for small inputs and tests."""
        return pl.concat([p.frame.collect() for p in self.parts], how="diagonal_relaxed")


def file_label(path: Path, base: Path | None) -> str:
    """`path` relative to `base` (the config file's folder), with forward slashes."""
    if base is None:
        return path.name
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


class _Snapshot:
    """The identity of a file when reading starts; :meth:`check` refuses a file that changed since."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        try:
            stat = path.stat()
        except OSError as exc:
            raise SourceError(f"cannot read {name} source file '{path}': {exc.strerror or exc}") from None
        self.key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def check(self) -> None:
        try:
            stat = self.path.stat()
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = None
        if key != self.key:
            raise TransientSourceError(
                f"{self.name} source file '{self.path}' changed while it was being read (replaced, moved or "
                "still being written); run again once the export is complete"
            )


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # a partition folder's value for NULL (Hive, Spark, pyarrow)


@dataclass(frozen=True)
class Match:
    """One file a source reads; `dataset` is the Parquet dataset folder it belongs to, if any."""

    path: Path
    dataset: Path | None = None

    def partition_values(self) -> dict[str, str | None]:
        """Hive-style ``key=value`` folder names between the dataset folder and the file (Spark);
        the folder Hive, Spark and pyarrow write for a NULL value (``__HIVE_DEFAULT_PARTITION__``) is None."""
        if self.dataset is None:
            return {}
        values: dict[str, str | None] = {}
        for part in self.path.relative_to(self.dataset).parts[:-1]:
            key, found, value = part.partition("=")
            if found and key:
                values[key] = None if value == HIVE_NULL else unquote(value)
        return values


def _dataset_files(name: str, folder: Path) -> list[Match]:
    """A folder as Spark/pyarrow write a Parquet dataset: its ``*.parquet`` files, recursively, by name.

    Bookkeeping files (``_SUCCESS``, ``.crc``, names starting with ``_`` or ``.``) are skipped;
    a folder without Parquet files is refused by name.
    """
    files = sorted(
        p
        for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )
    if not files:
        raise SourceError(
            f"sources.{name}.path: '{folder}' is a folder with no .parquet files (a folder is read only as a "
            "Parquet dataset, as Spark and pyarrow write them); name the files or a glob instead"
        )
    return [Match(p, folder) for p in files]


def source_files(name: str, config: SourceConfig) -> list[Match]:
    """The files a source names, in order; each glob's matches sorted by name.

    A folder (named, or matched by a glob) is read as a Parquet dataset (see :func:`_dataset_files`).
    Raises SourceMissing for a path or glob that matches nothing, SourceError for a folder that is
    not a Parquet dataset.
    """
    found: list[Match] = []
    for path in config.paths:
        pattern = str(path)
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern))
            if not matches:
                raise SourceMissing(f"sources.{name}.path: no file matches '{pattern}'")
        elif not path.exists():
            raise SourceMissing(f"sources.{name}.path: file '{path}' does not exist")
        else:
            matches = [path]
        for match in matches:
            found.extend(_dataset_files(name, match) if match.is_dir() else [Match(match)])
    unique, seen = [], set()
    for match in found:  # a file named twice (or by a glob and by name) is read once
        if match.path.resolve() not in seen:
            seen.add(match.path.resolve())
            unique.append(match)
    return unique


def snake_case(name: str) -> str:
    """``ActivityDateTime`` → ``activity_date_time``; ``account_id`` stays (for CRM presets)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).lower().replace(" ", "_")


def wanted_columns(config: SourceConfig) -> frozenset[str]:
    """The source columns `config` names: mapped columns, and those its expressions and `where` read."""
    texts = [t for alternatives, _ in config.expression_alternatives.values() for t in alternatives]
    texts += config.where_alternatives[0] if config.where_alternatives else []
    names = set(config.columns.values())
    for text in texts:
        try:
            names.update(pl.sql_expr(text).meta.root_names())
        except pl.exceptions.PolarsError:
            continue  # refused, naming the key, where the expression is used
    return frozenset(names)


def _squashed(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def clean_names(name: str, path: Path, columns: list[str], case: str, wanted: frozenset[str] = frozenset()) -> dict[str, str]:
    """Header names trimmed and BOM-free, without zero-width characters, each run of other white space
    (a no-break space, a line break in a wrapped Excel header) one plain space, as the name looks
    (snake_case for presets); collisions are refused by name.

    In snake case a name written in capitals has no word breaks to find (Salesforce Data Loader
    writes ACTIVITYDATETIME): it becomes the one `wanted` name (:func:`wanted_columns`) that is the
    same letters apart from case and underscores (``activity_date_time``), else its lower case.
    """
    # a name of zero-width characters only is blank: numbered by position, as blank headers are
    cleaned = {c: header_name(c) or f"column_{i}" for i, c in enumerate(columns, start=1)}
    if case == "snake":
        by_letters: dict[str, list[str]] = {}
        for known in wanted:
            by_letters.setdefault(_squashed(known), []).append(known)

        def snake(text: str) -> str:
            if text == text.upper() and len(matches := by_letters.get(_squashed(text), [])) == 1:
                return matches[0]
            return snake_case(text)

        cleaned = {c: snake(v) for c, v in cleaned.items()}
    seen: dict[str, str] = {}
    for original, new in cleaned.items():
        if new in LINEAGE_COLUMNS:
            raise SourceError(f"{name} source '{path.name}' has a column named '{new}', a name visitmix keeps for lineage; rename it in the export")
        if new in seen:
            raise SourceError(
                f"{name} source '{path.name}' has two columns named '{new}' ({seen[new]!r} and {original!r} as written): "
                "rename one in the export (report builders repeat names such as Owner for different objects)"
            )
        seen[new] = original
    return cleaned


def _without_repeated_headers(name: str, path: Path, frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """`frame` (a CSV or Excel file as read, numbered) without the rows that repeat its header (exports
    concatenated into one file: each part brings its header), and how many there were. Raises
    SourceError when such a row names the columns in another order: the rows below it are written in
    that order and would be read with their values under the wrong columns. Costs a pass over the
    first column; other cells are compared only in rows whose first cell is a column name. The
    header's text in messages is column names, never a cell value."""
    columns = [c for c in frame.columns if c not in (SOURCE_ROW, ROW_PROBLEM)]
    names = {header_name(c) for c in columns}
    if len(columns) < 2 or not frame.height or frame.schema[columns[0]] != pl.String:
        return frame, 0
    first = pl.col(columns[0]).str.strip_chars()
    candidates = frame.filter(first.is_in(list(names)))
    if candidates.is_empty():
        return frame, 0
    texts = [pl.col(c).cast(pl.String).str.strip_chars() for c in columns]
    written = [t.is_not_null() & (t != "") for t in texts]
    checked = candidates.select(
        SOURCE_ROW,
        # every written cell names a column, at least two are written: a header, not a rep called "Rep"
        is_header=(pl.sum_horizontal(w.cast(pl.Int32) for w in written) >= 2)
        & pl.all_horizontal(~w | t.is_in(list(names)) for w, t in zip(written, texts, strict=True)),
        same_order=pl.all_horizontal(~w | (t == header_name(c)) for w, t, c in zip(written, texts, columns, strict=True)),
        shown=pl.concat_str(texts, separator=", ", ignore_nulls=True),
    ).filter("is_header")
    moved = checked.filter(~pl.col("same_order"))
    if moved.height:
        row, shown = moved.row(0)[0], moved.get_column("shown")[0]
        raise SourceError(
            f"{name} source file '{path}': row {row} repeats the header in another column order ({shown}): the rows "
            "below it are written in that order and would be read under the wrong columns (exports concatenated into "
            "one file): split the file at that row, or export it once"
        )
    repeated = checked.get_column(SOURCE_ROW)
    if repeated.is_empty():
        return frame, 0
    return frame.filter(~pl.col(SOURCE_ROW).is_in(repeated.implode())), repeated.len()


def _without_blank_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The frame with its row numbers (1-based, header not counted), minus rows whose every cell is
    empty or blank text (spreadsheets leave them below the data); and how many there were."""
    numbered = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    cells = [
        pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars().str.len_bytes() == 0 if dtype == pl.String else pl.lit(False))
        for c, dtype in frame.schema.items()
    ]
    if not cells:
        return numbered, 0
    kept = numbered.filter(~pl.all_horizontal(cells))
    return kept, numbered.height - kept.height


# errors that pass by themselves: a busy or locked file (Windows sharing violations 32/33 when Excel
# holds an export open), a share that timed out or went stale, an interrupted read
_TRANSIENT_ERRNOS = frozenset({errno.EBUSY, errno.EAGAIN, errno.ETIMEDOUT, errno.EINTR, errno.ESTALE, errno.ETXTBSY})
_TRANSIENT_WINERRORS = frozenset({32, 33})


def is_transient_os_error(exc: OSError) -> bool:
    """True for a file error worth retrying (locked, busy, timed out), False for a lasting one."""
    return exc.errno in _TRANSIENT_ERRNOS or getattr(exc, "winerror", None) in _TRANSIENT_WINERRORS


def _read_bytes(name: str, path: Path) -> bytes:
    """The whole file, refused when it changes while being read."""
    snapshot = _Snapshot(name, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        error = TransientSourceError if is_transient_os_error(exc) else SourceError
        raise error(f"cannot read {name} source file '{path}': {exc.strerror or exc}") from None
    snapshot.check()
    return data


def read_json_file(name: str, path: Path, fmt: str) -> pl.DataFrame:
    """A JSON or NDJSON file read whole, as the run reads it (the pre-flight's view of its columns).
    Raises SourceError naming the file."""
    return _read_json(name, path, _read_bytes(name, path), fmt)


def _read_json(name: str, path: Path, data: bytes, fmt: str) -> pl.DataFrame:
    """A JSON array of objects or NDJSON (one object per line), its column types inferred from every
    record: a value after a run of nulls, or a text id after a hundred numeric ones, refused the
    whole file when only the first 100 were looked at. A UTF-8 byte-order mark is skipped. An export
    of no records (``[]``, an empty NDJSON file) is a frame without columns or rows."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if fmt == "ndjson" and not data.strip():
        return pl.DataFrame()  # NDJSON writes no line for no records (a month without visits)
    if not data.strip():
        raise SourceError(f"cannot read {name} source file '{path}' as JSON: the file is empty (an export of no records is "
                          "written as [])")
    try:
        return pl.read_ndjson(data, infer_schema_length=None) if fmt == "ndjson" else pl.read_json(data, infer_schema_length=None)
    except (OSError, pl.exceptions.PolarsError) as exc:
        hint = ""
        if fmt == "json" and data.lstrip().startswith(b"{") and b"\n{" in data.replace(b"\r\n", b"\n"):
            hint = f"; it looks like one JSON object per line: set sources.{name}.format = \"ndjson\""
        elif fmt == "json" and data.lstrip().startswith(b"{"):
            hint = ("; visitmix reads an array of records ([{...}, {...}]) or one object per line (format = \"ndjson\"), "
                    "not records wrapped in an object ({\"results\": [...]})")
        raise SourceError(f"cannot read {name} source file '{path}' as {fmt.upper()}: {first_line(exc)}{hint}") from None


def _scan_parquet(name: str, path: Path) -> tuple[pl.LazyFrame, int, SourceFile, _Snapshot]:
    """A Parquet file, scanned lazily (read while it is parsed, never whole in memory twice).

    Its bytes are hashed here, in one pass; the snapshot taken first is checked again once the
    data has been consumed (:meth:`RawSource.verify_unchanged`).
    """
    snapshot = _Snapshot(name, path)
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
                size += len(chunk)
        frame = pl.scan_parquet(path)
        rows = int(frame.select(pl.len()).collect().item())
        frame.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as Parquet: {first_line(exc)}") from None
    snapshot.check()
    return frame, rows, SourceFile(path=path, size_bytes=size, encoding=None, format="parquet", sha256=digest.hexdigest()), snapshot


def _read_lookup(name: str, index: int, lookup: LookupConfig, parent: SourceConfig) -> pl.DataFrame | None:
    """The lookup table, or None when it is optional and missing (never when it is unreadable)."""
    key = f"sources.{name}.lookups[{index}]"
    label = f"{name}.lookups[{index}]"  # read_source adds the "sources." prefix itself
    lookup_on = lookup.lookup_on or lookup.on
    try:
        table = read_source(label, SourceConfig(path=lookup.path, where=lookup.where, column_case=parent.column_case,
                                              encoding=parent.encoding), for_lookup=True).frame
    except SourceMissing:
        if not lookup.optional:
            raise
        # optional means "may be missing", never "may be unreadable": other errors always stop the run
        return None
    if ROW_PROBLEM in table.columns and table.get_column(ROW_PROBLEM).is_not_null().any():
        problem = table.get_column(ROW_PROBLEM).drop_nulls()[0]
        raise SourceError(f"{key}: the lookup file '{lookup.paths[0].name}' cannot be read as a table: {problem}")
    missing = [c for c in (lookup_on, *lookup.take) if c not in table.columns]
    if missing and lookup.optional:
        return None
    if missing:
        columns = ", ".join(c for c in table.columns if c not in LINEAGE_COLUMNS)
        raise SourceError(f"{key}: the lookup file has no column {', '.join(missing)} (its columns: {columns})")
    return table


def _attach_lookup(name: str, index: int, parts: list[RawPart], lookup: LookupConfig, parent: SourceConfig) -> tuple[list[RawPart], int]:
    """The parts with the lookup's columns, and how many lookup keys the source uses were ambiguous."""
    key = f"sources.{name}.lookups[{index}]"
    columns = RawSource(name, tuple(parts), 0).columns
    clash = [c for c in lookup.take if c in columns]
    if clash:
        raise SourceError(f"{key}.take: the source already has a column named {', '.join(clash)}")
    if lookup.on not in columns:
        raise SourceError(f"{key}.on: the {name} source has no column '{lookup.on}'")
    table = _read_lookup(name, index, lookup, parent)
    if table is None:
        empty = [pl.lit(None, dtype=pl.String).alias(c) for c in lookup.take]
        return [replace(p, frame=p.frame.with_columns(empty)) for p in parts], 0
    lookup_on = lookup.lookup_on or lookup.on
    joined = [replace(p, frame=references.attach_lookup(p.frame, table.lazy(), lookup.on, lookup_on, lookup.take)) for p in parts]
    ambiguous = references.ambiguous_lookup_keys(table.lazy(), lookup_on, lookup.take)
    keys = pl.concat([p.frame.select(references.lookup_key(lookup.on).alias("key")) for p in parts]).unique()
    count = ambiguous.join(keys, on="key", how="semi").select(pl.len()).collect().item()
    return joined, int(count)


def read_source(
    name: str, config: SourceConfig, base: Path | None = None, since: datetime | None = None,
    set_aside: tuple[Path, int] | None = None, for_lookup: bool = False,
) -> RawSource:
    """Read every file of source `name` (or its database table/query), apply its lookups and `where`.

    `since`: an incremental source's watermark; a database then sends only the rows changed about
    since then (files are read whole; the exact cut is :func:`transforms.incremental.since_watermark`).
    `set_aside`: (folder, rows) — once more than `rows` rows were read, each file read into memory
    (CSV, Excel, JSON) is written to `folder` as Parquet and scanned from there, so that one such
    file at a time is in memory however many there are (visitmix.partitioned; Parquet files are
    scanned where they are, a database result stays in memory). `for_lookup`: a lookup's file (its rows
    are not quarantined: its `where` filter is applied as written).

    `base` is the config file's folder: files are named relative to it (default: the folder of the
    source's first path). Raises :class:`SourceError` naming the file (unreadable, undecodable,
    not in its format, changed while read) or the config key (no matching file, a `where` that
    does not compile over the source columns).
    """
    if config.uri is not None:
        from visitmix.databases import read_database_source

        raw, database = read_database_source(name, config, since)
        return _shape(name, config, [RawPart(database, raw.lazy())], raw.height)
    if base is None and config.paths:
        base = config.paths[0].parent
    parts, rows, held = [], 0, 0
    wanted = wanted_columns(config) if config.column_case == "snake" else frozenset()
    for match in source_files(name, config):
        path = match.path
        fmt = "parquet" if match.dataset else config.format or FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"sources.{name}.path: cannot tell the format of '{path}' from its extension; set sources.{name}.format"
            )
        fmt = actual_format(name, path, fmt)  # text saved as .xls, a workbook renamed .csv
        label = file_label(path, base)
        snapshot = None
        if fmt == "parquet":
            frame, count, source, snapshot = _scan_parquet(name, path)
        elif fmt == "csv":
            read = csv_reader.read_csv(name, path, _read_bytes(name, path), config.encoding, config.delimiter, config.skip_rows)
            eager, headers = _without_repeated_headers(name, path, read.frame)
            frame, count = eager.lazy(), read.frame.height + read.skipped_empty_rows
            source = SourceFile(path=path, size_bytes=read.size_bytes, encoding=read.encoding, format="csv", sha256=read.sha256,
                                delimiter=read.delimiter, skipped_empty_rows=read.skipped_empty_rows, blank_columns=read.blank_columns,
                                title_rows=read.title_rows, repeated_headers=headers)
        else:
            data = _read_bytes(name, path)
            eager, blank_columns, title = (
                read_excel(name, path, data, config.sheet, config.skip_rows) if fmt == "excel" else (_read_json(name, path, data, fmt), (), 0)
            )
            title = title if config.skip_rows is None else 0
            clean_names(name, path, eager.columns, config.column_case, wanted)  # lineage names refused before numbering
            eager, blank = _without_blank_rows(eager)
            count = eager.height + blank
            eager, headers = _without_repeated_headers(name, path, eager) if fmt == "excel" else (eager, 0)
            frame = eager.lazy()
            source = SourceFile(path=path, size_bytes=len(data), encoding=None, format=fmt, sha256=hashlib.sha256(data).hexdigest(),
                                skipped_empty_rows=blank, excel_1904=fmt == "excel" and excel_1904(data), blank_columns=blank_columns,
                                repeated_headers=headers,
                                title_rows=title)
        added = {SOURCE_ROW, ROW_PROBLEM} if fmt != "parquet" else set()  # the readers' own columns
        columns = [c for c in frame.collect_schema().names() if c not in added]
        partitions = {k: v for k, v in match.partition_values().items() if k not in columns}
        frame = frame.with_columns([pl.lit(v, dtype=pl.String).alias(k) for k, v in partitions.items()])
        frame = frame.rename(clean_names(name, path, [*columns, *partitions], config.column_case, wanted))
        rows += count
        if SOURCE_ROW not in frame.collect_schema().names():
            frame = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
        lineage = frame.with_columns(pl.lit(label).alias(SOURCE_FILE))
        parts.append(RawPart(replace(source, label=label), lineage, snapshot))
        if set_aside is not None and rows > set_aside[1]:
            parts[held:] = [_set_aside(part, set_aside[0] / f"{index:05d}.parquet") for index, part in enumerate(parts[held:], held)]
            held = len(parts)
    return _shape(name, config, parts, rows, quarantined=not for_lookup)


def _set_aside(part: RawPart, path: Path) -> RawPart:
    """`part` written to `path` (Parquet, every column and row as read) and scanned from there; kept
    in memory when Parquet cannot hold its columns (a JSON object with no keys)."""
    if part.file.format == "parquet":
        return part
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        part.frame.sink_parquet(path, compression="lz4", statistics=False)
    except pl.exceptions.PolarsError:
        path.unlink(missing_ok=True)
        return part
    return replace(part, frame=pl.scan_parquet(path, glob=False))


def choose_where(name: str, config: SourceConfig, columns: list[str], file_name: str) -> pl.Expr | None:
    """The source's `where` filter over its `columns`: the first alternative they fit, None when no
    `where` is set (or none fits and the config says it may be skipped). Raises SourceError naming
    the key. Used on the data and, before Prefect starts, on the headers alone."""
    if not config.where_alternatives:
        return None
    conditions, optional = config.where_alternatives
    try:
        fitting = [c for c in conditions if set(pl.sql_expr(c).meta.root_names()) <= set(columns)]
        if not fitting and not optional:
            unknown = [c for c in pl.sql_expr(conditions[0]).meta.root_names() if c not in columns]
            raise pl.exceptions.ColumnNotFoundError(f"no column {', '.join(repr(c) for c in unknown)}")
        return pl.sql_expr(fitting[0]) if fitting else None
    except pl.exceptions.PolarsError as exc:
        shown = conditions[0] if len(conditions) == 1 else " | ".join(conditions)
        raise SourceError(
            f"sources.{name}.where: cannot apply '{shown}' to the columns of '{file_name}' "
            f"({', '.join(columns)}): {first_line(exc)}; column names are case-sensitive"
        ) from None


def _kept_by(condition: pl.Expr, frame: pl.LazyFrame) -> pl.Expr:
    """The rows `where` keeps: those it is true for, and a row the reader could not read whole (a
    short or long CSV row) for which it is NULL — the filter reads a cell the row does not have, so
    it cannot judge the row, which goes on to be quarantined with its reason (or dropped as a counted
    footer). A short row the filter can judge (its Type cell says Email) is filtered like any row."""
    if ROW_PROBLEM in frame.collect_schema().names():
        return condition | (pl.col(ROW_PROBLEM).is_not_null() & condition.is_null())
    return condition


def _where_applied(frame: pl.LazyFrame, keep: pl.Expr) -> pl.LazyFrame:
    """`frame`'s rows `keep` is true for, `keep` judging the text it reads as every parsed value is
    read (:func:`transforms.canonical.as_read`: a cell "Meeting\u200b " is Meeting); the rows keep
    their cells as written (the quarantine shows them)."""
    text = canonical.expression_text_columns(frame, [keep])
    if not text:
        return frame.filter(keep)
    written = {c: f"__as_written_{c}" for c in text}
    return (
        frame.with_columns(pl.col(c).alias(w) for c, w in written.items())
        .with_columns(canonical.as_read(c) for c in text)
        .filter(keep)
        .with_columns(pl.col(w).alias(c) for c, w in written.items())
        .drop(written.values())
    )


def _filtered(name: str, part: RawPart, condition: pl.Expr) -> RawPart:
    """`part` filtered by `where` (:func:`_kept_by`); in a CSV or Excel file, with the last row it
    judged out, so that a broken row before it is not taken for the file's footer. Raises
    SourceError when the file lacks a column the filter reads (other files have it: it was aligned as
    NULL) and the filter would drop every row of the file — a renamed column, not an empty month."""
    absent = [c for c in condition.meta.root_names() if part.columns is not None and c not in part.columns]
    if absent:
        # judged on the filter alone: a short footer line the filter cannot judge must not hide the rename
        judged = canonical.expression_inputs(part.frame, [condition])
        rows, kept = judged.select(pl.len(), condition.fill_null(False).any()).collect().row(0)
        if rows and not kept:
            raise SourceError(
                f"sources.{name}.where reads {', '.join(repr(c) for c in dict.fromkeys(absent))}, which '{part.file.label}' does not "
                "have (other files of the source do), so it would drop every row of that file: rename the column in that "
                "export, or write the filter so that a missing value keeps the row (e.g. with coalesce)"
            )
    if part.file.format in ("csv", "excel"):
        try:
            last = _where_applied(part.frame, ~condition).select(pl.col(SOURCE_ROW).max()).collect().item()
        except DATA_ERRORS:
            last = None  # a `where` that fails on the data: mapping the file says so, naming the key
        part = replace(part, last_excluded_row=last)
    return replace(part, frame=_where_applied(part.frame, _kept_by(condition, part.frame)))


def _shape(name: str, config: SourceConfig, parts: list[RawPart], rows_read: int, quarantined: bool = True) -> RawSource:
    """Align the parts' columns, apply the source's lookups, then its `where` filter, to each part.
    `quarantined`: the source's bad rows are quarantined (not a lookup file, which must read whole):
    `where` then keeps the rows it cannot judge (:func:`_kept_by`)."""
    taken = tuple(c for lookup in config.lookups for c in lookup.take)
    # a file's own columns include its blank-header columns dropped as empty (read as empty all the same)
    own = [(*(c for c in p.frame.collect_schema().names() if c not in LINEAGE_COLUMNS), *p.file.blank_columns) for p in parts]
    aligned = RawSource(name, tuple(parts), 0).aligned()
    parts = [replace(p, frame=f, columns=(*o, *(t for t in taken if t not in o))) for p, f, o in zip(parts, aligned, own, strict=True)]
    ambiguous = []
    for index, lookup in enumerate(config.lookups):
        parts, count = _attach_lookup(name, index, parts, lookup, config)
        ambiguous.append((f"{name}.lookups[{index}]", lookup.on, count))
    condition = choose_where(name, config, RawSource(name, tuple(parts), 0).columns, parts[0].file.name if parts else "")
    if condition is not None:
        parts = [_filtered(name, p, condition) if quarantined else replace(p, frame=_where_applied(p.frame, condition)) for p in parts]
    return RawSource(name=name, parts=tuple(parts), rows_read=rows_read, ambiguous_lookups=tuple(ambiguous))
