"""Read one configured source (CSV or Parquet, one file or a glob) into a raw frame.

Shape out: the source's own columns — CSV cells as ``pl.String`` exactly as written (no type
inference, so nothing is silently nulled; ids keep leading zeros), Parquet columns as typed —
plus ``source_file`` (String, the file name) and ``source_row_number`` (Int64, 1-based data row
in that file, header not counted). Header names are trimmed and BOM-free.

Encoding of CSV: strict UTF-8 (with or without BOM) first, then Windows-874 (``cp874``, Thai
Windows Excel, a superset of TIS-620); never a lossy decode. The encoding used is reported.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.schema import SOURCE_FILE, SOURCE_ROW
from visitmix.config import SourceConfig
from visitmix.errors import SourceError

_ENCODINGS = ("utf-8-sig", "cp874")
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size_bytes: int
    encoding: str | None  # None for Parquet


@dataclass(frozen=True)
class RawSource:
    name: str
    frame: pl.DataFrame
    files: tuple[SourceFile, ...]
    rows_read: int  # before the `where` filter


def source_files(name: str, config: SourceConfig) -> list[Path]:
    """The files a source names, sorted by name; a glob may match many. Raises SourceError if none."""
    pattern = str(config.path)
    if glob.has_magic(pattern):
        files = sorted(Path(p) for p in glob.glob(pattern))
        if not files:
            raise SourceError(f"sources.{name}.path: no file matches '{pattern}'")
        return files
    if not config.path.is_file():
        raise SourceError(f"sources.{name}.path: file '{config.path}' does not exist")
    return [config.path]


def _read_csv(name: str, path: Path) -> tuple[pl.DataFrame, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {name} source file '{path}': {exc.strerror or exc}") from None
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SourceError(
            f"cannot read {name} source file '{path}': it is neither UTF-8 nor Windows-874 (cp874) text"
        )
    if not text.strip():
        raise SourceError(f"cannot read {name} source file '{path}': the file is empty")
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as CSV: {_first_line(exc)}") from None
    return frame, ("utf-8" if encoding == "utf-8-sig" else encoding)


def _read_parquet(name: str, path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {name} source file '{path}' as Parquet: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_source(name: str, config: SourceConfig) -> RawSource:
    """Read every file of source `name`, apply its `where` filter, and return the raw rows.

    Raises :class:`SourceError` naming the file (unreadable, undecodable, not CSV/Parquet) or
    the config key (no matching file, a `where` that does not compile over the source columns).
    """
    frames, files = [], []
    for path in source_files(name, config):
        fmt = config.format or _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SourceError(
                f"sources.{name}.path: cannot tell the format of '{path}' from its extension; set sources.{name}.format"
            )
        if fmt == "csv":
            frame, encoding = _read_csv(name, path)
        else:
            frame, encoding = _read_parquet(name, path), None
        frame = frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})
        frames.append(
            frame.with_columns(pl.lit(path.name).alias(SOURCE_FILE)).with_row_index(SOURCE_ROW, offset=1)
        )
        files.append(SourceFile(path=path, size_bytes=path.stat().st_size, encoding=encoding))
    raw = pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    rows_read = raw.height
    if config.where:
        try:
            raw = raw.filter(pl.sql_expr(config.where))
        except pl.exceptions.PolarsError as exc:
            raise SourceError(
                f"sources.{name}.where: cannot apply '{config.where}' to the columns of '{files[0].path.name}' "
                f"({', '.join(c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW))}): {_first_line(exc)}"
            ) from None
    return RawSource(name=name, frame=raw, files=tuple(files), rows_read=rows_read)
