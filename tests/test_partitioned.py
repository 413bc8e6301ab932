"""Visits beyond [processing] max_visits_in_memory are processed in partitions (visitmix.partitioned):
the marts, checks and quarantine must be those of the in-memory path, and the spill must not stay."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from scenario import VISIT_HEADER, make_scenario, query, warehouse_of
from visitmix.dq import ExpectationOutcome, load_suite_definition, merge_outcomes, suite_parameters

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from generate import generate  # noqa: E402

# what only the partitioned run may do differently: GX validates the first partition's sample
CHECKS = (
    "select suite, expectation, column_name, severity, outcome, element_count, unexpected_count, details "
    "from audit.dq_result where expectation <> 'gx_sample_agreement'"
)


def _same_run(in_memory: Path, partitioned: Path) -> None:
    """Every mart, every check outcome and every quarantined row of the two warehouses are equal."""
    con = duckdb.connect()
    con.execute(f"attach '{in_memory}' as a (read_only)")
    con.execute(f"attach '{partitioned}' as b (read_only)")
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = 'a' and schema_name = 'marts' order by 1"
    ).fetchall()]
    assert len(tables) == 9
    for table in tables:
        differing = con.execute(
            f"select count(*) from ((select * from a.marts.{table} except all select * from b.marts.{table}) "
            f"union all (select * from b.marts.{table} except all select * from a.marts.{table}))"
        ).fetchone()[0]
        assert differing == 0, table
    con.close()
    assert sorted(query(in_memory, CHECKS), key=repr) == sorted(query(partitioned, CHECKS), key=repr)
    quarantined = "select source, file, row_number, raw_row, reason from audit.quarantine order by all"
    assert query(in_memory, quarantined) == query(partitioned, quarantined)
    counts = "select row_counts from audit.pipeline_run"
    assert query(in_memory, counts) == query(partitioned, counts)
    assert not list(partitioned.parent.glob("*.spill-*")), "the spill folder is removed when the run ends"


@pytest.mark.usefixtures("prefect_harness")
def test_generated_visits_in_partitions_give_the_in_memory_warehouse(tmp_path: Path):
    # ties, re-delivered ids across files, skewed accounts; visits in four Parquet files
    source = generate(2_400, tmp_path / "data", seed=11, chunk_rows=600).parent
    for name, limit in (("memory", None), ("parts", 500)):
        shutil.copytree(source, tmp_path / name)
        if limit:
            with (tmp_path / name / "visitmix.toml").open("a", encoding="utf-8") as handle:
                handle.write(f"\n[processing]\nmax_visits_in_memory = {limit}\n")
    memory = visit_mix_flow(str(tmp_path / "memory" / "visitmix.toml"))
    parts = visit_mix_flow(str(tmp_path / "parts" / "visitmix.toml"))
    assert parts.mix == memory.mix and parts.rows_classified == memory.rows_classified > 2_000
    warehouse = Path("warehouse") / "visitmix.duckdb"
    _same_run(tmp_path / "memory" / warehouse, tmp_path / "parts" / warehouse)
    steps = query(tmp_path / "parts" / warehouse, "select step_seconds from audit.pipeline_run")[0][0]
    assert "canonicalise visits" in json.loads(steps) and "checks fct_visit" not in json.loads(steps)  # 5 partitions ran


def _two_exports(root: Path, limit: int | None) -> Path:
    """A March export (Gregorian, a footer) and an April one (Buddhist-era years, day and month both
    12 or less), a visit re-delivered in April under another account, a duplicated row, an unknown
    status and an account the accounts input lacks."""
    extra = "[validation]\nmax_quarantine_share = 0.5\n" + (f"[processing]\nmax_visits_in_memory = {limit}\n" if limit else "")
    config = make_scenario(
        root,
        visits=[],
        accounts=[["A1", "Acme", "2024-03-01", "North", "SME"], ["A2", "Beta", "", "North", "SME"], ["A3", "Gamma", "", "South", "SME"]],
        deals=[["D1", "A3", "true", "2024-04-01", "100"]],
        reps=[["R1", "Ann", "North", "North"], ["R2", "Bob", "South", "South"]],
        extra_config=extra,
    )
    (root / "visits.csv").unlink()
    write_csv(root / "visits_2024-03.csv", VISIT_HEADER, [
        ["V1", "R1", "A1", "15/03/2024 10:00", "Completed", "New Prospect", ""],
        ["V3", "R1", "A2", "16/03/2024 10:00", "Completed", "", ""],
        ["V4", "R2", "A2", "20/03/2024 10:00", "Done", "Hot Prospect", ""],
        ["V5", "R2", "A3", "21/03/2024 09:00", "Completed", "", ""],
        ["V6", "R1", "A9", "22/03/2024 09:00", "Completed", "", ""],
        ["V7", "R1", "A3", "23/03/2024 09:00", "Rescheduled", "", ""],
        ["Total: 6 records"],
    ])
    write_csv(root / "visits_2024-04.csv", VISIT_HEADER, [
        ["V1", "R1", "A2", "03/04/2567 10:00", "Completed", "", ""],
        ["V2", "R2", "A3", "05/04/2567 10:00", "Completed", "", ""],
        ["V2", "R2", "A3", "05/04/2567 10:00", "Completed", "", ""],
        ["V8", "R2", "A3", "06/04/2567 11:00", "Completed", "Existing Customer", ""],
        ["V9", "R1", "A2", "07/04/2567 11:00", "Cancelled", "", ""],
    ])
    text = config.read_text(encoding="utf-8").replace('path = "visits.csv"', 'path = "visits_*.csv"\ncalendar = "auto"')
    config.write_text(text, encoding="utf-8")
    return config


@pytest.mark.usefixtures("prefect_harness")
def test_checks_that_span_files_are_decided_over_the_whole_source(tmp_path: Path):
    memory = visit_mix_flow(str(_two_exports(tmp_path / "memory", None)))
    parts = visit_mix_flow(str(_two_exports(tmp_path / "parts", 3)))  # 12 rows read: 4 partitions
    assert parts.mix == memory.mix == {"new_prospect": 3, "hot_prospect": 2, "existing_customer": 1}
    wh = warehouse_of(tmp_path / "parts" / "visitmix.toml")
    _same_run(warehouse_of(tmp_path / "memory" / "visitmix.toml"), wh)
    # eras mix only across the files: 6 Gregorian values in March, 5 Buddhist-era ones in April
    era = query(wh, "select outcome, unexpected_count from audit.dq_result where expectation = 'single_calendar_era' and suite = 'visits'")
    assert era == [("failed", 5)]
    # April's 03/04/2567 is read day first, as March's 15/03/2024 says: no order had to be assumed
    assert query(wh, "select count(*) from audit.dq_result where expectation = 'date_order_assumed'") == [(0,)]
    assert query(wh, "select account_id, visit_date::varchar, visit_type from marts.fct_visit where visit_id = 'V1'") == [
        ("A2", "2024-04-03", "hot_prospect")
    ]
    assert query(wh, "select file, row_number, left(reason, 30) from audit.quarantine order by all") == [
        ("visits_2024-03.csv", 6, "status is not one of completed"),
        ("visits_2024-04.csv", 2, "visit_id appears more than once"[:30]),
        ("visits_2024-04.csv", 3, "visit_id appears more than once"[:30]),
    ]
    assert query(wh, "select skipped_footer_rows from audit.source_file where file like '%2024-03%'") == [(1,)]
    dangling = query(wh, "select element_count, unexpected_count from audit.dq_result where expectation = 'visit_account_in_accounts'")
    assert dangling == [(7, 1)]  # V1 V3 V4 V5 V6 V8 V9 accepted; A9 unknown


def _outcome(element_count: int | None, unexpected: int | None, outcome: str, sample: list[str] | None = None) -> ExpectationOutcome:
    return ExpectationOutcome("visits", "x", None, "warn", outcome, element_count, unexpected, json.dumps(sample) if sample else None, "d")


def test_merge_adds_counts_and_decides_the_row_count_on_the_total():
    definition = load_suite_definition("visits")
    position = next(i for i, e in enumerate(definition["expectations"]) if e["type"] == "expect_table_row_count_to_be_between")
    width = len(definition["expectations"])
    parameters = suite_parameters("Asia/Bangkok", datetime(2026, 12, 1, tzinfo=UTC))

    def suite(rows: int, failed_rows: int) -> list[ExpectationOutcome]:
        out = [_outcome(rows, failed_rows, "failed" if failed_rows else "passed", [f"f:{i}" for i in range(failed_rows)])] * width
        out[position] = _outcome(None, None, "passed" if rows else "failed")
        return out

    merged = merge_outcomes([suite(0, 0), suite(7, 3), suite(5, 9)], 12, definition, parameters)
    assert (merged[0].element_count, merged[0].unexpected_count, merged[0].outcome) == (12, 12, "failed")
    assert json.loads(merged[0].unexpected_sample) == ["f:0", "f:1", "f:2", "f:0", "f:1", "f:2", "f:3", "f:4", "f:5", "f:6"]
    assert merged[position].outcome == "passed"  # an empty partition does not make the source empty
    assert merge_outcomes([suite(0, 0)], 0, definition, parameters)[position].outcome == "failed"
    error = [_outcome(4, None, "error")]
    assert merge_outcomes([[_outcome(3, 0, "passed")], error], 7)[0].outcome == "error"


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("example", ["salesforce", "hubspot"])
def test_real_exports_in_partitions_give_the_in_memory_warehouse(tmp_path: Path, example: str):
    # Salesforce: events and tasks in two files, a `where` filter, account taken from the deal;
    # HubSpot: meetings with instants written as epoch milliseconds
    root = Path(__file__).resolve().parent.parent
    text = (root / "examples" / f"{example}.toml").read_text(encoding="utf-8")
    text = text.replace(f"../tests/fixtures/{example}_export", str(root / "tests" / "fixtures" / f"{example}_export"))
    for name, extra in (("memory", ""), ("parts", "\n[processing]\nmax_visits_in_memory = 4\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "visitmix.toml").write_text(text.replace("../warehouse", "wh") + extra, encoding="utf-8")
    memory = visit_mix_flow(str(tmp_path / "memory" / "visitmix.toml"))
    parts = visit_mix_flow(str(tmp_path / "parts" / "visitmix.toml"))
    assert parts.mix == memory.mix and parts.rows_read > 4 * 4  # at least five partitions
    warehouse = Path("wh") / f"{example}.duckdb"
    _same_run(tmp_path / "memory" / warehouse, tmp_path / "parts" / warehouse)


def test_a_retried_read_starts_from_an_empty_spill(tmp_path: Path):
    # a read that Prefect retries (a file replaced while it was read) writes its partitions again:
    # nothing the failed attempt spilled may reach the marts, even with another partition count
    from visitmix import partitioned
    from visitmix.config import load_config
    from visitmix.sources import read_source

    def attempt(ids: list[str]) -> partitioned.Spilled:
        rows = [[i, "R1", f"A{n % 3}", f"2024-03-{n + 1:02d} 10:00", "Completed", "", ""] for n, i in enumerate(ids)]
        config = load_config(make_scenario(tmp_path / "src", rows))
        raw = read_source("visits", config.sources.visits, config.base_dir)
        parameters = suite_parameters("Asia/Bangkok", datetime(2026, 12, 1, tzinfo=UTC))
        prepared, _ = partitioned.prepare_visits(raw, config.sources.visits, "Asia/Bangkok", parameters, None, spill, _no_step)
        assert prepared.counts["accepted"] == len(ids)
        return prepared.spilled

    spill = partitioned.Spill(tmp_path / "wh.duckdb.spill-run", max_rows=2)
    attempt([f"OLD{n}" for n in range(12)])  # 6 partitions
    spilled = attempt(["NEW1", "NEW2", "NEW3"])  # 2 partitions
    customers = pl.DataFrame(schema={"account_id": pl.String, "customer_since": pl.Date})
    parameters = suite_parameters("Asia/Bangkok", datetime(2026, 12, 1, tzinfo=UTC))
    result = partitioned.classify_visits(spilled, {"account_id": None, "rep_id": None}, customers, "Asia/Bangkok", None, parameters)
    published = pl.concat([pl.read_parquet(p) for p in result.paths])
    assert sorted(published["visit_id"].to_list()) == ["NEW1", "NEW2", "NEW3"] and result.rows == 3


def _no_step(name: str):
    from contextlib import nullcontext

    return nullcontext()


@pytest.mark.usefixtures("prefect_harness")
def test_glob_characters_in_the_warehouse_name_with_partitions(tmp_path: Path):
    rows = [[f"V{n}", "R1", f"A{n % 4}", f"2024-03-{n + 1:02d} 10:00", "Completed", "", ""] for n in range(20)]
    config = make_scenario(tmp_path, rows, extra_config="[processing]\nmax_visits_in_memory = 3\n")
    config.write_text(config.read_text(encoding="utf-8").replace("wh/visitmix.duckdb", "wh/vm[1]*.duckdb"), encoding="utf-8")
    summary = visit_mix_flow(str(config))
    assert summary.mix == {"new_prospect": 4, "hot_prospect": 16, "existing_customer": 0}
    assert sorted(p.name for p in (tmp_path / "wh").iterdir() if "spill" in p.name) == []
    (tmp_path / "wh" / "vm[1]*.duckdb.spill-killed-run").mkdir()  # what a run killed outright leaves
    visit_mix_flow(str(config))
    assert sorted(p.name for p in (tmp_path / "wh").iterdir() if "spill" in p.name) == []


def test_unknown_status_words_are_cut_then_listed_once_in_any_partition_order():
    from visitmix.prepare import unknown_statuses

    long = "awaiting_confirmation_from_the_customer_side_of_things"
    words = [f"{long}_a", f"{long}_b", *[c * 3 for c in "bcdefghijk"], "completed", "call me at 0812345678"]
    frame = pl.DataFrame({"status": words})
    listed = unknown_statuses(frame)
    assert listed == [long[:40], "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh", "iii", "jjj"]
    # partitions list their own words; the run lists the first ten of their union
    halves = [unknown_statuses(frame[0::2]), unknown_statuses(frame[1::2])]
    assert sorted(set(halves[0]) | set(halves[1]))[:10] == listed


@pytest.mark.usefixtures("prefect_harness")
def test_a_killed_runs_marker_and_spill_stay_until_a_run_records_it(tmp_path: Path):
    from visitmix.runlock import RunGuard

    rows = [[f"V{n}", "R1", "A1", f"2024-03-{n + 1:02d} 10:00", "Completed", "", ""] for n in range(6)]
    config = make_scenario(tmp_path, rows, extra_config="[processing]\nmax_visits_in_memory = 2\n")
    wh = warehouse_of(config)
    wh.parent.mkdir(parents=True)
    first = "20261201T000000Z-killed01"
    wh.with_name(f"{wh.name}.running-{first}").write_text("killed\n", encoding="utf-8")
    (wh.parent / f"{wh.name}.spill-{first}" / "canonical").mkdir(parents=True)
    # a second run finds it, then dies too before recording anything (its own files aside)
    with RunGuard(wh, "20261201T000001Z-killed02") as guard:
        assert [run for run, _ in guard.dead_runs] == [first]
    assert wh.with_name(f"{wh.name}.running-{first}").exists()
    assert not (wh.parent / f"{wh.name}.spill-{first}").exists()
    visit_mix_flow(str(config))
    assert query(wh, f"select status from audit.pipeline_run where run_id = '{first}'") == [("failed",)]
    assert sorted(p.name for p in wh.parent.iterdir() if ".running-" in p.name or ".spill-" in p.name) == []


def test_a_large_parquet_file_is_mapped_in_slices_that_keep_their_row_numbers(tmp_path: Path):
    from visitmix import partitioned
    from visitmix.config import SourceConfig
    from visitmix.sources import read_source

    pl.DataFrame({"Id": [f"V{i}" for i in range(1, 1_101)], "Keep": [i % 11 != 0 for i in range(1, 1_101)]}).write_parquet(tmp_path / "v.parquet")
    raw = read_source("visits", SourceConfig(path=tmp_path / "v.parquet", where="Keep"))  # 1,000 rows pass the filter
    slices = list(partitioned._slices(raw.parts, 400))
    rows = [part.frame.select("Id", "source_row_number").collect() for part in slices]
    assert [r.height for r in rows] == [400, 400, 200]
    first = pl.concat(rows)
    assert first["Id"].to_list() == [f"V{i}" for i in range(1, 1_101) if i % 11]
    assert first["source_row_number"].to_list() == [i for i in range(1, 1_101) if i % 11]  # numbered in the file
    assert list(partitioned._slices(raw.parts, 1_000)) == list(raw.parts)  # small enough: whole


def test_text_files_are_set_aside_as_parquet_once_the_rows_read_pass_the_bound(tmp_path: Path):
    # 100 monthly CSV exports must not all sit in memory as text: past the bound each file read is
    # written to the spill and scanned from there; what the source gives is unchanged
    from polars.testing import assert_frame_equal

    from visitmix.config import SourceConfig
    from visitmix.sources import read_source

    header = "Id,Owner,Account,Start,Status,Note\n"
    (tmp_path / "visits_1.csv").write_text(header + "V1,R1,A1,2024-03-01 10:00,Held,ok\nV2,R1,A1,2024-03-02 10:00,Held,\n", encoding="utf-8")
    (tmp_path / "visits_2.csv").write_bytes((header + "V3,R2,A2,2024-03-03 10:00,Held,ลูกค้าใหม่ – นัดแรก\n"
                                             "V4,R2,A2,2024-03-04 10:00,Cancelled,\n").encode("cp874"))
    (tmp_path / "visits_3.csv").write_text(header + "V5,R1,A3,2024-03-05 10:00,Held,\"a, quoted\nnote\"\nV6,R1\n", encoding="utf-8")
    config = SourceConfig(path=tmp_path / "visits_*.csv", where="Status <> 'Cancelled' OR Status IS NULL")
    whole = read_source("visits", config)
    folder = tmp_path / "spill" / "read"
    raw = read_source("visits", config, set_aside=(folder, 3))  # the first file is held until the second passes 3 rows
    assert sorted(p.name for p in folder.iterdir()) == ["00000.parquet", "00001.parquet", "00002.parquet"]
    assert all(str(folder) in part.frame.explain() for part in raw.parts)  # scanned from the spill
    assert raw.rows_read == whole.rows_read == 6 and raw.files == whole.files
    assert_frame_equal(raw.frame, whole.frame)
    assert raw.frame["Note"].to_list() == ["ok", None, "ลูกค้าใหม่ – นัดแรก", "a, quoted\nnote", None]
    assert raw.frame["source_row_number"].to_list() == [1, 2, 1, 1, 2]
    assert raw.frame["__row_problem"].to_list()[-1].startswith("short row: row 2 (line 4)")  # quarantined later, with its reason
    small = read_source("visits", config, set_aside=(tmp_path / "unused", 6))  # never passed: nothing written
    assert not (tmp_path / "unused").exists() and small.frame.equals(whole.frame)
    # typed cells survive too: Excel sheets, JSON with lists, objects and all-null keys
    fixture = Path(__file__).parent / "fixtures" / "sources" / "visits.xlsx"
    for name in ("a.xlsx", "b.xlsx"):
        shutil.copyfile(fixture, tmp_path / name)
    (tmp_path / "a.json").write_text('[{"visit_id": "V1", "duration_min": 30, "tags": ["a"], "x": null, "o": {"k": 1}}]')
    (tmp_path / "b.json").write_text('[{"visit_id": "V2", "duration_min": 30.5, "tags": [], "x": null, "o": {"k": 2}}]')
    (tmp_path / "c.ndjson").write_text('{"visit_id": "V3", "custom_fields": {}}\n')  # Parquet has no struct without fields
    for index, (other, written) in enumerate((
        (SourceConfig(path=tmp_path / "*.xlsx", sheet="Visits"), 2),
        (SourceConfig(path=tmp_path / "*.json"), 2),
        (SourceConfig(path=tmp_path / "*.ndjson"), 0),  # kept in memory instead
    )):
        raw = read_source("visits", other, set_aside=(tmp_path / f"spill{index}", 0))
        assert len(list((tmp_path / f"spill{index}").iterdir())) == written
        assert_frame_equal(raw.frame, read_source("visits", other).frame)


@pytest.mark.usefixtures("prefect_harness")
def test_a_text_file_is_mapped_whole_so_only_its_end_holds_footers(tmp_path: Path):
    # a note's unquoted line break mid-file is a short row (quarantined), wherever a slice would end;
    # the footer at the end of the file is dropped and counted on both paths
    rows = [[f"V{n}", "R1", f"A{n % 3}", f"2024-03-{n:02d} 10:00", "Completed", "", "ok"] for n in range(1, 9)]
    rows[2] = ["V3", "R1", "A1", "2024-03-03 10:00", "Completed", "", "first line"]
    rows.insert(3, ["second line of the note"])
    rows.append(["Total: 8 records"])
    extra = "[validation]\nmax_quarantine_share = 0.5\n"
    memory = make_scenario(tmp_path / "memory", rows, extra_config=extra)
    parts = make_scenario(tmp_path / "parts", rows, extra_config=extra + "[processing]\nmax_visits_in_memory = 4\n")
    assert visit_mix_flow(str(parts)).rows_quarantined == visit_mix_flow(str(memory)).rows_quarantined == 1
    _same_run(warehouse_of(memory), warehouse_of(parts))
    wh = warehouse_of(parts)
    assert query(wh, "select row_number, left(reason, 10) from audit.quarantine") == [(4, "short row:")]
    assert query(wh, "select skipped_footer_rows from audit.source_file where source = 'visits'") == [(1,)]


def test_a_where_that_fails_on_a_parquet_file_beyond_the_bound_is_named(tmp_path: Path):
    from visitmix import partitioned
    from visitmix.config import SourceConfig
    from visitmix.errors import SourceError
    from visitmix.sources import read_source

    pl.DataFrame({
        "visit_id": ["V1", "V2", "V3"], "rep_id": ["R1"] * 3, "account_id": ["A1"] * 3, "visit_start": ["01/03/2024 10:00"] * 3,
        "Duration": ["30", "n/a", "45"],
    }).write_parquet(tmp_path / "v.parquet")
    config = SourceConfig(path=tmp_path / "v.parquet", where="CAST(Duration AS INTEGER) >= 15", date_order="dmy")
    raw = read_source("visits", config)
    assert list(partitioned._slices(raw.parts, 2)) == list(raw.parts)  # not sliced: mapping it names the filter
    parameters = suite_parameters("Asia/Bangkok", datetime(2026, 12, 1, tzinfo=UTC))
    spill = partitioned.Spill(tmp_path / "wh.duckdb.spill-run", max_rows=2)
    with pytest.raises(SourceError, match=r"sources.visits.where"):
        partitioned.prepare_visits(raw, config, "Asia/Bangkok", parameters, None, spill, _no_step)


def test_a_full_disk_while_spilling_names_the_folder_and_the_remedy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import errno

    from visitmix import partitioned
    from visitmix.errors import WarehouseError

    def full(self, path, **_kwargs):  # noqa: ANN001, ANN003
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    spill = partitioned.Spill(tmp_path / "wh.duckdb.spill-run", max_rows=2)
    frame = pl.DataFrame({"visit_id": ["V1", "V2", "V3"]})
    with pytest.raises(WarehouseError, match=r"cannot write visits partitions to '.*wh.duckdb.spill-run' \([0-9.]+ GB free there\): "
                                             r"No space left on device; .*raise processing.max_visits_in_memory"):
        spill.write(frame, "canonical", "visit_id", 2, "c00000")
