"""`visitmix export`: every mart as Parquet or CSV, equal to the marts; one clear error line otherwise."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, query, warehouse_of
from visitmix.cli import app
from visitmix.errors import VisitmixError
from visitmix.export import export_marts

REPS = [["R1", "สมชาย ใจดี", "ทีมเหนือ", "North"], ["R2", "Anna Lee", "Team B", "Central"]]
ACCOUNTS = [["A1", "บริษัท ไทยเจริญ จำกัด", "", "North", "SME"], ["A2", "Beta, Co \"B\"", "2024-05-01", "Central", "Enterprise"]]
VISITS = [
    ["V1", "R1", "A1", "2025-01-05 10:00", "Held", "", ""],
    ["V2", "R1", "A1", "2025-01-31T18:00:00Z", "Held", "ลูกค้าใหม่", ""],  # 1 Feb 01:00 in Bangkok
    ["V3", "R2", "A2", "2025-02-03 10:00", "", "", ""],
    ["V4", "R2", "A2", "2025-03-10 10:00", "Canceled", "", ""],
]
# every table of schema marts, in name order; fct_visit (visit grain) is exported by month, the rest as one file each
MARTS = (
    "dim_account", "dim_date", "dim_rep", "fct_visit", "reported_type_mismatch", "visit_kpi", "visit_mix", "visit_mix_long",
    "visit_mix_monthly",
)
SINGLE_FILE_MARTS = tuple(m for m in MARTS if m != "fct_visit")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Path:  # noqa: ANN001
    config = make_scenario(tmp_path_factory.mktemp("export"), VISITS, accounts=ACCOUNTS, reps=REPS)
    visit_mix_flow(str(config))
    return warehouse_of(config)


def _marts(path: Path, table: str) -> list[tuple]:
    return query(path, f"select * from marts.{table} order by all")


def test_parquet_export_equals_the_marts(warehouse: Path, tmp_path: Path):
    exported = export_marts(warehouse, tmp_path / "out", "parquet")
    assert [(e.mart, e.path.name, e.rows) for e in exported] == [
        ("dim_account", "dim_account.parquet", 2),
        ("dim_date", "dim_date.parquet", 371),  # 2025, the visits' one year
        ("dim_rep", "dim_rep.parquet", 2),
        ("fct_visit", "fct_visit", 4),
        ("reported_type_mismatch", "reported_type_mismatch.parquet", 6),  # V2 labelled new, derived hot: 3 levels x month, quarter
        ("visit_kpi", "visit_kpi.parquet", 16),
        ("visit_mix", "visit_mix.parquet", 45),
        ("visit_mix_long", "visit_mix_long.parquet", 135),  # 3 visit types per visit_mix row
        ("visit_mix_monthly", "visit_mix_monthly.parquet", 3),
    ]
    assert tuple(e.mart for e in exported) == MARTS == tuple(
        r[0] for r in query(warehouse, "select table_name from duckdb_tables() where schema_name = 'marts' order by 1")
    )
    con = duckdb.connect()
    for mart in SINGLE_FILE_MARTS:
        assert con.execute(f"select * from read_parquet('{tmp_path}/out/{mart}.parquet') order by all").fetchall() == _marts(warehouse, mart)
    # the visit-grain mart: one Hive-style folder per local month of visit_date, visit_month also inside the files
    months = sorted(p.name for p in (tmp_path / "out" / "fct_visit").iterdir())
    assert months == ["visit_month=2025-01-01", "visit_month=2025-02-01", "visit_month=2025-03-01"]
    fct = con.execute(
        f"select * exclude (visit_month) from read_parquet('{tmp_path}/out/fct_visit/*/*.parquet', hive_partitioning = false) order by all"
    ).fetchall()
    assert fct == _marts(warehouse, "fct_visit")
    assert con.execute(
        f"select visit_id, visit_month from read_parquet('{tmp_path}/out/fct_visit/*/*.parquet', hive_partitioning = true) where visit_id = 'V2'"
    ).fetchall() == query(warehouse, "select visit_id, date '2025-02-01' from marts.fct_visit where visit_id = 'V2'")
    con.close()


def _csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), path  # the byte-order mark Excel needs to read UTF-8
    text = raw[3:].decode("utf-8")  # strict UTF-8: a bad byte fails here
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_is_utf8_with_a_header_and_thai_text_intact(warehouse: Path, tmp_path: Path):
    export_marts(warehouse, tmp_path, "csv")
    reps = _csv(tmp_path / "dim_rep.csv")
    assert [r["rep_name"] for r in reps] == ["สมชาย ใจดี", "Anna Lee"]
    assert list(reps[0]) == ["rep_id", "valid_from", "valid_to", "rep_name", "team", "region", "is_current"]
    assert [(r["valid_from"], r["valid_to"], r["is_current"]) for r in reps] == [("", "", "true"), ("", "", "true")]  # no team history
    accounts = {r["account_id"]: r for r in _csv(tmp_path / "dim_account.csv")}
    assert accounts["A1"]["account_name"] == "บริษัท ไทยเจริญ จำกัด"
    assert accounts["A2"]["account_name"] == 'Beta, Co "B"'  # quoted, not split
    assert accounts["A1"]["customer_since"] == ""  # NULL is an empty cell
    monthly = _csv(tmp_path / "visit_mix_monthly.csv")
    assert len(monthly) == 3 and {r["month"] for r in monthly} == {"2025-01-01", "2025-02-01"}
    assert [float(r["mix_distance"]) for r in sorted(monthly, key=lambda r: (r["month"], r["rep_id"]))] == [
        r[0] for r in query(warehouse, "select mix_distance from marts.visit_mix_monthly order by month, rep_id")
    ]
    february = _csv(tmp_path / "fct_visit" / "visit_month=2025-02-01" / "data_0.csv")
    by_id = {r["visit_id"]: r for r in february}
    assert sorted(by_id) == ["V2", "V3"]
    assert by_id["V2"]["visit_start"] == "2025-01-31 18:00:00+00"  # instants in UTC
    assert by_id["V2"]["visit_date"] == "2025-02-01"  # the local date
    assert by_id["V2"]["reported_type"] == "ลูกค้าใหม่"
    assert by_id["V2"]["visit_month"] == "2025-02-01"
    rows = sum(len(_csv(f)) for f in (tmp_path / "fct_visit").glob("*/*.csv"))
    assert rows == query(warehouse, "select count(*) from marts.fct_visit")[0][0]
    for mart in SINGLE_FILE_MARTS:
        assert len(_csv(tmp_path / f"{mart}.csv")) == query(warehouse, f"select count(*) from marts.{mart}")[0][0], mart


def test_export_again_replaces_the_marts_files_and_nothing_else(warehouse: Path, tmp_path: Path):
    stale = tmp_path / "fct_visit" / "visit_month=1999-01-01"
    stale.mkdir(parents=True)
    (stale / "data_0.csv").write_text("old", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    export_marts(warehouse, tmp_path, "csv")
    export_marts(warehouse, tmp_path, "csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"{m}.csv" for m in SINGLE_FILE_MARTS), "fct_visit", "notes.txt"])
    assert not stale.exists()


def test_cli_export_without_config_reads_the_sample_warehouse_under_the_current_folder(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--format", "parquet", "--out", "bi"])
    assert result.exit_code == 1
    assert result.output.strip() == f"visitmix: error: warehouse '{tmp_path / 'warehouse' / 'visitmix.duckdb'}' does not exist: run `visitmix run` first"
    (tmp_path / "warehouse").mkdir()
    shutil.copyfile(warehouse, tmp_path / "warehouse" / "visitmix.duckdb")
    result = runner.invoke(app, ["export", "--format", "csv", "--out", "bi"])
    assert result.exit_code == 0, result.output
    assert "marts.fct_visit" in result.output and "4 rows" in result.output
    assert sorted(p.name for p in (tmp_path / "bi").iterdir()) == sorted([*(f"{m}.csv" for m in SINGLE_FILE_MARTS), "fct_visit"])


def test_cli_export_to_a_folder_that_cannot_be_written_is_one_error_line(warehouse: Path, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["export", "--warehouse", str(warehouse), "--format", "parquet", "--out", str(blocker / "bi")])
    assert result.exit_code == 1
    assert result.output.strip() == f"visitmix: error: cannot write to the folder '{blocker / 'bi'}': Not a directory"
    assert "Traceback" not in result.output


def test_export_of_a_warehouse_without_marts_says_so(tmp_path: Path):
    from visitmix.warehouse import run_sql_file, sql_files

    audit_only = tmp_path / "w.duckdb"  # visitmix's audit tables, no marts (no run has succeeded)
    with duckdb.connect(str(audit_only)) as con:
        for path in sql_files("ddl"):
            run_sql_file(con, path)
    with pytest.raises(VisitmixError, match="has no marts yet"):
        export_marts(audit_only, tmp_path / "out", "csv")
    empty = tmp_path / "e.duckdb"  # a DuckDB database of someone else's
    duckdb.connect(str(empty)).close()
    with pytest.raises(VisitmixError, match="is a DuckDB database visitmix did not create"):
        export_marts(empty, tmp_path / "out", "csv")


def test_csv_with_its_byte_order_mark_reads_in_other_tools(warehouse: Path, tmp_path: Path):
    """Readers we do not control take the BOM as what it is: DuckDB, Polars and pandas see the first
    column's real name and the Thai text."""
    import duckdb
    import pandas as pd
    import polars as pl

    export_marts(warehouse, tmp_path, "csv")
    path = tmp_path / "dim_rep.csv"
    assert duckdb.sql(f"select rep_id, rep_name from read_csv('{path}') order by rep_id").fetchall()[0] == ("R1", "สมชาย ใจดี")
    assert pl.read_csv(path).columns[0] == "rep_id"
    assert pd.read_csv(path, encoding="utf-8-sig").columns[0] == "rep_id"


