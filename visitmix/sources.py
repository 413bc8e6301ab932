"""Read one configured file source (CSV, Excel, Parquet, JSON/NDJSON; one file or a glob).

Shape out: the source's own columns — CSV and Excel cells as ``pl.String`` exactly as written
(no type inference, so nothing is silently nulled and codes keep their leading zeros; Excel
dates arrive as ``YYYY-MM-DD HH:MM:SS`` text and plain numbers in date columns are read as Excel
serial dates later), Parquet and JSON columns as typed — plus ``source_file`` (String, the file
name) and ``source_row_number`` (Int64, 1-based data row in that file, the header not counted).
Header names are trimmed and BOM-free.

Encoding of CSV: the configured one, else strict UTF-8 (with or without BOM) first, then
Windows-874 (``cp874``, Thai Windows Excel, a superset of TIS-620 — never Polars' lossy
``tis-620``). The encoding used is recorded per file. The delimiter is detected (``,`` ``;`` tab
``|``) unless configured; quoted fields may hold commas and newlines.
"""

from __future__ import annotations

import csv
import glob
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.schema import LINEAGE_COLUMNS, SOURCE_FILE, SOURCE_ROW
from transforms import references
from visitmix.config import LookupConfig, SourceConfig
from visitmix.errors import SourceError

_ENCODINGS = ("utf-8-sig", "cp874")
# Python has no codec named windows-874 / tis-620 that is lossless: both mean cp874 here
_ENCODING_ALIASES = {"windows-874": "cp874", "windows874": "cp874", "tis-620": "cp874", "tis620": "cp874", "utf-8": "utf-8-sig", "utf8": "utf-8-sig"}
_FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
}
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class SourceFile:
    path: Path | None  # None for a database source
    size_bytes: int | None
    encoding: str | None  # CSV only
    format: str = "csv"
    label: str | None = None  # how a database source is shown (password masked)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else str(self.label)


@dataclass(frozen=True)
class RawSource:
    name: str
    frame: pl.DataFrame
    files: tuple[SourceFile, ...]
    rows_read: int  # before the `where` filter
    # per lookup ("visits.lookups[0]"): keys that matched several disagreeing rows (smallest value taken)
    ambiguous_lookups: tuple[tuple[str, str, int], ...] = ()  # (label, source key column, count)


def source_files(name: str, config: SourceConfig) -> list[Path]:
    """The files a source names, in order; each glob's matches sorted by name. SourceError if one is missing."""
    files: list[Path] = []
    seen: set[Path] = set()
    for path in config.paths:
        pattern = str(path)
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern))
            if not matches:
                raise SourceError(f"sources.{name}.path: no file matches '{pattern}'")
            files.extend(matches)
        elif not path.is_file():
            raise SourceError(f"sources.{name}.path: file '{path}' does not exist")
        else:
            files.append(path)
    unique = []
    for path in files:  # a file named twice (or by a glob and by name) is read once
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def snake_case(name: str) -> str:
    """``ActivityDateTime`` → ``activity_date_time``; ``account_id`` stays (for CRM presets)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).lower().replace(" ", "_")


def _clean_names(name: str, path: Path, columns: list[str], case: str) -> dict[str, str]:
    """Header names trimmed and BOM-free (snake_case for presets); collisions are refused by name."""
    cleaned = {c: c.lstrip("\ufeff").strip() for c in columns}
    if case == "snake":
        cleaned = {c: snake_case(v) for c, v in cleaned.items()}
    seen: dict[str, str] = {}
    for original, new in cleaned.items():
        if new in LINEAGE_COLUMNS:
            raise SourceError(f"{name} source '{path.name}' has a column named '{new}', a name visitmix keeps for lineage; rename it in the export")
        if new in seen:
            raise SourceError(f"{name} source '{path.name}' has two columns named '{new}' ('{seen[new]}' and '{original}')")
        seen[new] = original
    return cleaned


# A Thai vowel or tone mark straight after a Latin letter never happens in Thai text: the bytes were
# a Western code page (café in Latin-1 decodes as caf้ in cp874)
_NOT_THAI = re.compile(r"[A-Za-z][\u0E31\u0E34-\u0E3A\u0E47-\u0E4E]")


def _decode(name: str, path: Path, data: bytes, configured: str | None) -> tuple[str, str]:
    if configured:
        encoding = _ENCODING_ALIASES.get(configured.lower(), configured)
        try:
            return data.decode(encoding), configured
        except (UnicodeDecodeError, LookupError) as exc:
            raise SourceError(f"sources.{name}.encoding: cannot decode '{path}' as {configured}: {exc}") from None
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "cp874" and _NOT_THAI.search(text):
            break
        return text, ("utf-8" if encoding == "utf-8-sig" else encoding)
    raise SourceError(
        f"cannot read {name} source file '{path}': it is neither UTF-8 nor Windows-874 (cp874) text; "
        f"set sources.{name}.encoding"
    )


def _delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_csv(name: str, path: Path, config: SourceConfig) -> tuple[pl.DataFrame, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {name} source file '{path}': {exc.strerror or exc}") from None
    text, encoding = _decode(name, path, data, config.encoding)
    if not text.strip():
        raise SourceError(f"cannot read {name} source file '{path}': the file is empty")
    try:
        frame = pl.read_csv(
            data if encoding == "utf-8" else text.encode("utf-8"),  # only a transcoded file is copied
            infer_schema=False,
            separator=config.delimiter or _delimiter(text),
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as CSV: {_first_line(exc)}") from None
    return frame, encoding


def _read_excel(name: str, path: Path, sheet: str | None) -> pl.DataFrame:
    try:
        # every cell as text: type inference over the first rows silently nulls what doesn't fit
        return pl.read_excel(path, sheet_name=sheet, engine="calamine", infer_schema_length=0)
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error types
        text = _first_line(exc)
        if sheet and "sheet" in text.lower():
            raise SourceError(f"sources.{name}.sheet: '{path.name}' has no sheet '{sheet}' ({text})") from None
        raise SourceError(f"cannot read {name} source file '{path}' as Excel: {text}") from None


def _read_json(name: str, path: Path, fmt: str) -> pl.DataFrame:
    try:
        return pl.read_ndjson(path) if fmt == "ndjson" else pl.read_json(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as {fmt.upper()}: {_first_line(exc)}") from None


def _read_parquet(name: str, path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as Parquet: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _attach_lookup(name: str, index: int, raw: pl.DataFrame, lookup: LookupConfig, parent: SourceConfig) -> tuple[pl.DataFrame, int]:
    """The source rows with the lookup's columns, and how many lookup keys were ambiguous."""
    key = f"sources.{name}.lookups[{index}]"
    label = f"{name}.lookups[{index}]"  # read_source adds the "sources." prefix itself
    lookup_on = lookup.lookup_on or lookup.on
    clash = [c for c in lookup.take if c in raw.columns]
    if clash:
        raise SourceError(f"{key}.take: the source already has a column named {', '.join(clash)}")
    if lookup.on not in raw.columns:
        raise SourceError(f"{key}.on: the {name} source has no column '{lookup.on}'")
    try:
        table = read_source(label, SourceConfig(path=lookup.path, where=lookup.where, column_case=parent.column_case,
                                              encoding=parent.encoding)).frame
        missing = [c for c in (lookup_on, *lookup.take) if c not in table.columns]
        if missing:
            columns = ", ".join(c for c in table.columns if c not in LINEAGE_COLUMNS)
            raise SourceError(f"{key}: the lookup file has no column {', '.join(missing)} (its columns: {columns})")
    except SourceError:
        if not lookup.optional:
            raise
        return raw.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in lookup.take]), 0
    joined = references.attach_lookup(raw.lazy(), table.lazy(), lookup.on, lookup_on, lookup.take)
    ambiguous = references.ambiguous_lookup_keys(table.lazy(), lookup_on, lookup.take)
    used = ambiguous.join(raw.lazy().select(pl.col(lookup.on).cast(pl.String).alias("key")).unique(), on="key", how="semi")
    joined_frame, count = pl.collect_all([joined, used.select(pl.len())])
    return joined_frame, int(count.item())


