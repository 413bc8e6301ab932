"""The one way visitmix opens a DuckDB database: no extension downloads, foreign files refused.

Every connection the project opens goes through :func:`connect`, so none can try to download an
extension at run time (``autoinstall_known_extensions = false``; the built-in ``icu``, ``json``
and ``parquet`` still load), and a file at the warehouse path that is not a DuckDB database (a
SQLite file, a spreadsheet) is refused by name before DuckDB looks at it — DuckDB would otherwise
try to fetch its sqlite extension to open it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from visitmix.errors import WarehouseError

SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
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


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the project's settings. Raises WarehouseError for a foreign file."""
    if str(path) != ":memory:":
        assert_duckdb_file(Path(path))
    return duckdb.connect(str(path), read_only=read_only, config=dict(SETTINGS))
