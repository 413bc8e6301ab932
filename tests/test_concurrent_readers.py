"""BI readers: a read-only holder never blocks a publish or a failed run's record; a read-write holder
gets a named error. A failed run is recorded in place when no one has the file open."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, marts_digest, query, warehouse_of
from visitmix import warehouse
from visitmix.duck import STORAGE_NUMBER, storage_number
from visitmix.errors import ValidationFailed, WarehouseLockedError

pytestmark = pytest.mark.usefixtures("prefect_harness")

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print(con.execute("select count(*) from marts.fct_visit").fetchall()[0][0], flush=True)
sys.stdin.readline()  # hold the file open until told to go on
print(con.execute("select count(*) from marts.fct_visit").fetchall()[0][0], flush=True)
"""


def _visits(n: int) -> list[list[str]]:
    return [[f"V{i}", "R1", "A1", f"2025-01-{i:02d} 10:00", "", "", ""] for i in range(1, n + 1)]


def _hold(path: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.first_count = int(proc.stdout.readline())  # type: ignore[attr-defined]
    return proc


def test_read_only_reader_does_not_block_publish(tmp_path: Path):
    config = make_scenario(tmp_path, visits=_visits(3))
    visit_mix_flow(str(config))
    reader = _hold(warehouse_of(config), "ro")
    try:
        make_scenario(tmp_path, visits=_visits(5))
        visit_mix_flow(str(config))
        # the attached reader keeps its consistent snapshot of the old marts ...
        out, _ = reader.communicate("\n", timeout=30)
        assert (reader.first_count, int(out)) == (3, 3)  # type: ignore[attr-defined]
    finally:
        reader.kill()
    # ... and a reader that reconnects sees the new ones
    assert query(warehouse_of(config), "select count(*) from marts.fct_visit") == [(5,)]


def test_read_write_holder_fails_the_run_naming_its_pid(tmp_path: Path):
    config = make_scenario(tmp_path, visits=_visits(3))
    visit_mix_flow(str(config))
    writer = _hold(warehouse_of(config), "rw")
    try:
        make_scenario(tmp_path, visits=_visits(5))
        with pytest.raises(WarehouseLockedError) as info:
            visit_mix_flow(str(config))
        assert f"is held read-write by process {writer.pid}" in str(info.value)
        assert "BI tools must connect read-only" in str(info.value)
    finally:
        writer.communicate("\n", timeout=30)
    assert query(warehouse_of(config), "select count(*) from marts.fct_visit") == [(3,)]


def _fail_a_run(tmp_path: Path, config: Path) -> None:
    make_scenario(tmp_path, visits=_visits(1))  # a third of the last run's rows: the volume check fails
    with pytest.raises(ValidationFailed, match="row_count_vs_previous_run"):
        visit_mix_flow(str(config))


def test_a_failed_run_is_appended_in_place_when_no_one_has_the_file_open(tmp_path: Path):
    # a failed run at 100M visits must not copy a warehouse of gigabytes to add one audit row
    config = make_scenario(tmp_path, visits=_visits(3))
    visit_mix_flow(str(config))
    live = warehouse_of(config)
    inode, digest = live.stat().st_ino, marts_digest(live)
    _fail_a_run(tmp_path, config)
    assert live.stat().st_ino == inode  # the same file, not a copy swapped in
    assert marts_digest(live) == digest
    assert storage_number(live) == STORAGE_NUMBER
    assert query(live, "select status, rows_published from audit.pipeline_run order by started_at") == [("succeeded", 3), ("failed", 0)]
    assert sorted(p.name for p in live.parent.iterdir() if p.name.startswith(live.name)) == [live.name, f"{live.name}.lock"]


def test_a_failed_run_with_a_reader_attached_is_recorded_in_a_copy(tmp_path: Path):
    config = make_scenario(tmp_path, visits=_visits(3))
    visit_mix_flow(str(config))
    live = warehouse_of(config)
    inode = live.stat().st_ino
    reader = _hold(live, "ro")
    try:
        _fail_a_run(tmp_path, config)
        out, _ = reader.communicate("\n", timeout=30)
        assert (reader.first_count, int(out)) == (3, 3)  # type: ignore[attr-defined]
    finally:
        reader.kill()
    assert live.stat().st_ino != inode
    assert query(live, "select status from audit.pipeline_run order by started_at") == [("succeeded",), ("failed",)]
    assert query(live, "select count(*) from marts.fct_visit") == [(3,)]


def test_an_error_while_appending_in_place_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = make_scenario(tmp_path, visits=_visits(3))
    visit_mix_flow(str(config))
    live = warehouse_of(config)
    before = query(live, "select run_id, status from audit.pipeline_run")

    def broken(con, **_kwargs):  # noqa: ANN001, ANN003 - after the rows are inserted
        raise OSError("disk full")

    monkeypatch.setattr(warehouse, "apply_comments", broken)
    run = pl.DataFrame([{"run_id": "r-failed", "started_at": datetime.now(UTC), "finished_at": datetime.now(UTC), "status": "failed"}])
    with pytest.raises(OSError, match="disk full"):
        warehouse.record_failed_run(live, "r-failed", warehouse.AuditRecords(pipeline_run=run))
    assert query(live, "select run_id, status from audit.pipeline_run") == before
    assert not Path(f"{live}.wal").exists()


def test_only_duckdbs_lock_conflict_is_reported_as_a_held_warehouse(tmp_path: Path):
    """A QA pass found "block" (a corrupt file's checksum error) and a folder named "Q4 blocks" read as
    a lock held by another process: the run then retried for seconds and sent people looking for a BI
    connection that did not exist."""
    import duckdb

    from visitmix.duck import lock_error, open_read_only
    from visitmix.errors import WarehouseError

    folder = tmp_path / "Q4 blocks"
    folder.mkdir()
    good = folder / "good.duckdb"
    con = duckdb.connect(str(good))
    con.execute("create table t as select range as i from range(100000)")
    con.close()
    truncated = folder / "vm.duckdb"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(WarehouseError, match=r"cannot open the warehouse .* read-only: IO Error"):
        open_read_only(truncated)
    corrupt = duckdb.IOException("Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at location 0")
    assert lock_error(truncated, corrupt) is None
    conflict = duckdb.IOException(
        f'IO Error: Could not set lock on file "{truncated}": Conflicting lock is held in /usr/bin/python3 (PID 4242). '
        "See also https://duckdb.org/docs/current/connect/concurrency"
    )
    assert isinstance(lock_error(truncated, conflict), WarehouseLockedError)
    assert "held read-write by process 4242" in str(lock_error(truncated, conflict))