def read_source(name: str, config: SourceConfig) -> RawSource:
    """Read every file of source `name` (or its database table/query), apply its `where` filter.

    Raises :class:`SourceError` naming the file (unreadable, undecodable, not in its format) or
    the config key (no matching file, a `where` that does not compile over the source columns).
    """
    if config.uri is not None:
        from visitmix.databases import read_database_source

        raw, database = read_database_source(name, config)
        return _shape(name, config, raw, (database,))
    frames, files = [], []
    for path in source_files(name, config):
        fmt = config.format or _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"sources.{name}.path: cannot tell the format of '{path}' from its extension; set sources.{name}.format"
            )
        encoding = None
        if fmt == "csv":
            frame, encoding = _read_csv(name, path, config)
        elif fmt == "excel":
            frame = _read_excel(name, path, config.sheet)
        elif fmt in ("json", "ndjson"):
            frame = _read_json(name, path, fmt)
        else:
            frame = _read_parquet(name, path)
        frame = frame.rename(_clean_names(name, path, frame.columns, config.column_case))
        frames.append(
            frame.with_columns(pl.lit(path.name).alias(SOURCE_FILE)).with_row_index(SOURCE_ROW, offset=1)
        )
        files.append(SourceFile(path=path, size_bytes=path.stat().st_size, encoding=encoding, format=fmt))
    raw = pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    return _shape(name, config, raw, tuple(files))


def _shape(name: str, config: SourceConfig, raw: pl.DataFrame, files: tuple[SourceFile, ...]) -> RawSource:
    """Apply the source's lookups, then its `where` filter (files and databases alike)."""
    rows_read = raw.height
    ambiguous = []
    for index, lookup in enumerate(config.lookups):
        raw, count = _attach_lookup(name, index, raw, lookup, config)
        ambiguous.append((f"{name}.lookups[{index}]", lookup.on, count))
    if config.where:
        try:
            raw = raw.filter(pl.sql_expr(config.where))
        except pl.exceptions.PolarsError as exc:
            raise SourceError(
                f"sources.{name}.where: cannot apply '{config.where}' to the columns of '{files[0].name}' "
                f"({', '.join(c for c in raw.columns if c not in LINEAGE_COLUMNS)}): {_first_line(exc)}"
            ) from None
    return RawSource(name=name, frame=raw, files=files, rows_read=rows_read, ambiguous_lookups=tuple(ambiguous))
