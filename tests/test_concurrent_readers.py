"""BI readers: a read-only holder never blocks a publish; a read-write holder gets a named error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, query, warehouse_of
from visitmix.errors import WarehouseLockedError

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
