"""Marts that BI tools can open: a storage format DuckDB 1.1 reads, every column described.

A small flow publishes a warehouse, then a failed run appends its audit rows to it; older
DuckDB wheels from PyPI (in a throwaway venv, made once) open both read-only and must read every
mart and audit table exactly as the DuckDB visitmix runs on does.
"""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from old_duckdb import read_with, read_with_this_duckdb, venv_python
from scenario import VISIT_HEADER, make_scenario, marts_digest, query, warehouse_of
from visitmix.catalog import DESCRIBED_SCHEMAS, load_catalog
from visitmix.duck import STORAGE_NUMBER, storage_number
from visitmix.errors import ValidationFailed, WarehouseError
from visitmix.marts_doc import DOC_FILE, render
from visitmix.warehouse import AuditRecords, record_failed_run

# The oldest reader visitmix supports, and DuckDB's long-term-support line.
OLD_READERS = ("1.1.0", "1.4.4")

REPS = [["R1", "สมชาย ใจดี", "ทีมเหนือ", "North"], ["R2", "Anna Lee", "Team B", "Central"]]
ACCOUNTS = [["A1", "บริษัท ไทยเจริญ จำกัด", "", "North", "SME"], ["A2", "Beta Co", "2024-05-01", "Central", "Enterprise"]]
VISITS = [
    ["V1", "R1", "A1", "2025-01-05 10:00", "Held", "", ""],
    ["V2", "R1", "A1", "2025-01-20 10:00", "Held", "Hot Prospect Visit", ""],
    ["V3", "R2", "A2", "2025-02-03 10:00", "", "", ""],
    ["V4", "R2", "A2", "2025-02-10 10:00", "Canceled", "", ""],
    ["V5", "R1", "A2", "2025-03-01 09:00", "completed", "ลูกค้าเดิม", ""],
    ["V6", "R2", "A1", "2025-03-15 14:00", "Held", "", ""],
    ["V7", "R2", "", "2025-03-16 14:00", "Held", "", ""],  # no account: quarantined
]


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> dict[str, Path]:  # noqa: ANN001
    """Snapshots of one warehouse: after a successful run, and after a failed run on top of it."""
    root = tmp_path_factory.mktemp("bi")
    config = make_scenario(root, VISITS, accounts=ACCOUNTS, reps=REPS, extra_config="[validation]\nmax_quarantine_share = 0.5\n")
    visit_mix_flow(str(config))
    snapshots = {"succeeded": root / "succeeded.duckdb", "failed": root / "failed.duckdb"}
    shutil.copyfile(warehouse_of(config), snapshots["succeeded"])
    write_csv(root / "visits.csv", VISIT_HEADER, VISITS[:1])  # a half-empty export: the volume check fails
    with pytest.raises(ValidationFailed):
        visit_mix_flow(str(config))
    shutil.copyfile(warehouse_of(config), snapshots["failed"])
    return snapshots


@pytest.fixture(scope="session")
def old_duckdb_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("old-duckdb")) if cache is not None else tmp_path_factory.mktemp("old-duckdb")


def test_published_and_failed_run_files_are_in_the_old_storage_format(warehouses: dict[str, Path]):
    for path in warehouses.values():
        assert storage_number(path) == STORAGE_NUMBER == 64
    assert marts_digest(warehouses["failed"]) == marts_digest(warehouses["succeeded"])
    assert query(warehouses["failed"], "select status from audit.pipeline_run order by started_at") == [("succeeded",), ("failed",)]


@pytest.mark.parametrize("version", OLD_READERS)
def test_an_old_duckdb_reads_every_mart_and_audit_table(version: str, warehouses: dict[str, Path], old_duckdb_dir: Path):
    python = venv_python(old_duckdb_dir, version)
    if isinstance(python, str):
        pytest.skip(python)
    for state, path in warehouses.items():
        old = read_with(python, path)
        assert old["version"] == version
        expected = read_with_this_duckdb(path)["tables"]
        assert {t.split(".")[0] for t in old["tables"]} == set(DESCRIBED_SCHEMAS)
        assert set(old["tables"]) >= {t.qualified for t in load_catalog().tables}
        assert old["tables"] == expected, f"DuckDB {version} reads the {state} warehouse differently"
        reps = old["tables"]["marts.dim_rep"]
        name = [c[0] for c in reps["columns"]].index("rep_name")
        assert reps["rows"][0][name] == "สมชาย ใจดี"
        assert all(t["comment"] and all(c[2] for c in t["columns"]) for t in old["tables"].values()), "a comment got lost"
    runs = read_with(python, warehouses["failed"])["tables"]["audit.pipeline_run"]["rows"]
    assert sorted(r[4] for r in runs) == ["failed", "succeeded"]


