"""Build the DuckDB warehouse in a new file, audit it, then swap it in atomically.

Publishing never edits the live file. A run builds ``<warehouse>.building-<run_id>`` from the
SQL files in ``sql/`` (``ddl`` → ``staging`` → ``core`` → ``marts``), copies the audit history of
the live file into it, checks the marts (``sql/checks``), checkpoints it and renames it over the
live file with ``os.replace`` (atomic on POSIX). A BI tool holding the old file open read-only
keeps its consistent snapshot; a reader that reconnects sees the new marts. A failed run copies
the live file, appends its audit records to the copy and swaps that in, so the marts stay
byte-for-byte what they were. Only a process holding the live file read-write blocks a run; the
error names its process id.

Every file published is in the storage format DuckDB 1.1 and later read (:data:`visitmix.duck.STORAGE_VERSION`)
and carries the table and column descriptions of ``sql/catalog.toml`` (:mod:`visitmix.catalog`). A
failed run whose live file is in another format (written by an older visitmix) converts it while copying.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from visitmix import termination
from visitmix.catalog import apply_comments
from visitmix.duck import STORAGE_NUMBER, STORAGE_VERSION, assert_duckdb_file, connect, lock_error, open_read_only, storage_number
from visitmix.errors import WarehouseError
from visitmix.paths import SQL_DIR

BUILD_MEMORY_LIMIT = "500MB"  # DuckDB's working memory while building; the Polars frames it reads are apart
# visits processed in partitions are read from Parquet: no Polars frame holds them, DuckDB may use more
SPILLED_BUILD_MEMORY_LIMIT = "4GB"
AUDIT_TABLES = ("pipeline_run", "source_file", "dq_result", "quarantine")
BUILD_LAYERS = ("staging", "core", "marts")



@dataclass
class AuditRecords:
    """What a run writes to ``audit``: one frame per audit table (columns as in sql/ddl/10_audit.sql)."""

    pipeline_run: pl.DataFrame
    source_file: pl.DataFrame = field(default_factory=pl.DataFrame)
    dq_result: pl.DataFrame = field(default_factory=pl.DataFrame)
    quarantine: pl.DataFrame = field(default_factory=pl.DataFrame)
    # runs found dead (killed or crashed) when this run started: (run_id, when their file was last written)
    killed_runs: list[tuple[str, datetime]] = field(default_factory=list)


def sql_files(layer: str) -> list[Path]:
    """The ``.sql`` files of one layer folder, in name order."""
    return sorted((SQL_DIR / layer).glob("*.sql"))


def run_sql_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Execute every statement of a SQL file. Raises WarehouseError naming the file."""
    try:
        for statement in _statements(path.read_text(encoding="utf-8")):
            con.execute(statement).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"{path.relative_to(SQL_DIR.parent)} failed: {exc}") from exc


def query(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None, folder: str = "audit") -> list[tuple]:
    """Rows of the one-statement file ``sql/<folder>/<name>.sql`` with named parameters."""
    return con.execute((SQL_DIR / folder / f"{name}.sql").read_text(encoding="utf-8"), params or {}).fetchall()


def _statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _copy_previous_audit(con: duckdb.DuckDBPyConnection, live: Path) -> None:
    if not live.exists():
        return
    assert_duckdb_file(live)
    try:
        con.execute(f"attach '{_quote(live)}' as previous (read_only)").fetchall()
    except duckdb.Error as exc:
        locked = lock_error(live, exc)
        if locked:
            raise locked from None
        raise WarehouseError(f"cannot open the existing warehouse '{live}': {exc}") from None
    try:
        if not query(con, "is_visitmix_warehouse", {"database": "previous"})[0][0]:
            raise WarehouseError(
                f"'{live}' is a DuckDB database visitmix did not create (it has no audit.pipeline_run); "
                "refusing to replace it: set warehouse.path to a new file"
            )
        run_sql_file(con, SQL_DIR / "audit" / "copy_history.sql")
    finally:
        con.execute("detach previous").fetchall()


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _append_audit(con: duckdb.DuckDBPyConnection, records: AuditRecords) -> None:
    for table in AUDIT_TABLES:
        frame: pl.DataFrame = getattr(records, table)
        if frame.height:
            con.register("audit_rows", frame)
            con.execute(f"insert into audit.{table} by name select * from audit_rows").fetchall()
            con.unregister("audit_rows")
    for run_id, last_written in records.killed_runs:
        query(con, "record_killed_run", {"run_id": run_id, "last_written": last_written})


