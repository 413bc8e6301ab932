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

from pathlib import Path

import duckdb

from visitmix.errors import WarehouseError

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
