"""Checks that need no data, run before Prefect starts: a mistake fails in seconds, not minutes.

* every file and glob of every source (and lookup) exists and can be opened;
* every mapped column, expression, ``where`` and lookup key fits the columns of the files'
  headers (read alone, see :mod:`visitmix.headers`; the same rule the run applies to the data);
* every database URI's ``${VAR}`` is set (Prefect Secret blocks are loaded inside the flow);
* the warehouse folder exists or can be created, and a file can be written in it;
* a file already at the warehouse path is a visitmix warehouse (never a foreign DuckDB or SQLite
  file), and no other process holds it read-write (asked again ``warehouse.lock_retries`` times,
  waiting ``lock_retry_delay_s``, then twice as long …, before giving up).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from visitmix.canonicalise import check_file_columns, choose_mapping
from visitmix.config import Config, SourceConfig
from visitmix.headers import file_headers
from visitmix.sources import choose_where, file_label, source_files
from visitmix.errors import ConfigError, WarehouseError, WarehouseLockedError
from visitmix.uris import resolve_uri
from visitmix.warehouse import check_existing_warehouse

SOURCES = ("visits", "accounts", "deals", "reps")


def check_warehouse_folder(live: Path) -> None:
    """The warehouse's folder exists (or is created) and takes a new file. Raises WarehouseError."""
    folder = live.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"warehouse folder '{folder}' cannot be created ({exc.strerror or exc}); set warehouse.path") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{live.name}.probe-"):
            pass
    except OSError as exc:
        raise WarehouseError(
            f"warehouse folder '{folder}' is not writable ({exc.strerror or exc}): a run builds the new warehouse "
            "beside the old one and swaps it in; make the folder writable or set warehouse.path"
        ) from None
    if live.exists() and not os.access(live, os.R_OK):
        raise WarehouseError(f"warehouse file '{live}' is not readable; fix its permissions or set warehouse.path")


def check_reports_folder(folder: Path) -> None:
    """The data-quality reports' folder exists (or is created) and takes a file: every run writes its
    report there, and an auditor finds nothing if it cannot. Raises ConfigError naming the key."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".visitmix-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"reports folder '{folder}' cannot be written ({exc.strerror or exc}): every run writes its data-quality "
            "report there; set [reports] dir to a writable folder"
        ) from None


def check_source_columns(name: str, source: SourceConfig, base: Path | None = None) -> None:
    """The files of a file source exist and their headers have every column the mapping reads.
    Raises SourceMissing / SourceError with the message the run itself would give."""
    headers = file_headers(name, source)
    if headers is None:
        return
    columns = list(dict.fromkeys(c for _path, names in headers for c in names))
    if not columns:  # only exports of no records (JSON's []): nothing to map; the run reads no rows
        return
    files = sorted({m.path.name for m in source_files(name, source)})
    expressions = choose_mapping(name, source, columns, ", ".join(files))
    choose_where(name, source, columns, files[0])
    for path, names in headers:
        if not names:  # a JSON export of no records: no columns to lack
            continue
        check_file_columns(name, source, expressions, columns, file_label(path, base), names)


def check_warehouse_free(live: Path, retries: int, delay_s: float) -> None:
    """The warehouse is not held read-write by another process (nor foreign). Raises
    WarehouseLockedError naming the holder after `retries` more tries with doubling waits."""
    for attempt in range(retries + 1):
        try:
            check_existing_warehouse(live)
            return
        except WarehouseLockedError:
            if attempt == retries:
                raise
            time.sleep(delay_s * 2**attempt)


def preflight(config: Config) -> None:
    """Run every check that needs no data. Raises a VisitmixError subclass naming the key or file."""
    for name in SOURCES:
        source = getattr(config.sources, name)
        if source is None:
            continue
        if source.uri is None:
            check_source_columns(name, source, config.base_dir)
        elif "${prefect-secret:" not in source.uri:
            resolve_uri(name, source.uri)  # a missing environment variable is a config error
    live = config.warehouse.path
    check_warehouse_folder(live)
    check_reports_folder(config.reports.dir)
    check_warehouse_free(live, config.warehouse.lock_retries, config.warehouse.lock_retry_delay_s)