@pytest.mark.parametrize(("first", "second"), [("parquet", "csv"), ("csv", "parquet")])
def test_one_folder_holds_one_format(warehouse: Path, tmp_path: Path, first: str, second: str):
    export_marts(warehouse, tmp_path, first)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(VisitmixError, match=rf"'{tmp_path}' holds a {first} export \(.*\): a {second} export there would replace"):
        export_marts(warehouse, tmp_path, second)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written
    export_marts(warehouse, tmp_path / second, second)  # another folder is fine


def test_a_tilde_in_the_out_folder_is_the_home_folder(warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # quoted past the shell, "~/exp" reached visitmix as is: it made ./~/exp while DuckDB wrote to the real home
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    exported = export_marts(warehouse, Path("~/exp"), "csv")
    assert exported[0].path == tmp_path / "home" / "exp" / "dim_account.csv" and exported[0].path.is_file()
    assert not (tmp_path / "~").exists()


def test_a_tilde_in_warehouse_and_out_options_is_the_home_folder(warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # --warehouse=~/… is not expanded by the shell (after "="): status, dq-report and report read the home folder's file
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(warehouse, home / "wh.duckdb")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for args in (["status", "--warehouse", "~/wh.duckdb"], ["dq-report", "--warehouse", "~/wh.duckdb"],
                 ["report", "--warehouse", "~/wh.duckdb", "--out", "~/page.html"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert (home / "page.html").is_file() and not (tmp_path / "~").exists()
