"""The one way visitmix opens a DuckDB database: no extension downloads, foreign files refused,
files written in a storage format DuckDB 1.1 reads.

Every connection the project opens goes through :func:`connect`, so none can try to download an
extension at run time (``autoinstall_known_extensions = false``; the built-in ``icu``, ``json``
and ``parquet`` still load), and a file at the warehouse path that is not a DuckDB database (a
SQLite file, a spreadsheet) is refused by name before DuckDB looks at it — DuckDB would otherwise
try to fetch its sqlite extension to open it.

Every database file a connection creates is written in :data:`STORAGE_VERSION`, not in the
newest format of the DuckDB installed: most BI drivers (Metabase's, DBeaver's JDBC, ODBC) bundle a
DuckDB 1.x, which refuses a file in the 2.0 format. A file that already exists keeps the format it
has; :func:`storage_number` tells which one that is.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from visitmix.errors import WarehouseError, WarehouseLockedError

# The oldest storage format that holds everything the warehouse uses, so the oldest DuckDB that
# opens it is 1.1.0. Measured with duckdb 2.0.1 writing and 1.0.0 / 1.1.0 / 1.1.3 / 1.4.4 / 1.5.6
# reading: "v1.0.0" gives the same file header, but DuckDB 1.0.0 cannot read the primary key of
# audit.pipeline_run written that way ("Failed to deserialize … field id: 103"); 1.1.0 and later
# read every table, type (TIMESTAMPTZ, JSON) and comment.
STORAGE_VERSION = "v1.1.0"
STORAGE_NUMBER = 64  # the number DuckDB writes in a file header for STORAGE_VERSION (0.10 … 1.1.x)
SETTINGS = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": True,
    "storage_compatibility_version": STORAGE_VERSION,
}
_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file
_SQLITE_MAGIC = b"SQLite format 3\x00"


def assert_duckdb_file(path: Path) -> None:
    """Raise WarehouseError when `path` exists, is not empty and is not a DuckDB database file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise WarehouseError(f"warehouse path '{path}' is a folder; set warehouse.path to a .duckdb file") from None
    except OSError as exc:
        raise WarehouseError(f"cannot read warehouse file '{path}': {exc.strerror or exc}") from None
    if not head or head[8:12] == _DUCKDB_MAGIC:
        return
    kind = "a SQLite database" if head.startswith(_SQLITE_MAGIC) else "not a DuckDB database"
    raise WarehouseError(f"'{path}' is {kind}; visitmix never opens or replaces it: set warehouse.path to a new file")


def storage_number(path: Path) -> int | None:
    """The storage version number in a DuckDB file's header (64 for DuckDB 0.10 … 1.1, 999 for 2.0),
    or None when `path` is missing, empty or not a DuckDB file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[8:12] != _DUCKDB_MAGIC:
        return None
    return int.from_bytes(head[12:20], "little")


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the project's settings (a new file is created in STORAGE_VERSION).

    Raises WarehouseError for a foreign file.
    """
    if str(path) != ":memory:":
        assert_duckdb_file(Path(path))
    return duckdb.connect(str(path), read_only=read_only, config=dict(SETTINGS))


_LOCK_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)


def lock_error(path: Path, exc: duckdb.Error) -> WarehouseLockedError | None:
    """The error to raise when `exc` says another process holds `path` read-write, else None."""
    text = str(exc)
    # DuckDB: 'Could not set lock on file "<path>": Conflicting lock is held in <program> (PID n)'; the
    # word "lock" alone is not enough ("block" in a corrupt file's error, a folder named "Q4 blocks")
    if not _LOCK_CONFLICT.search(text.replace(str(path), "")):
        return None
    pid = re.search(r"\(PID (\d+)\)", text)
    holder = f"process {pid.group(1)}" if pid else "another process"
    return WarehouseLockedError(
        f"warehouse '{path}' is held read-write by {holder}; close that connection (BI tools must "
        "connect read-only) and run again"
    )


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse at `path`, opened read-only (readers never block a run), the session in UTC.

    Raises WarehouseError for a file that is not DuckDB, WarehouseLockedError (naming the process)
    when another process holds it read-write, and WarehouseError with DuckDB's first line otherwise.
    """
    try:
        con = connect(path, read_only=True)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise lock_error(path, exc) or WarehouseError(f"cannot open the warehouse '{path}' read-only: {first}") from None
    con.execute("set TimeZone = 'UTC'").fetchall()
    return con
