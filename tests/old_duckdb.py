"""An older DuckDB (a 1.x wheel from PyPI) in a throwaway venv, to read warehouses as BI drivers do.

The venv is made once per version in pytest's cache folder (.pytest_cache/d/old-duckdb/<version>),
so a second test session needs no download; a venv that does not import the wanted version is made
anew. Where the wheel cannot be installed (no network, no wheel for this platform) the caller skips
with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

# Run by the old DuckDB: every table of schemas marts and audit as text (instants in UTC), with
# the table and column comments. Arguments: the warehouse path. Prints JSON.
READER = r"""
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("set TimeZone = 'UTC'")
tables = con.execute(
    "select schema_name, table_name, comment from duckdb_tables() "
    "where schema_name in ('marts', 'audit') order by 1, 2"
).fetchall()
result = {"version": duckdb.__version__, "tables": {}}
for schema, table, comment in tables:
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index", [schema, table]
    ).fetchall()
    rows = con.execute(f'select columns(*)::varchar from "{schema}"."{table}"').fetchall()
    result["tables"][f"{schema}.{table}"] = {
        "comment": comment,
        "columns": [list(c) for c in columns],
        "rows": sorted([list(r) for r in rows], key=repr),
    }
print(json.dumps(result))
"""


def venv_python(cache_dir: Path, version: str) -> Path | str:
    """The python of a venv with ``duckdb==version``, or the reason it cannot be had."""
    root = cache_dir / version
    python = root / "bin" / "python"
    if _has_duckdb(python, version):
        return python
    shutil.rmtree(root, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", "--without-pip", str(root)],
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--timeout", "20", "--retries", "1", f"duckdb=={version}"],
    )
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return f"installing duckdb=={version} took over 300 s"
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return f"cannot install duckdb=={version} from PyPI: {lines[-1] if lines else 'pip failed'}"
    return python if _has_duckdb(python, version) else f"duckdb=={version} did not import after installing"


def _has_duckdb(python: Path, version: str) -> bool:
    if not python.exists():
        return False
    done = subprocess.run([str(python), "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip() == version


def read_with(python: Path, warehouse: Path) -> dict:
    """What the old DuckDB reads from `warehouse` (see READER). Fails with its error text."""
    done = subprocess.run([str(python), "-c", READER, str(warehouse)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"DuckDB at {python} could not read {warehouse}:\n{done.stderr[-2000:]}"
    return json.loads(done.stdout)


def read_with_this_duckdb(warehouse: Path) -> dict:
    """The same reading with the DuckDB visitmix runs on, to compare with."""
    done = subprocess.run([sys.executable, "-c", READER, str(warehouse)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
