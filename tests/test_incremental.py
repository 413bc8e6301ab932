"""Incremental runs through the real flow (issue #12 items 3-5): hand-written histories equal a full
run, the watermark moves only when a run publishes, extraction retries transient errors only, and a
PostgreSQL source sends only changed rows."""

from __future__ import annotations

import errno
import json
from datetime import date
from pathlib import Path

import pytest

from conftest import write_csv
from flows import tasks
from flows.visit_mix import visit_mix_flow
from postgres import PASSWORD
from scenario import marts_digest, query
from visitmix import sources
from visitmix.errors import SourceError, TransientSourceError, ValidationFailed

pytestmark = pytest.mark.usefixtures("prefect_harness")

VISITS = ["Id", "Rep", "Account", "Start", "Status", "Updated"]
DEALS = ["deal_id", "account_id", "is_won", "close_date", "updated"]


def _config(root: Path, mode: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "visitmix.toml"
    config.write_text(
        '[warehouse]\npath = "wh/visitmix.duckdb"\n[validation]\nmin_volume_share = 0\n'
        "[extraction]\nretries = 2\nretry_delay_s = 0.05\n" + extra +
        f'[sources.visits]\npath = "visits/*.csv"\nmode = "{mode}"\n[sources.visits.columns]\n'
        'visit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\nstatus = "Status"\nupdated_at = "Updated"\n'
        f'[sources.deals]\npath = "deals/*.csv"\nmode = "{mode}"\n[sources.deals.columns]\nupdated_at = "updated"\n',
        encoding="utf-8",
    )
    return config


def _deliver(root: Path, number: int, visits: list[list[str]], deals: list[list[str]], keep_earlier: bool = False) -> None:
    """Batch `number` as the only files in visits/ and deals/ (deltas), or beside the earlier ones."""
    for folder in ("visits", "deals"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        if not keep_earlier:
            for old in (root / folder).glob("*.csv"):
                old.unlink()
    write_csv(root / "visits" / f"batch-{number:02d}.csv", VISITS, visits)
    write_csv(root / "deals" / f"batch-{number:02d}.csv", DEALS, deals)


def _types(config: Path) -> list[tuple]:
    return query(config.parent / "wh" / "visitmix.duckdb", "select visit_id, status, visit_type from marts.fct_visit order by visit_id")


# Times are Bangkok local (the default zone). Watermarks in the audit are UTC.
BATCHES = [
    (
        [["V1", "R1", "A1", "2025-01-10 09:00", "Completed", "2025-02-01 08:00"],
         ["V2", "R1", "A1", "2025-01-20 09:00", "Planned", "2025-02-01 08:00"],
         ["V3", "R2", "A2", "2025-01-15 09:00", "Completed", "2025-02-01 08:00"]],
        [["D1", "A1", "false", "", "2025-02-01 08:00"]],
    ),
    (  # V2 planned -> completed; V0 arrives late, dated before A1's first visit
        [["V2", "R1", "A1", "2025-01-20 09:00", "Completed", "2025-02-02 08:00"],
         ["V0", "R1", "A1", "2025-01-05 09:00", "Completed", "2025-02-02 08:00"]],
        [],
    ),
    (  # V3 completed -> cancelled; D1 won after the fact, closed 2025-01-12; A2 gets a new visit
        [["V3", "R2", "A2", "2025-01-15 09:00", "Cancelled", "2025-02-03 08:00"],
         ["V4", "R2", "A2", "2025-01-25 09:00", "Completed", "2025-02-03 08:00"]],
        [["D1", "A1", "true", "2025-01-12", "2025-02-03 08:00"]],
    ),
]
# the visit types after each batch, by hand from the rules (README: Classification rules)
EXPECTED = [
    [("V1", "completed", "new_prospect"), ("V2", "planned", None), ("V3", "completed", "new_prospect")],
    [("V0", "completed", "new_prospect"), ("V1", "completed", "hot_prospect"), ("V2", "completed", "hot_prospect"),
     ("V3", "completed", "new_prospect")],
    # customer since 2025-01-12: V2 (01-20) is existing, V1 (01-10) and V0 stay prospect visits
    [("V0", "completed", "new_prospect"), ("V1", "completed", "hot_prospect"), ("V2", "completed", "existing_customer"),
     ("V3", "cancelled", None), ("V4", "completed", "new_prospect")],
]


@pytest.mark.parametrize("keep_earlier", [False, True], ids=["delta files", "files accumulate"])
def test_batches_equal_a_full_run_with_late_visits_won_deals_and_status_changes(tmp_path: Path, keep_earlier: bool):
    incremental = tmp_path / "incremental"
    config = _config(incremental, "incremental")
    extracted = []
    for number, (visits, deals) in enumerate(BATCHES):
        _deliver(incremental, number, visits, deals, keep_earlier)
        summary = visit_mix_flow(str(config))
        extracted.append(summary.rows_read)
        assert _types(config) == EXPECTED[number]
    # accumulating files are re-read whole and cut at the watermark: rows written at the watermark
    # instant itself are extracted again (and replace their identical kept copy)
    assert extracted == ([3, 2, 2] if not keep_earlier else [3, 5, 4])
    full = tmp_path / "full"
    for number, (visits, deals) in enumerate(BATCHES):
        _deliver(full, number, visits, deals, keep_earlier=True)
    visit_mix_flow(str(_config(full, "full")))
    assert marts_digest(incremental / "wh" / "visitmix.duckdb") == marts_digest(full / "wh" / "visitmix.duckdb")
    runs = query(incremental / "wh" / "visitmix.duckdb",
                 "select run_mode, rows_reclassified, watermark from audit.pipeline_run order by started_at")
    assert [(mode, again) for mode, again, _ in runs] == [("full", 3), ("incremental", 3), ("incremental", 5)]
    assert json.loads(runs[-1][2]) == {"deals": "2025-02-03T01:00:00+00:00", "visits": "2025-02-03T01:00:00+00:00"}


def test_only_touched_accounts_are_classified_again(tmp_path: Path):
    config = _config(tmp_path, "incremental")
    _deliver(tmp_path, 0, BATCHES[0][0], BATCHES[0][1])
    visit_mix_flow(str(config))
    _deliver(tmp_path, 1, [["V5", "R2", "A2", "2025-01-28 09:00", "Completed", "2025-02-05 08:00"]], [])
    visit_mix_flow(str(config))
    wh = tmp_path / "wh" / "visitmix.duckdb"
    # A2 has V3 and the new V5: two visits classified; A1's two are kept as they were
    assert query(wh, "select rows_read, rows_reclassified from audit.pipeline_run order by started_at desc limit 1") == [(1, 2)]
    assert query(wh, "select visit_id, visit_type from marts.fct_visit where account_id = 'A2' order by 1") == [
        ("V3", "new_prospect"), ("V5", "hot_prospect")]


def test_a_failed_run_leaves_the_watermark_and_the_next_run_extracts_the_same_rows(tmp_path: Path):
    config = _config(tmp_path, "incremental")
    _deliver(tmp_path, 0, BATCHES[0][0], BATCHES[0][1])
    visit_mix_flow(str(config))
    wh = tmp_path / "wh" / "visitmix.duckdb"
    before = query(wh, "select source, watermark, kept_rows from state.watermark order by source")
    # the second delivery is mostly unreadable: above max_quarantine_share, nothing is published
    bad = [["V5", "R1", "A1", "not a date", "Completed", "2025-02-05 08:00"],
           ["V6", "R1", "A1", "2025-01-29 09:00", "Completed", "2025-02-05 08:00"]]
    _deliver(tmp_path, 1, bad, [])
    with pytest.raises(ValidationFailed, match="failed row-level checks"):
        visit_mix_flow(str(config))
    assert query(wh, "select source, watermark, kept_rows from state.watermark order by source") == before
    assert query(wh, "select status, watermark, rows_published from audit.pipeline_run order by started_at desc limit 1") == [
        ("failed", None, 0)]
    assert _types(config) == EXPECTED[0]
    # fixed at the source (same updated_at): the next run picks the same rows up
    _deliver(tmp_path, 2, [[*bad[0][:3], "2025-01-28 09:00", *bad[0][4:]], bad[1]], [])
    summary = visit_mix_flow(str(config))
    assert summary.rows_read == 2
    assert [r[0] for r in _types(config)] == ["V1", "V2", "V3", "V5", "V6"]


def test_full_refresh_drops_rows_deleted_at_the_source(tmp_path: Path):
    config = _config(tmp_path, "incremental")
    for number in (0, 1):
        _deliver(tmp_path, number, *BATCHES[number], keep_earlier=True)
        visit_mix_flow(str(config))
    (tmp_path / "visits" / "batch-01.csv").unlink()  # V0 and V2's completion are gone from the source
    visit_mix_flow(str(config))
    assert [r[0] for r in _types(config)] == ["V0", "V1", "V2", "V3"]  # kept: an incremental run cannot see deletions
    visit_mix_flow(str(config), full_refresh=True)
    assert _types(config) == EXPECTED[0]


class _Flaky:
    """read_source that fails `failures` times with `error`, then reads for real; counts calls."""

    def __init__(self, failures: int, error: Exception):
        self.failures, self.error, self.calls = failures, error, 0
        self.real = tasks.read_source

    def __call__(self, name, *args, **kwargs):
        if name == "visits":
            self.calls += 1
            if self.calls <= self.failures:
                raise self.error
        return self.real(name, *args, **kwargs)


def test_a_transient_error_is_retried_and_the_run_records_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = _config(tmp_path, "incremental")
    _deliver(tmp_path, 0, *BATCHES[0])
    flaky = _Flaky(2, TransientSourceError("visits source file 'x.csv' changed while it was being read"))
    monkeypatch.setattr(tasks, "read_source", flaky)
    summary = visit_mix_flow(str(config))
    assert flaky.calls == 3 and summary.rows_read == 3
    assert query(tmp_path / "wh" / "visitmix.duckdb", "select source, file from audit.source_file order by 1") == [
        ("deals", "deals/batch-00.csv"), ("visits", "visits/batch-00.csv")]


def test_a_locked_file_is_transient_and_a_missing_one_is_not(tmp_path: Path):
    path = write_csv(tmp_path / "v.csv", ["a"], [["1"]])
    assert sources.is_transient_os_error(OSError(errno.EBUSY, "busy"))
    assert not sources.is_transient_os_error(FileNotFoundError(errno.ENOENT, "missing"))
    assert sources._read_bytes("visits", path) == b"a\n1\n"


def test_a_data_error_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = _config(tmp_path, "incremental")
    _deliver(tmp_path, 0, *BATCHES[0])
    flaky = _Flaky(5, SourceError("cannot read visits source file 'x.csv': it is neither UTF-8 nor Windows-874 (cp874) text"))
    monkeypatch.setattr(tasks, "read_source", flaky)
    with pytest.raises(SourceError, match="neither UTF-8"):
        visit_mix_flow(str(config))
    assert flaky.calls == 1


def test_retries_exhausted_publish_nothing_and_keep_the_watermark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = _config(tmp_path, "incremental")
    _deliver(tmp_path, 0, *BATCHES[0])
    visit_mix_flow(str(config))
    wh = tmp_path / "wh" / "visitmix.duckdb"
    before = query(wh, "select * from state.watermark order by source")
    _deliver(tmp_path, 1, *BATCHES[1])
    flaky = _Flaky(99, TransientSourceError("cannot read visits source: connection refused"))
    monkeypatch.setattr(tasks, "read_source", flaky)
    with pytest.raises(TransientSourceError, match="connection refused"):
        visit_mix_flow(str(config))
    assert flaky.calls == 3  # the first try and retries = 2
    assert query(wh, "select * from state.watermark order by source") == before
    assert _types(config) == EXPECTED[0]
    monkeypatch.setattr(tasks, "read_source", flaky.real)
    assert visit_mix_flow(str(config)).rows_read == 2
    assert _types(config) == EXPECTED[1]


def test_postgres_source_sends_only_changed_rows_and_equals_a_full_run(postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    postgres.psql(
        "create table visits_inc (id text, rep text, account text, started_at timestamptz, status text, modified_at timestamp);"
        "insert into visits_inc values "
        "('V1', 'R1', 'A1', '2025-01-10 02:00+00', 'Completed', '2025-01-01 08:00'),"
        "('V2', 'R1', 'A1', '2025-01-20 02:00+00', 'Planned', '2025-02-01 08:00'),"
        "('V3', 'R1', 'A2', '2025-01-15 02:00+00', 'Completed', '2025-01-01 08:00');"
        "grant select on all tables in schema public to crm;"
    )

    def config(root: Path, mode: str) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        path = root / "visitmix.toml"
        path.write_text(
            '[warehouse]\npath = "wh/visitmix.duckdb"\n[validation]\nmin_volume_share = 0\n'
            f'[sources.visits]\nuri = "{postgres.uri("${CRM_DB_PASSWORD}")}"\ntable = "visits_inc"\nmode = "{mode}"\n'
            '[sources.visits.columns]\nvisit_id = "id"\nrep_id = "rep"\naccount_id = "account"\nvisit_start = "started_at"\n'
            'updated_at = "modified_at"\n',
            encoding="utf-8",
        )
        return path

    incremental = config(tmp_path / "inc", "incremental")
    assert visit_mix_flow(str(incremental)).rows_read == 3
    postgres.psql(
        "update visits_inc set status = 'Completed', modified_at = '2025-02-02 08:00' where id = 'V2';"
        "insert into visits_inc values ('V0', 'R1', 'A1', '2025-01-05 02:00+00', 'Completed', '2025-02-02 08:00');"
    )
    summary = visit_mix_flow(str(incremental))
    # the server returned V2 and V0 only (and nothing older than a day before the watermark)
    assert summary.rows_read == 2
    wh = tmp_path / "inc" / "wh" / "visitmix.duckdb"
    assert query(wh, "select unexpected_count from audit.dq_result where expectation = 'rows_before_watermark' "
                     "order by run_id desc limit 1") == [(0,)]
    visit_mix_flow(str(config(tmp_path / "full", "full")))
    assert marts_digest(wh) == marts_digest(tmp_path / "full" / "wh" / "visitmix.duckdb")
    assert query(wh, "select visit_id, visit_type from marts.fct_visit order by 1") == [
        ("V0", "new_prospect"), ("V1", "hot_prospect"), ("V2", "hot_prospect"), ("V3", "new_prospect")]


def test_an_unmapped_cursor_spelled_otherwise_in_a_database_reads_incrementally(postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A table whose cursor column is "Updated At" and a config that does not map updated_at: the column
    is found by its loose name (it was refused for incremental mode), and the server-side narrowing,
    which names updated_at, falls back to reading the table and cutting after parsing."""
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    postgres.psql(
        'create table visits_cursor (id text, rep text, account text, started_at timestamptz, "Updated At" timestamp);'
        "insert into visits_cursor values ('V1', 'R1', 'A1', '2025-01-10 02:00+00', '2025-01-01 08:00'),"
        "('V2', 'R1', 'A1', '2025-01-20 02:00+00', '2025-02-01 08:00');"
        "grant select on all tables in schema public to crm;"
    )
    root = tmp_path / "inc"
    root.mkdir()
    config = root / "visitmix.toml"
    config.write_text(
        '[warehouse]\npath = "wh/visitmix.duckdb"\n'
        f'[sources.visits]\nuri = "{postgres.uri("${CRM_DB_PASSWORD}")}"\ntable = "visits_cursor"\nmode = "incremental"\n'
        '[sources.visits.columns]\nvisit_id = "id"\nrep_id = "rep"\naccount_id = "account"\nvisit_start = "started_at"\n',
        encoding="utf-8",
    )
    assert visit_mix_flow(str(config)).rows_read == 2
    postgres.psql("insert into visits_cursor values ('V3', 'R1', 'A1', '2025-01-25 02:00+00', '2025-02-03 08:00');")
    summary = visit_mix_flow(str(config))
    assert summary.rows_read == 2  # V2 at the watermark and V3; V1 cut after parsing
    assert query(root / "wh" / "visitmix.duckdb", "select visit_id, visit_type from marts.fct_visit order by 1") == [
        ("V1", "new_prospect"), ("V2", "hot_prospect"), ("V3", "hot_prospect")]


def test_changed_source_settings_read_the_source_whole(tmp_path: Path):
    """Kept rows hold values as the source's settings read them, so a changed setting (zone, status
    words, mapping …) reads the source whole again. A1 is a customer since 2025-01-10 (won deal)."""
    root = tmp_path / "inc"
    _deliver(root, 1, [["V1", "R1", "A1", "2025-01-11 05:00", "Completed", "2025-02-01 08:00"],
                       ["V2", "R1", "A1", "2025-01-12 05:00", "Visited", "2025-02-01 08:00"]],
             [["D1", "A1", "true", "2025-01-10", "2025-02-01 08:00"]])
    config = _config(root, "incremental")
    config.write_text(config.read_text(encoding="utf-8").replace("min_volume_share = 0\n", "min_volume_share = 0\nmax_quarantine_share = 0.6\n"),
                      encoding="utf-8")
    visit_mix_flow(str(config))
    # naive times are Bangkok time: V1 is on 2025-01-11, after the customer date: existing; V2's status
    # word is unknown: held back
    assert _types(config) == [("V1", "completed", "existing_customer")]
    # the visits' naive times are now Kiritimati time (UTC+14): 05:00 there is 22:00 the day before in
    # Bangkok, so V1 falls on 2025-01-10, the closing day itself: still a prospect (new); and "Visited"
    # now means completed: V2 on 2025-01-11 is existing. Nothing new was delivered.
    text = config.read_text(encoding="utf-8").replace(
        '[sources.visits]\n', '[sources.visits]\ntimezone = "Pacific/Kiritimati"\nstatus_map = { "Visited" = "completed" }\n')
    config.write_text(text, encoding="utf-8")
    _deliver(root, 2, [], [], keep_earlier=True)  # read whole, as --full-refresh does: the source holds every row
    visit_mix_flow(str(config))
    assert _types(config) == [("V1", "completed", "new_prospect"), ("V2", "completed", "existing_customer")]
    assert query(root / "wh" / "visitmix.duckdb", "select rows_reclassified from audit.pipeline_run order by started_at desc limit 1") == [(2,)]


def test_rows_kept_by_a_release_with_other_read_rules_are_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An upgrade that reads cells differently (state.READ_RULES) reads the source whole once, like a
    changed setting: rows kept as the old release read them are not merged with rows read anew."""
    from visitmix import state

    root = tmp_path / "inc"
    first = [["V1", "R1", "A1", "2025-01-10 09:00", "Completed", "2025-02-01 08:00"],
             ["V2", "R1", "A1", "2025-01-12 09:00", "Completed", "2025-02-01 08:00"]]
    _deliver(root, 1, first, [])
    config = _config(root, "incremental")
    visit_mix_flow(str(config))
    later = [["V3", "R2", "A2", "2025-01-20 09:00", "Completed", "2025-02-05 08:00"]]
    _deliver(root, 2, later, [], keep_earlier=True)
    visit_mix_flow(str(config))  # same release: only A2's visit is classified
    last = "select rows_reclassified, run_mode from audit.pipeline_run order by started_at desc limit 1"
    assert query(root / "wh" / "visitmix.duckdb", last) == [(1, "incremental")]
    monkeypatch.setattr(state, "READ_RULES", state.READ_RULES + 1)
    _deliver(root, 3, [], [], keep_earlier=True)
    summary = visit_mix_flow(str(config))
    assert query(root / "wh" / "visitmix.duckdb", last) == [(3, "full")]
    assert _types(config) == [("V1", "completed", "new_prospect"), ("V2", "completed", "hot_prospect"), ("V3", "completed", "new_prospect")]
    note = "{}: read whole, as its settings (or the rules this release reads them with) changed since the last run, which kept {} rows; every visit classified again"
    assert summary.warnings == [note.format("deals", 0), note.format("visits", 3)]


def _eight_visits_kept(root: Path) -> Path:
    """An incremental visits source with min_volume_share = 0.5, after two delta runs that kept
    V1..V8 (January 1st to 8th); returns its config."""
    _deliver(root, 1, [[f"V{i}", "R1", f"A{i}", f"2025-01-{i:02d} 09:00", "Completed", "2025-02-01 08:00"] for i in range(1, 5)], [])
    config = _config(root, "incremental")
    config.write_text(config.read_text(encoding="utf-8").replace("min_volume_share = 0\n", "min_volume_share = 0.5\n"), encoding="utf-8")
    visit_mix_flow(str(config))
    _deliver(root, 2, [[f"V{i}", "R1", f"A{i}", f"2025-01-{i:02d} 09:00", "Completed", "2025-02-02 08:00"] for i in range(5, 9)], [])
    visit_mix_flow(str(config))
    return config


@pytest.mark.parametrize(("change", "delta"), [("read rules", 3), ("read rules", 6), ("settings", 3)])
def test_a_source_read_whole_that_lost_the_kept_rows_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str, delta: int):
    """Delta files read whole (settings or read rules changed) hold only the latest batch: publishing
    would drop every earlier visit, so the kept ids the whole read no longer holds stop the run (the
    volume check against the last whole read did not: it read fewer rows than were kept since; a
    count of rows did not either when the delta was large). The report shows the bound."""
    from visitmix import state
    from visitmix.report import load_report

    root = tmp_path / "inc"
    config = _eight_visits_kept(root)
    _deliver(root, 3, [[f"V{i}", "R1", f"A{i}", f"2025-01-{i:02d} 09:00", "Completed", "2025-02-03 08:00"] for i in range(8, 8 + delta)], [])
    if change == "read rules":
        monkeypatch.setattr(state, "READ_RULES", state.READ_RULES + 1)
    else:
        config.write_text(config.read_text(encoding="utf-8").replace('mode = "incremental"\n', 'mode = "incremental"\ntimezone = "UTC"\n', 1),
                          encoding="utf-8")
    # the delta re-delivers V8 and adds new visits: 1 of the 8 kept ids is still in the source
    with pytest.raises(ValidationFailed, match=r"visits.kept_ids_in_whole_read\[visit_id\]: 1 of the 8 visit_id values the last run kept are in the "
                                               r"source read whole, fewer than validation.min_volume_share = 0.5 of them"):
        visit_mix_flow(str(config))
    assert len(_types(config)) == 8  # the marts as the last run published them
    [bound] = [b for b in load_report(root / "wh" / "visitmix.duckdb").bounds if b.scope == "visits (read whole)"]
    assert (bound.share, bound.limit, bound.status) == (1 / 8, 0.5, "exceeded")


def test_a_rolling_export_read_whole_warns_of_the_kept_keys_it_drops(tmp_path: Path):
    """A "last N days" export read whole (its settings changed) that still holds min_volume_share of
    the kept keys passes the check, as the bound allows, but the keys it no longer holds leave the
    marts: a warning in the run summary and in audit.dq_result says how many, and why that may be
    wrong (it passed as healthy before, only its unexpected count telling)."""
    root = tmp_path / "roll"
    config = _eight_visits_kept(root)
    # the export now holds the last six visits only (V3..V8), and the time zone setting changed
    _deliver(root, 3, [[f"V{i}", "R1", f"A{i}", f"2025-01-{i:02d} 09:00", "Completed", "2025-02-03 08:00"] for i in range(3, 9)], [])
    config.write_text(config.read_text(encoding="utf-8").replace('mode = "incremental"\n', 'mode = "incremental"\ntimezone = "UTC"\n', 1),
                      encoding="utf-8")
    summary = visit_mix_flow(str(config))
    assert [v for v, _, _ in _types(config)] == [f"V{i}" for i in range(3, 9)]
    assert ("visits: 2 of the 8 visit_id values the last run kept are not in the source read whole: their rows leave the marts "
            "with this run. Right when they were deleted in the CRM; if the export holds recent rows only (a rolling window), "
            "deliver one that holds every row and run again") in summary.warnings
    checks = query(root / "wh" / "visitmix.duckdb",
                   "select expectation, severity, outcome, element_count, unexpected_count from audit.dq_result "
                   "where expectation like 'kept_ids%' order by expectation")
    assert checks == [("kept_ids_dropped", "warn", "failed", 8, 2), ("kept_ids_in_whole_read", "error", "passed", 8, 2)]


def test_kept_keys_are_counted_by_version_and_quarantined_rows_count_as_held():
    """Reps are kept by (rep_id, valid_from): a delta holding each rep's current row only lost the
    team history (2 of 6 versions), although 2 of 3 rep ids are there. Rows quarantined in the
    whole read are in the source: they count as held (the quarantine bound judges them)."""
    from datetime import date

    import polars as pl

    kept = pl.DataFrame({"rep_id": ["R0", "R0", "R0", "R1", "R1", "R2"],
                         "valid_from": [None, date(2024, 1, 1), date(2024, 6, 1), None, date(2024, 3, 1), None]})
    current = pl.DataFrame({"rep_id": ["R0", "R1"], "valid_from": [date(2024, 6, 1), date(2024, 3, 1)]})
    outcome = tasks.kept_ids_outcome("reps", current, 0, kept, 0.5)
    assert (outcome.outcome, outcome.element_count, outcome.unexpected_count) == ("failed", 6, 4)
    assert outcome.details.startswith("2 of the 6 rep_id, valid_from values the last run kept are in the source read whole, fewer than")
    visits = pl.DataFrame({"visit_id": ["V1", "V2", "V3", "V4"]})
    outcome = tasks.kept_ids_outcome("visits", visits.head(1), 2, visits, 0.5)
    assert (outcome.outcome, outcome.unexpected_count) == ("passed", 1)
    assert outcome.details == "3 of the 4 visit_id values the last run kept are in the source read whole (counting its 2 quarantined rows as held)"
    [dropped] = tasks.dropped_kept_keys(outcome)
    assert (dropped.expectation, dropped.severity, dropped.outcome, dropped.unexpected_count) == ("kept_ids_dropped", "warn", "failed", 1)
    assert tasks.dropped_kept_keys(tasks.kept_ids_outcome("visits", visits, 0, visits, 0.5)) == []  # every key held
    assert tasks.dropped_kept_keys(tasks.kept_ids_outcome("reps", current, 0, kept, 0.5)) == []  # the check itself stops the run
    assert dropped.details.startswith("1 of the 4 visit_id values the last run kept are not in the source read whole")
    [dropped] = tasks.dropped_kept_keys(tasks.kept_ids_outcome("reps", kept.head(5), 0, kept, 0.5))  # one version of R2 gone
    assert dropped.details.startswith("1 of the 6 rep_id, valid_from values the last run kept are not in the source read whole")


def test_an_updated_at_in_the_future_never_becomes_the_watermark(tmp_path: Path):
    root = tmp_path / "inc"
    _deliver(root, 1, [["V1", "R1", "A1", "2025-01-10 09:00", "Completed", "2025-02-01 08:00"],
                       ["V9", "R1", "A9", "2025-01-11 09:00", "Completed", "2099-01-01 00:00"]], [])
    config = _config(root, "incremental")
    visit_mix_flow(str(config))
    wh = root / "wh" / "visitmix.duckdb"
    # Bangkok 2025-02-01 08:00 is 01:00 UTC: the latest updated_at that is not after the run's start
    assert json.loads(query(wh, "select watermark from audit.pipeline_run order by started_at desc limit 1")[0][0]) == {
        "deals": None, "visits": "2025-02-01T01:00:00+00:00"}
    _deliver(root, 2, [["V2", "R1", "A1", "2025-03-01 09:00", "Completed", "2025-03-01 12:00"]], [])
    visit_mix_flow(str(config))
    assert _types(config) == [("V1", "completed", "new_prospect"), ("V2", "completed", "hot_prospect"),
                              ("V9", "completed", "new_prospect")]


def test_a_new_row_with_an_older_updated_at_is_a_warning_until_a_full_refresh_reads_it(tmp_path: Path):
    """The cursor skips rows older than the watermark as read before; one whose id no earlier run kept
    is new (its source did not set updated_at): it stays out of the marts, and the run says so in its
    summary and in audit.dq_result (it said nothing, and the counter claimed an earlier run read it)."""
    root = tmp_path / "inc"
    _deliver(root, 1, [["V1", "R1", "A1", "2025-01-10 09:00", "Completed", "2025-06-01 08:00"],
                       ["V2", "R1", "A2", "2025-01-11 09:00", "Completed", "2025-05-01 08:00"]], [])
    config = _config(root, "incremental")
    visit_mix_flow(str(config))
    # files accumulate: V1 is at the watermark (extracted again), V2 older and kept, V3 older and new, V4 newer
    _deliver(root, 2, [["V3", "R1", "A1", "2025-01-05 09:00", "Completed", "2025-05-15 08:00"],
                       ["V4", "R1", "A1", "2025-03-01 09:00", "Completed", "2025-06-10 08:00"]], [], keep_earlier=True)
    summary = visit_mix_flow(str(config))
    assert _types(config) == [("V1", "completed", "new_prospect"), ("V2", "completed", "new_prospect"),
                              ("V4", "completed", "hot_prospect")]
    wh = root / "wh" / "visitmix.duckdb"
    checks = query(wh, "select expectation, severity, outcome, element_count, unexpected_count from audit.dq_result "
                       f"where suite = 'visits' and expectation like '%before_watermark' and run_id = '{summary.run_id}' order by expectation")
    assert checks == [("new_rows_before_watermark", "warn", "failed", 2, 1), ("rows_before_watermark", "info", "passed", 4, 2)]
    assert ("visits: 1 rows whose updated_at is before the watermark 2025-06-01T01:00:00+00:00 have a visit_id no earlier "
            "run kept: new rows with an older updated_at (the source does not set updated_at on every change); they are "
            "not extracted and stay out of the marts until a run with --full-refresh reads the source whole") in summary.warnings
    summary = visit_mix_flow(str(config), full_refresh=True)  # read whole: V3 is A1's first visit
    assert _types(config) == [("V1", "completed", "hot_prospect"), ("V2", "completed", "new_prospect"),
                              ("V3", "completed", "new_prospect"), ("V4", "completed", "hot_prospect")]
    assert not [w for w in summary.warnings if "before the watermark" in w]


def test_new_rows_before_the_watermark_are_counted_by_the_whole_version_key():
    """A rep's versions are kept by (rep_id, valid_from): an older row of a kept rep with a new valid_from is
    a new version; a row without its id is no new row (it is quarantined when read); rows at or after the
    watermark are extracted and not counted."""
    from datetime import UTC, datetime

    import polars as pl

    from transforms.incremental import unseen_before_watermark

    def at(day: int) -> datetime:
        return datetime(2025, 6, day, tzinfo=UTC)

    kept = pl.DataFrame({"rep_id": ["R1", "R1", "R2"], "valid_from": [None, date(2024, 1, 1), None]})
    read = pl.DataFrame({
        "rep_id": ["R1", "R1", "R2", "R3", None, "R4", "R3"],
        "valid_from": [None, date(2024, 3, 1), None, None, None, None, None],
        "updated_at": [at(1), at(1), at(1), at(2), at(1), at(5), at(3)],
    }, schema_overrides={"updated_at": pl.Datetime("us", "UTC")})
    # new and older than the 5th: R1 from 2024-03-01, R3 twice (two rows); R4 is at the watermark
    assert unseen_before_watermark(read, at(5), kept, ["rep_id", "valid_from"]) == 3
    assert unseen_before_watermark(read, at(5), None, ["rep_id", "valid_from"]) == 0  # nothing kept: all extracted
    assert unseen_before_watermark(read, None, kept, ["rep_id", "valid_from"]) == 0


def test_the_quarantine_bound_counts_every_kept_row_not_only_the_batch(tmp_path: Path):
    """One bad row among 21 is under 5% (as a full run counts it), though it is one of two in its batch."""
    root = tmp_path / "inc"
    good = [[f"V{i:02d}", "R1", f"A{i:02d}", "2025-01-10 09:00", "Completed", "2025-02-01 08:00"] for i in range(1, 20)]
    _deliver(root, 1, good, [])
    config = _config(root, "incremental")
    visit_mix_flow(str(config))
    _deliver(root, 2, [["V20", "R1", "A20", "2025-01-12 09:00", "Completed", "2025-02-02 08:00"],
                       ["V21", "R1", "A21", "not a date", "Completed", "2025-02-02 08:00"]], [])
    summary = visit_mix_flow(str(config))  # 1 of 21 kept rows held back: 4.8%, within 5%
    assert summary.rows_quarantined == 1
    # the report restates the bounds as the run measured them (a QA pass found "exceeded" on this run)
    from visitmix.report import load_report

    report = load_report(root / "wh" / "visitmix.duckdb", summary.run_id)
    bounds = {(b.key, b.scope): b for b in report.bounds}
    quarantine = bounds[("max_quarantine_share", "visits")]
    assert (quarantine.measured, quarantine.status) == ("1 of 21 kept rows held back (incremental: all rows kept so far)", "within")
    volume = bounds[("min_volume_share", "visits")]
    assert volume.status == "not applicable" and volume.measured.startswith("the visits were read from their watermark")
    assert [s.label for s in report.sources] == ["visits (incremental)", "deals (incremental)"]
    _deliver(root, 3, [["V22", "R1", "A22", "soon", "Completed", "2025-02-03 08:00"]], [])
    with pytest.raises(ValidationFailed, match=r"2 of 22 visits rows \(9\.1%\) failed row-level checks"):
        visit_mix_flow(str(config))  # V21 (still held) and V22: 2 of 22, above 5%


def test_the_volume_check_runs_when_only_another_source_is_incremental(tmp_path: Path):
    """Visits read whole every run, deals incremental: the run is recorded as incremental, but a
    half-empty visits export is still refused against the last run that read the visits whole."""
    root = tmp_path / "mixed"
    config = _config(root, "full")
    config.write_text(config.read_text(encoding="utf-8").replace("min_volume_share = 0\n", "min_volume_share = 0.5\n")
                      .replace('path = "deals/*.csv"\nmode = "full"', 'path = "deals/*.csv"\nmode = "incremental"'), encoding="utf-8")
    visits = [[f"V{i}", "R1", f"A{i}", "2025-01-10 09:00", "Completed", "2025-02-01 08:00"] for i in range(1, 5)]
    _deliver(root, 1, visits, [["D1", "A1", "false", "", "2025-02-01 08:00"]])
    visit_mix_flow(str(config))
    _deliver(root, 2, visits[:1], [["D2", "A2", "false", "", "2025-02-02 08:00"]])
    with pytest.raises(ValidationFailed, match=r"row_count_vs_previous_run: 1 visit rows, fewer than validation.min_volume_share = 0.5 of the 4"):
        visit_mix_flow(str(config))
    assert _types(config) == [(f"V{i}", "completed", "new_prospect") for i in range(1, 5)]  # the marts as they were
    _deliver(root, 3, visits[:3], [["D2", "A2", "false", "", "2025-02-02 08:00"]])
    summary = visit_mix_flow(str(config))  # 3 of 4: within the bound; recorded as incremental (deals), compared all the same
    from visitmix.report import load_report

    report = load_report(root / "wh" / "visitmix.duckdb", summary.run_id)
    volume = {(b.key, b.scope): b for b in report.bounds}[("min_volume_share", "visits")]
    assert volume.status == "within" and query(root / "wh" / "visitmix.duckdb",
        f"select run_mode from audit.pipeline_run where run_id = '{summary.run_id}'") == [("incremental",)]


def test_an_incremental_source_keeps_the_day_month_order_its_earlier_batches_decided(tmp_path: Path):
    """date_order = "auto" decides per column from the values read. A US-format batch of the 1st to
    the 12th decides nothing: it is read as the earlier batches decided (month first), not day first;
    a batch that contradicts an order earlier batches only assumed stops the run (a QA pass found the
    two orders mixed in one column, silently)."""
    root = tmp_path / "us"
    config = _config(root, "incremental")
    _deliver(root, 1, [["V1", "R1", "A1", "03/25/2025 09:00", "Completed", "2025-03-26 08:00"]], [])
    visit_mix_flow(str(config))
    _deliver(root, 2, [["V2", "R1", "A1", "04/05/2025 09:00", "Completed", "2025-04-06 08:00"]], [])
    visit_mix_flow(str(config))
    wh = root / "wh" / "visitmix.duckdb"
    assert query(wh, "select visit_id, visit_date from marts.fct_visit order by 1") == [("V1", date(2025, 3, 25)), ("V2", date(2025, 4, 5))]
    assert query(wh, "select source, column_name, date_order, is_assumed from state.date_order") == [("visits", "visit_start", "mdy", False)]

    root = tmp_path / "assumed"
    config = _config(root, "incremental")
    _deliver(root, 1, [["V1", "R1", "A1", "05/03/2025 09:00", "Completed", "2025-03-06 08:00"]], [])
    visit_mix_flow(str(config))  # nothing decides: day first assumed (5 March), and kept as an assumption
    wh = root / "wh" / "visitmix.duckdb"
    assert query(wh, "select date_order, is_assumed from state.date_order") == [("dmy", True)]
    _deliver(root, 2, [["V2", "R1", "A1", "04/05/2025 09:00", "Completed", "2025-04-06 08:00"]], [])
    visit_mix_flow(str(config))  # still nothing decides: read as before
    assert query(wh, "select visit_id, visit_date from marts.fct_visit order by 1") == [("V1", date(2025, 3, 5)), ("V2", date(2025, 5, 4))]
    _deliver(root, 3, [["V3", "R1", "A1", "03/25/2025 09:00", "Completed", "2025-04-07 08:00"]], [])
    with pytest.raises(SourceError, match=r"column visit_start: earlier runs read its dates day first \(nothing decided it then, so day "
                                          r"first was assumed\), but this batch has dates only month first can read; .* set date_order = \"mdy\""):
        visit_mix_flow(str(config))
    assert query(wh, "select visit_id, visit_date from marts.fct_visit order by 1") == [("V1", date(2025, 3, 5)), ("V2", date(2025, 5, 4))]
    config.write_text(config.read_text(encoding="utf-8").replace('mode = "incremental"\n[sources.visits.columns]',
                                                                 'mode = "incremental"\ndate_order = "mdy"\n[sources.visits.columns]'), encoding="utf-8")
    _deliver(root, 3, [["V1", "R1", "A1", "05/03/2025 09:00", "Completed", "2025-03-06 08:00"],
                       ["V2", "R1", "A1", "04/05/2025 09:00", "Completed", "2025-04-06 08:00"],
                       ["V3", "R1", "A1", "03/25/2025 09:00", "Completed", "2025-04-07 08:00"]], [])
    visit_mix_flow(str(config))  # the settings changed: the source is read whole, every date month first
    assert query(wh, "select visit_id, visit_date from marts.fct_visit order by 1") == [
        ("V1", date(2025, 5, 3)), ("V2", date(2025, 4, 5)), ("V3", date(2025, 3, 25))]


def test_a_json_delta_of_no_records_is_nothing_new(tmp_path: Path):
    """An API export of the rows changed since yesterday is [] on a quiet day: no new rows, the kept
    ones stay (it was refused for lacking every mapped column); a full source of no records is
    still stopped, by its row count."""
    import json

    (tmp_path / "visits").mkdir()
    records = [{"Id": "V1", "Rep": "R1", "Account": "A1", "Start": "2025-01-10 09:00", "Status": "Completed",
                "Updated": "2025-02-01 08:00"}]
    (tmp_path / "visits" / "delta.json").write_text(json.dumps(records), encoding="utf-8")
    config = tmp_path / "visitmix.toml"
    mapping = ('[sources.visits.columns]\nvisit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\n'
               'status = "Status"\nupdated_at = "Updated"\n')
    config.write_text('[warehouse]\npath = "wh/visitmix.duckdb"\n[sources.visits]\npath = "visits/delta.json"\nmode = "incremental"\n'
                      + mapping, encoding="utf-8")
    visit_mix_flow(str(config))
    (tmp_path / "visits" / "delta.json").write_text("[]", encoding="utf-8")
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_classified) == (0, 1)
    assert _types(config) == [("V1", "completed", "new_prospect")]
    config.write_text(config.read_text(encoding="utf-8").replace('mode = "incremental"', 'mode = "full"'), encoding="utf-8")
    with pytest.raises(ValidationFailed, match="the visits source has no rows"):
        visit_mix_flow(str(config))
