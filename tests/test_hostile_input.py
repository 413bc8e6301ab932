"""Inputs that once stopped a run or were misread (found by trying to break visitmix)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, query, warehouse_of
from visitmix.config import SourceConfig, load_config
from visitmix.errors import ConfigError, SourceError, WarehouseError
from visitmix.sources import read_source

GOOD = [[f"V{i:02d}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", ""] for i in range(1, 31)]


@pytest.mark.usefixtures("prefect_harness")
def test_placeholder_dates_and_thai_digits_are_rows_not_crashes(tmp_path: Path):
    rows = GOOD + [
        ["T1", "R1", "A1", "๒๕๖๘-๐๒-๐๑ ๙:๓๐", "Held", "", ""],  # Thai digits, Buddhist era 2568 = 2025
        ["Z1", "R1", "A1", "0001-01-01T00:00:00", "Held", "", ""],  # .NET's "no date"
    ]
    config = make_scenario(tmp_path, visits=rows, classification='timezone = "Asia/Bangkok"',
                           extra_config="[validation]\nmax_quarantine_share = 0.1\n")
    config.write_text(config.read_text().replace('path = "visits.csv"', 'path = "visits.csv"\ncalendar = "auto"'))
    summary = visit_mix_flow(str(config))
    assert (summary.rows_quarantined, summary.rows_classified) == (1, 31)
    wh = warehouse_of(config)
    assert query(wh, "select reason from audit.quarantine") == [("visit_start: the value cannot be read as a date and time",)]
    assert query(wh, "select strftime(visit_start at time zone 'Asia/Bangkok', '%Y-%m-%d %H:%M') from marts.fct_visit where visit_id = 'T1'") == [("2025-02-01 09:30",)]


@pytest.mark.usefixtures("prefect_harness")
def test_a_database_visitmix_did_not_create_is_never_replaced(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    wh = warehouse_of(config)
    wh.parent.mkdir(parents=True)
    with duckdb.connect(str(wh)) as con:
        con.execute("create table important as select 42 as answer")
    with pytest.raises(WarehouseError, match="is a DuckDB database visitmix did not create"):
        visit_mix_flow(str(config))
    assert query(wh, "select answer from important") == [(42,)]


@pytest.mark.usefixtures("prefect_harness")
def test_an_unexpected_failure_is_recorded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = make_scenario(tmp_path, visits=GOOD)
    visit_mix_flow(str(config))

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("transforms.classify.classify_visits", boom)
    with pytest.raises(RuntimeError):
        visit_mix_flow(str(config))
    assert query(warehouse_of(config), "select status, error_message from audit.pipeline_run order by started_at") == [
        ("succeeded", None),
        ("failed", "unexpected RuntimeError: simulated bug"),
    ]


def test_nested_and_binary_parquet_columns_in_quarantined_rows(tmp_path: Path):
    from transforms.quarantine import quarantined_rows

    frame = pl.DataFrame({"Id": ["V1"], "tags": [["a", "b"]], "blob": [b"\xff\x00"], "meta": [{"a": 2}]}).with_columns(
        source_file=pl.lit("v.parquet"), source_row_number=pl.lit(1, dtype=pl.Int64)
    )
    flagged = pl.LazyFrame({"source_file": ["v.parquet"], "source_row_number": [1], "reason": ["x"]})
    out = quarantined_rows(frame.lazy(), flagged).collect()
    assert out["raw_row"].to_list() == ['{"Id":"V1","tags":["a","b"],"blob":"ff00","meta":{"a":2}}']


def test_header_collisions_and_western_encodings(tmp_path: Path):
    (tmp_path / "a.csv").write_text("Id,Id ,Start\n1,2,3\n")
    with pytest.raises(SourceError, match=r"visits source 'a.csv' has more than one column named 'Id': rename them in the export"):
        read_source("visits", SourceConfig(path=tmp_path / "a.csv"))
    (tmp_path / "b.csv").write_text("Id,source_file\n1,2\n")
    with pytest.raises(SourceError, match="has a column named 'source_file', a name visitmix keeps for lineage"):
        read_source("visits", SourceConfig(path=tmp_path / "b.csv"))
    (tmp_path / "c.csv").write_bytes("Id,Note\n1,café\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"neither UTF-8 nor Windows-874.*set sources.visits.encoding"):
        read_source("visits", SourceConfig(path=tmp_path / "c.csv"))
    assert read_source("visits", SourceConfig(path=tmp_path / "c.csv", encoding="latin-1")).frame["Note"].to_list() == ["café"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[classification]\ntimezone = "localtime"\n', "'localtime' is not an IANA time zone name"),
        ("[classification]\nreengage_after_days = true\n", "config key 'classification.reengage_after_days'"),
        ('[classification]\nreengage_after_days = "30"\n', "config key 'classification.reengage_after_days'"),
        ("[warehouse]\nlock_retries = 1000\n", "config key 'warehouse.lock_retries'"),
    ],
)
def test_config_values_are_not_coerced(tmp_path: Path, extra: str, message: str):
    path = tmp_path / "c.toml"
    path.write_text(extra + '[sources.visits]\npath = "v.csv"\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_mapping_conflicts_are_refused(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[sources.visits]\npath = "v.csv"\ntake_from_deal = ["rep_id", "rep_id"]\n[sources.deals]\npath = "d.csv"\n')
    with pytest.raises(ConfigError, match="take_from_deal lists a column twice"):
        load_config(path)
    path.write_text('[sources.visits]\npath = "v.csv"\n[sources.visits.columns]\nstatus = "S"\n[sources.visits.expressions]\nstatus = "\'completed\'"\n')
    with pytest.raises(ConfigError, match="status is set in both columns and expressions"):
        load_config(path)


def test_empty_path_list_and_files_named_twice(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[sources.visits]\npath = []\n')
    with pytest.raises(ConfigError, match="config key 'sources.visits': path is an empty list"):
        load_config(path)
    (tmp_path / "v.csv").write_text("Id\nV1\n")
    raw = read_source("visits", SourceConfig(path=[tmp_path / "v.csv", tmp_path / "*.csv", tmp_path / "." / "v.csv"]))
    assert raw.frame["Id"].to_list() == ["V1"]


def test_lookup_errors_name_the_key(tmp_path: Path):
    from visitmix.config import LookupConfig

    (tmp_path / "v.csv").write_text("Id,vid\nV1,1\n")
    (tmp_path / "links.csv").write_text("vid,kind\n1,x\n")
    missing_file = SourceConfig(path=tmp_path / "v.csv", lookups=[LookupConfig(path=tmp_path / "nope.csv", on="vid", take=["company"])])
    with pytest.raises(SourceError, match=r"^sources\.visits\.lookups\[0\]\.path: file '.*nope.csv' does not exist$"):
        read_source("visits", missing_file)
    missing_column = SourceConfig(path=tmp_path / "v.csv", lookups=[LookupConfig(path=tmp_path / "links.csv", on="vid", take=["company"])])
    with pytest.raises(SourceError, match=r"^sources\.visits\.lookups\[0\]: the lookup file has no column company \(its columns: vid, kind\)$"):
        read_source("visits", missing_column)


@pytest.mark.parametrize("names", [["Muñoz Hermanos", "Logroño Foods"], ["Distribuidora São Paulo", "Açaí Ltda"],
                                   ["JOSÉ GONÇALVES", "CAFÉ ÀÉÇ"]])  # capitals decode to Thai consonants, even in runs
def test_a_western_file_is_not_taken_for_thai(tmp_path: Path, names: list[str]):
    """ñ, ã, ç, í in cp1252 are Thai characters in cp874 (Mu๑oz, Sใo): with no Thai word anywhere the
    file is refused with the key to set, instead of publishing the names garbled (hostile-input pass)."""
    (tmp_path / "w.csv").write_bytes(("Id,Name\n" + "".join(f"A{i},{n}\n" for i, n in enumerate(names))).encode("cp1252"))
    with pytest.raises(SourceError, match=r'neither UTF-8 nor Windows-874 \(cp874\) text \(a Western export\? e.g. encoding = "cp1252"\)'):
        read_source("accounts", SourceConfig(path=tmp_path / "w.csv"))
    assert read_source("accounts", SourceConfig(path=tmp_path / "w.csv", encoding="cp1252")).frame["Name"].to_list() == names


def test_a_thai_file_with_latin_names_is_still_thai(tmp_path: Path):
    (tmp_path / "t.csv").write_bytes("Id,Name\nA1,บริษัท ไทยเจริญ จำกัด\nA2,Samsung ประเทศไทย\n".encode("cp874"))
    raw = read_source("accounts", SourceConfig(path=tmp_path / "t.csv"))
    assert raw.files[0].encoding == "cp874" and raw.frame["Name"].to_list()[1] == "Samsung ประเทศไทย"