def _columns(path: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    tables: dict[str, list[tuple[str, str, str | None]]] = {}
    rows = query(
        path,
        "select schema_name || '.' || table_name, column_name, data_type, comment from duckdb_columns() "
        "where schema_name in ('marts', 'audit') order by schema_name, table_name, column_index",
    )
    for table, column, dtype, comment in rows:
        tables.setdefault(table, []).append((column, dtype, comment))
    return tables


def test_every_marts_and_audit_column_is_described_with_its_type(warehouses: dict[str, Path]):
    catalog = load_catalog()
    for path in warehouses.values():
        built = _columns(path)
        missing = [
            f"[{table}.columns] {column} = {{ type = \"{dtype}\", about = \"…\" }}"
            for table, columns in built.items()
            for column, dtype, _ in columns
            if catalog.table(table) is None or column not in {c.name for c in catalog.table(table).columns}
        ]
        assert not missing, "describe these columns in sql/catalog.toml:\n" + "\n".join(missing)
        for table, columns in built.items():
            doc = catalog.table(table)
            assert [(c.name, c.duckdb_type, c.about) for c in doc.columns] == columns, f"{table}: sql/catalog.toml differs from the warehouse"
        comments = dict(query(path, "select schema_name || '.' || table_name, comment from duckdb_tables() where schema_name in ('marts', 'audit')"))
        assert comments == {t.qualified: t.comment for t in catalog.tables}


def test_no_mart_column_is_hugeint(warehouses: dict[str, Path]):
    # a sum of BIGINT is HUGEINT in DuckDB, which BI drivers read badly: cast sums to BIGINT in the mart's SQL
    wide = query(
        warehouses["succeeded"],
        "select table_name, column_name from duckdb_columns() where schema_name = 'marts' and data_type in ('HUGEINT', 'UHUGEINT')",
    )
    assert wide == []


def test_docs_marts_md_is_rendered_from_the_catalog():
    assert DOC_FILE.read_text(encoding="utf-8") == render(load_catalog()), "docs/marts.md is stale: run `make docs`"


def test_a_stale_catalog_entry_fails_the_publish_by_name(tmp_path: Path):
    from visitmix.catalog import apply_comments

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts; create schema audit")
    with pytest.raises(WarehouseError, match="catalog.toml describes a table or column the warehouse does not have"):
        apply_comments(con)
    apply_comments(con, only_present=True)  # an older warehouse: what exists is described, nothing fails
    con.close()


def test_catalog_entries_are_checked(tmp_path: Path):
    text = (Path(__file__).parent.parent / "sql" / "catalog.toml").read_text(encoding="utf-8")
    assert "fct_visit" in tomllib.loads(text)["marts"]
    bad = tmp_path / "catalog.toml"
    bad.write_text('[marts.t]\nabout = "x"\ngrain = "y"\nkey = ["id"]\ncolums = {}\n', encoding="utf-8")
    with pytest.raises(WarehouseError, match=r"marts\.t: bad table entry \(unknown keys \['colums'\]"):
        load_catalog(bad)


def test_a_failed_run_converts_a_live_file_of_a_newer_format(tmp_path: Path, warehouses: dict[str, Path]):
    # a warehouse an older visitmix wrote in DuckDB's newest format
    live = tmp_path / "visitmix.duckdb"
    con = duckdb.connect()
    con.execute(f"attach '{warehouses['succeeded']}' as src (read_only)")
    con.execute(f"attach '{live}' as dst (storage_version 'latest')")
    con.execute("copy from database src to dst")
    con.close()
    assert storage_number(live) != STORAGE_NUMBER
    run = pl.DataFrame([{"run_id": "r-failed", "started_at": datetime.now(UTC), "finished_at": datetime.now(UTC), "status": "failed"}])
    record_failed_run(live, "r-failed", AuditRecords(pipeline_run=run))
    assert storage_number(live) == STORAGE_NUMBER
    assert marts_digest(live) == marts_digest(warehouses["succeeded"])
    assert query(live, "select count(*) from audit.pipeline_run where run_id = 'r-failed'") == [(1,)]
    assert query(live, "select count(*) from duckdb_columns() where schema_name in ('marts', 'audit') and comment is null") == [(0,)]
    keys = "select schema_name, table_name, constraint_text from duckdb_constraints() where constraint_type = 'PRIMARY KEY' order by all"
    assert query(live, keys) == [("audit", "pipeline_run", "PRIMARY KEY(run_id)"), ("state", "watermark", 'PRIMARY KEY("source")')]
