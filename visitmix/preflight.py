"""Checks that need no data, run before Prefect starts: a mistake fails in seconds, not minutes.

* every database URI's ``${VAR}`` is set (Prefect Secret blocks are loaded inside the flow);
* the warehouse folder exists or can be created, and a file can be written in it;
* a file already at the warehouse path is a visitmix warehouse (never a foreign DuckDB or SQLite file).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from visitmix.config import Config
from visitmix.errors import WarehouseError, WarehouseLockedError
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


def preflight(config: Config) -> None:
    """Run every check that needs no data. Raises a VisitmixError subclass naming the key or file."""
    for name in SOURCES:
        source = getattr(config.sources, name)
        if source is not None and source.uri is not None and "${prefect-secret:" not in source.uri:
            resolve_uri(name, source.uri)  # a missing environment variable is a config error
    live = config.warehouse.path
    check_warehouse_folder(live)
    try:
        check_existing_warehouse(live)  # not a visitmix file: stop before Prefect starts
    except WarehouseLockedError:
        pass  # a BI tool holding it read-write may let go while the run works: the publish step retries