def _swap_in(building: Path, live: Path) -> None:
    stale_wal = Path(f"{live}.wal")
    if stale_wal.exists():
        # left by a writer that crashed on the old file; it must not be replayed onto the new one
        stale_wal.unlink()
    os.replace(building, live)


def _discard(building: Path) -> None:
    for path in (building, Path(f"{building}.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(Path(f"{building}.tmp"), ignore_errors=True)


class WarehouseBuild:
    """A complete new warehouse file, built beside the live one and swapped in by :meth:`publish`.

    Use as a context manager, inside the run's :class:`visitmix.runlock.RunGuard`: leaving the
    block without :meth:`publish` (an exception, a failed check) deletes the new file and leaves
    the live warehouse untouched.
    Raises WarehouseLockedError (another process holds the live file read-write) and
    WarehouseError (a SQL file failed), naming the file.
    """

    def __init__(self, live: Path, run_id: str) -> None:
        self.live = live
        self.path = live.with_name(f"{live.name}.building-{run_id}")
        self.con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> WarehouseBuild:
        self.live.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = connect(self.path)
            # table row order carries no meaning here; keeping it costs a third of the load time
            self.con.execute("set preserve_insertion_order = false").fetchall()
            # bounded memory: beyond this DuckDB spills to <build file>.tmp/, beside the warehouse
            self.con.execute(f"set memory_limit = '{BUILD_MEMORY_LIMIT}'").fetchall()
            for path in sql_files("ddl"):
                run_sql_file(self.con, path)
            _copy_previous_audit(self.con, self.live)
        except BaseException:
            self._abandon()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        self._abandon()

    def _abandon(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        _discard(self.path)

    def load(self, frames: Mapping[str, pl.DataFrame | list[str]]) -> dict[str, int]:
        """Register `frames` under their names for the SQL files, build staging → core → marts,
        run the mart checks.

        Names used by sql/: ``accounts_frame``, ``deals_frame``, ``reps_frame``,
        ``customers_frame``, ``targets_frame``, ``settings_frame``, ``visit_accounts_frame`` / ``visit_reps_frame``
        (ids the visits use beyond the accounts / reps inputs) and ``classified_frame`` (the
        classified visits, read once, straight into ``marts.fct_visit``). Frames are handed over as Arrow with string
        views, which DuckDB scans without a copy; a list of Parquet paths instead of a frame is read from
        those files. Returns the row count of each mart.
        """
        assert self.con is not None
        if any(isinstance(frame, list) for frame in frames.values()):
            self.con.execute(f"set memory_limit = '{SPILLED_BUILD_MEMORY_LIMIT}'").fetchall()
        for name, frame in frames.items():
            if isinstance(frame, list):  # Parquet files (visits processed in partitions): read where they lie
                self.con.register(name, self.con.read_parquet(frame))
            else:
                self.con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))
        for layer in BUILD_LAYERS:
            for path in sql_files(layer):
                run_sql_file(self.con, path)
        try:
            _check_marts(self.con)
        finally:
            for name in frames:
                self.con.unregister(name)
        return _mart_counts(self.con)

    def previous_rows_in_scope(self) -> int | None:
        """Visit rows in scope of the last successful run (from the copied audit history), or None."""
        assert self.con is not None
        rows = query(self.con, "last_successful_run")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def read(self, table: str) -> pl.DataFrame:
        """A built table as a Polars frame (for validating the marts before they are published)."""
        assert self.con is not None
        return self.con.sql(f"select * from {table}").pl()  # table names come from the suites, not users

    def publish(self, audit: AuditRecords) -> None:
        """Append this run's audit records, describe every table (sql/catalog.toml), checkpoint, and
        atomically replace the live file. Raises WarehouseError when the catalog names a table or
        column the build lacks."""
        assert self.con is not None
        _append_audit(self.con, audit)
        apply_comments(self.con)
        self.con.execute("checkpoint").fetchall()
        self.con.close()
        self.con = None
        with termination.publishing():  # a SIGTERM from here on waits: the new marts go live whole
            _swap_in(self.path, self.live)


def record_failed_run(live: Path, run_id: str, audit: AuditRecords) -> None:
    """Append a failed run's audit records without touching the marts.

    Appends them to the live file itself, in one transaction, when no other process has it open
    (a failed run at 100M visits must not copy a warehouse of gigabytes); when a reader holds it
    read-only, copies the live file, appends the records and swaps the copy in (the reader keeps
    its snapshot). No live file: starts an audit-only file. Call it inside the run's RunGuard. A
    live file in another storage format than STORAGE_VERSION (written by an older visitmix) is
    converted instead: same tables and rows, readable by DuckDB 1.1. Raises WarehouseLockedError
    when another process holds the file read-write.
    """
    live.parent.mkdir(parents=True, exist_ok=True)
    _record_failed_run(live, live.with_name(f"{live.name}.failed-{run_id}"), audit)


def _record_failed_run(live: Path, building: Path, audit: AuditRecords) -> None:
    _discard(building)
    if live.exists():
        _assert_ours(live)
        if storage_number(live) == STORAGE_NUMBER and _append_in_place(live, audit):
            return
    try:
        if live.exists():
            if storage_number(live) == STORAGE_NUMBER:
                shutil.copyfile(live, building)
            else:
                _convert(live, building)
        con = connect(building)
        try:
            _append_failed_run(con, audit)
        finally:
            con.close()
        _swap_in(building, live)
    except BaseException:
        _discard(building)
        raise


def _append_in_place(live: Path, audit: AuditRecords) -> bool:
    """Append to `live` in one transaction; False (nothing written) when another process has it open."""
    try:
        con = connect(live)
    except duckdb.Error as exc:
        if lock_error(live, exc) is None:
            raise
        return False  # a reader holds it read-only (a read-write holder failed _assert_ours before)
    try:
        _append_failed_run(con, audit)  # an error rolls back: the file is as it was
    finally:
        con.close()
    return True


def _append_failed_run(con: duckdb.DuckDBPyConnection, audit: AuditRecords) -> None:
    """The audit tables (created when missing), the records and the comments in one transaction,
    committed and checkpointed."""
    con.execute("begin transaction").fetchall()
    for path in sql_files("ddl"):
        run_sql_file(con, path)
    _append_audit(con, audit)
    apply_comments(con, only_present=True)
    con.execute("commit").fetchall()
    con.execute("checkpoint").fetchall()


def _convert(live: Path, target: Path) -> None:
    """Copy every schema, table and row of `live` into a new file `target` in STORAGE_VERSION."""
    con = connect()
    try:
        con.execute(f"attach '{_quote(live)}' as previous (read_only)").fetchall()
        con.execute(f"attach '{_quote(target)}' as converted (storage_version '{STORAGE_VERSION}')").fetchall()
        con.execute("copy from database previous to converted").fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot convert the warehouse '{live}' to the DuckDB {STORAGE_VERSION} storage format: {exc}") from None
    finally:
        con.close()


def check_existing_warehouse(live: Path) -> None:
    """Before a run: an existing file at the warehouse path must be a visitmix warehouse.

    Raises WarehouseLockedError (held read-write by another process) or WarehouseError.
    """
    if live.exists():
        _assert_ours(live)


def is_ours(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's database is a warehouse visitmix built (sql/audit/is_visitmix_warehouse.sql)."""
    return bool(query(con, "is_visitmix_warehouse", {"database": None})[0][0])


def foreign(path: Path) -> WarehouseError:
    """The error for a DuckDB file at `path` that visitmix did not create (read by a command)."""
    return WarehouseError(f"'{path}' is a DuckDB database visitmix did not create (no audit.pipeline_run of its own)")


def _assert_ours(live: Path) -> None:
    """The live file opens (no read-write holder) and is a visitmix warehouse."""
    con = open_read_only(live)
    try:
        ours = is_ours(con)
    finally:
        con.close()
    if not ours:
        raise WarehouseError(f"'{live}' is a DuckDB database visitmix did not create; refusing to change it")


def _check_marts(con: duckdb.DuckDBPyConnection) -> None:
    for path in sql_files("checks"):
        rows = con.execute(path.read_text(encoding="utf-8")).fetchall()
        if rows:
            problems = "; ".join(f"{mart}: {problem} ({affected} rows)" for mart, problem, affected in rows[:5])
            raise WarehouseError(f"mart check {path.name} failed, nothing was published: {problems}")


def _mart_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per published mart (every table in schema marts), for the run summary."""
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'marts' and database_name = current_database() order by 1"
    ).fetchall()]
    return {t: int(con.execute(f'select count(*) from marts."{t}"').fetchall()[0][0]) for t in tables}
