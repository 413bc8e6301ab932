"""Trust, part 2 (issue #7): each hostile or everyday-odd input, as small as possible, pinned."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from scenario import VISIT_HEADER, make_scenario, marts_digest, query, warehouse_of
from transforms.canonical import ParseOptions, temporal_diagnostics, to_canonical
from transforms.schema import VISITS
from visitmix.config import LookupConfig, SourceConfig, load_config
from visitmix.errors import ConfigError, SourceError, ValidationFailed, WarehouseError
from visitmix.sources import read_source
from visitmix.uris import mask_uri, resolve_uri, scrub

GOOD = [[f"V{i:02d}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", ""] for i in range(1, 21)]
MAPPING = '[sources.visits.columns]\nvisit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\n'


# 1. Rows are identified by the file's path relative to the config, everywhere.
@pytest.mark.usefixtures("prefect_harness")
def test_same_file_name_in_two_folders_keeps_both_rows_apart(tmp_path: Path):
    january = [["J1", "R1", "A1", "2025-01-05 10:00"], ["J2", "R1", "A2", "2025-01-06 10:00"], ["J3", "R1", "", "2025-01-07 10:00"]]
    february = [["F1", "R1", "A1", "2025-02-05 10:00"], ["J2", "R1", "A2", "2025-02-06 10:00"], ["F3", "R1", "A3", "2025-02-07 10:00"]]
    write_csv(tmp_path / "exports" / "2025-01" / "visits.csv", ["Id", "Rep", "Account", "Start"], january)
    write_csv(tmp_path / "exports" / "2025-02" / "visits.csv", ["Id", "Rep", "Account", "Start"], february)
    config = tmp_path / "visitmix.toml"
    config.write_text('[warehouse]\npath = "wh/visitmix.duckdb"\n[validation]\nmax_quarantine_share = 0.5\n'
                      '[sources.visits]\npath = "exports/*/visits.csv"\n' + MAPPING)
    summary = visit_mix_flow(str(config))
    wh = warehouse_of(config)
    # only January's row 3 is held back; February's row 3 (F3) is a valid visit
    assert query(wh, "select file, row_number, reason from audit.quarantine") == [
        ("exports/2025-01/visits.csv", 3, "account_id is missing: the visit cannot be classified")
    ]
    # J2 arrives twice: the version in the folder that sorts last wins
    assert query(wh, "select visit_id, visit_date::varchar from marts.fct_visit order by 1") == [
        ("F1", "2025-02-05"), ("F3", "2025-02-07"), ("J1", "2025-01-05"), ("J2", "2025-02-06"),
    ]
    assert summary.rows_quarantined == 1
    assert query(wh, "select unexpected_sample from audit.dq_result where expectation = 'newest_version_per_key' and suite = 'visits'") == [
        ('["exports/2025-01/visits.csv:2"]',)
    ]
    assert query(wh, "select file from audit.source_file order by 1") == [("exports/2025-01/visits.csv",), ("exports/2025-02/visits.csv",)]


# 2. An expression or `where` that reads a missing column is an error naming the key.
def _expression_config(tmp_path: Path, expressions: str, where: str = "") -> Path:
    write_csv(tmp_path / "v.csv", ["Id", "Rep", "Account", "Start", "Outcome"],
              [["V1", "R1", "A1", "2025-01-05 10:00", "Completed"], ["V2", "R1", "A1", "2025-01-06 10:00", "Cancelled"]])
    config = tmp_path / "c.toml"
    config.write_text(f'[sources.visits]\npath = "v.csv"\n{where}' + MAPPING + f"[sources.visits.expressions]\n{expressions}\n")
    return config


@pytest.mark.parametrize(
    ("expressions", "message"),
    [
        ("status = \"CASE WHEN outcome = 'Completed' THEN 'completed' ELSE 'cancelled' END\"",
         "sources.visits.expressions.status: the expression reads 'outcome', which the visits source 'v.csv' does not have "
         "(its columns: Id, Rep, Account, Start, Outcome); column names are case-sensitive"),
        # alternatives that all miss are an error too, unless marked optional
        ('channel = ["kind", "medium"]', "sources.visits.expressions.channel: the expression reads 'kind'"),
    ],
)
def test_expression_naming_a_missing_column_is_an_error(tmp_path: Path, expressions: str, message: str):
    from visitmix.canonicalise import canonicalise

    config = load_config(_expression_config(tmp_path, expressions))
    raw = read_source("visits", config.sources.visits, config.base_dir)
    with pytest.raises(SourceError) as info:
        canonicalise(raw, config.sources.visits, "UTC")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("date_order", ["auto", "dmy"])  # auto reads the date columns first, with the where applied
def test_expression_or_where_failing_on_one_files_data_names_that_file(tmp_path: Path, date_order: str):
    from visitmix.canonicalise import canonicalise

    write_csv(tmp_path / "a.csv", ["Id", "Rep", "Account", "Start", "Outcome"], [["V1", "R1", "A1", "05/01/2025 10:00", "7"]])
    write_csv(tmp_path / "b.csv", ["Id", "Rep", "Account", "Start", "Outcome"], [["V2", "R1", "A1", "06/01/2025 10:00", "seven"]])
    cases = [  # (source keys, keys after the column mapping, the message's start)
        ('where = "CAST(Outcome AS INTEGER) > 3"\n', "", "sources.visits.where: cannot be applied to the data of the visits source 'b.csv'"),
        ("", '[sources.visits.expressions]\nduration_min = "CAST(Outcome AS INTEGER)"\n',
         "sources.visits.expressions.duration_min: cannot be computed on the data of the visits source 'b.csv'"),
    ]
    for keys, after, message in cases:
        config = tmp_path / "c.toml"
        config.write_text(f'[sources.visits]\npath = "*.csv"\ndate_order = "{date_order}"\n{keys}{MAPPING}{after}')
        loaded = load_config(config)
        raw = read_source("visits", loaded.sources.visits, loaded.base_dir)
        with pytest.raises(SourceError) as info:
            canonicalise(raw, loaded.sources.visits, "UTC")
        assert str(info.value).startswith(message) and "seven" not in str(info.value)


def test_optional_alternatives_may_be_skipped_and_where_names_its_key(tmp_path: Path):
    from visitmix.canonicalise import canonicalise

    config = load_config(_expression_config(tmp_path, 'channel = { any_of = ["kind", "medium"], optional = true }'))
    raw = read_source("visits", config.sources.visits, config.base_dir)
    frame = canonicalise(raw, config.sources.visits, "UTC").frame
    assert frame["channel"].to_list() == [None, None]
    config = load_config(_expression_config(tmp_path, "", where="where = \"outcome = 'Completed'\"\n"))
    with pytest.raises(SourceError, match=r"^sources\.visits\.where: cannot apply 'outcome = 'Completed'' to the columns of 'v.csv' \(Id, Rep, Account, Start, Outcome\)"):
        read_source("visits", config.sources.visits, config.base_dir)


# 3. Duplicate header names are refused by name (CSV and Excel).
def test_duplicate_header_names_are_refused(tmp_path: Path):
    (tmp_path / "v.csv").write_text("Id,Owner,Account,Start,Owner\nV1,R1,A1,2025-01-05 10:00,R9\n")
    with pytest.raises(SourceError, match=r"visits source 'v.csv' has more than one column named 'Owner'"):
        read_source("visits", SourceConfig(path=tmp_path / "v.csv"))
    (tmp_path / "q.csv").write_text('"Id";"Start";" Start "\nV1;x;y\n')  # quoted, semicolons, spaces
    with pytest.raises(SourceError, match=r"has more than one column named 'Start'"):
        read_source("visits", SourceConfig(path=tmp_path / "q.csv"))
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Id", "Owner", "Owner"])
    book.active.append(["V1", "R1", "R2"])
    book.save(tmp_path / "v.xlsx")
    with pytest.raises(SourceError, match=r"visits source 'v.xlsx' has more than one column named 'Owner'"):
        read_source("visits", SourceConfig(path=tmp_path / "v.xlsx"))


# 4. Only naive values are counted as daylight-saving adjustments.
def test_dst_adjustments_count_only_naive_values():
    frame = pl.LazyFrame(
        {
            "visit_id": ["V1", "V2", "V3", "V4"],
            "visit_start": ["2025-03-30T01:30:00Z", "2025-03-30 01:30", "2025-03-30T01:30:00+01:00", "2025-10-26 01:30"],
            "source_file": "v.csv",
            "source_row_number": [1, 2, 3, 4],
        }
    )
    out = to_canonical(frame, VISITS, {}, {}, ParseOptions("Europe/London")).collect()
    assert out["visit_start"].to_list() == [
        datetime(2025, 3, 30, 1, 30, tzinfo=UTC),  # an instant, as written
        datetime(2025, 3, 30, 1, 30, tzinfo=UTC),  # 01:30 does not exist in London: read as 02:30 BST
        datetime(2025, 3, 30, 0, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),  # the repeated hour: the earlier instant (BST)
    ]
    dst = next(d for d in temporal_diagnostics(out) if d["kind"] == "dst")
    assert (dst["gap"], dst["overlap"]) == (1, 1)
    # a typed naive timestamp (Parquet without a zone) is wall time too, and counted
    typed = pl.LazyFrame({"visit_start": [datetime(2025, 3, 30, 1, 30), datetime(2025, 3, 30, 3, 0)],
                          "source_file": "v.parquet", "source_row_number": [1, 2]})
    out = to_canonical(typed, VISITS, {}, {}, ParseOptions("Europe/London")).collect()
    dst = next(d for d in temporal_diagnostics(out) if d["kind"] == "dst")
    assert (dst["gap"], dst["overlap"]) == (1, 0)


# 5. The audit trail describes the bytes that were read, when they were read.
def test_audit_hashes_the_bytes_read_and_survives_a_moved_file(tmp_path: Path):
    from visitmix.audit import RunRecord

    write_csv(tmp_path / "v.csv", ["Id"], [["V1"], ["V2"]])
    original = (tmp_path / "v.csv").read_bytes()
    raw = read_source("visits", SourceConfig(path=tmp_path / "v.csv"))
    (tmp_path / "v.csv").write_text("Id\nV1\nV2\nV3 a longer replacement\n")  # replaced after the read
    record = RunRecord.start(None, None)
    record.files.extend(("visits", f) for f in raw.files)
    files = record.records("succeeded").source_file
    assert files.select("file", "size_bytes", "sha256").rows() == [("v.csv", len(original), hashlib.sha256(original).hexdigest())]
    (tmp_path / "v.csv").rename(tmp_path / "moved.csv")  # moved away: the record does not read it again
    assert record.records("failed").source_file.height == 1


def test_a_file_that_changes_while_it_is_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = write_csv(tmp_path / "v.csv", ["Id"], [["V1"]])
    real = Path.read_bytes

    def read_then_append(self: Path) -> bytes:
        data = real(self)
        with self.open("a") as handle:  # a writer still appending to the export
            handle.write("V2\n")
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_append)
    with pytest.raises(SourceError, match=r"visits source file '.*v.csv' changed while it was being read"):
        read_source("visits", SourceConfig(path=path))


@pytest.mark.parametrize("rows", [15_000, 45_000])  # smaller: Polars panics on the old footer; larger: a compute error
@pytest.mark.parametrize("starts", ["typed", "text"])  # text dates are read once more to decide their day/month order
def test_a_parquet_file_replaced_after_it_was_opened_is_a_transient_error(tmp_path: Path, rows: int, starts: str):
    from visitmix.canonicalise import canonicalise
    from visitmix.errors import TransientSourceError

    def export(n: int) -> None:
        frame = pl.DataFrame({"Id": [f"V{i}" for i in range(n)], "Rep": "R1", "Account": "A1",
                              "Start": [datetime(2025, 1, 5, 10, tzinfo=UTC)] * n, "Outcome": "Completed"})
        if starts == "text":
            frame = frame.with_columns(pl.col("Start").dt.strftime("%d/%m/%Y %H:%M"))
        tmp = tmp_path / "v.tmp"
        frame.write_parquet(tmp)
        tmp.replace(tmp_path / "v.parquet")  # replaced atomically, as an export job does

    export(30_000)
    config = tmp_path / "c.toml"
    config.write_text('[sources.visits]\npath = "v*.parquet"\n' + MAPPING)
    loaded = load_config(config)
    raw = read_source("visits", loaded.sources.visits, loaded.base_dir)
    export(rows)
    with pytest.raises(TransientSourceError, match=r"visits source file '.*v.parquet' changed while it was being read"):
        canonicalise(raw, loaded.sources.visits, "UTC")


# 6. An optional lookup may be missing, never unreadable.
def test_optional_lookup_that_exists_but_is_broken_is_an_error(tmp_path: Path):
    write_csv(tmp_path / "reps.csv", ["rep_id", "team_id"], [["R1", "T1"], ["R2", "T2"]])
    (tmp_path / "teams.csv").write_text("team_id,name\nT1,North\nT2,South,extra,fields\n")  # one ragged line
    lookup = LookupConfig(path=tmp_path / "teams.csv", on="team_id", take=["name"], optional=True)
    with pytest.raises(SourceError, match=r"teams.csv"):
        read_source("reps", SourceConfig(path=tmp_path / "reps.csv", lookups=[lookup]))
    (tmp_path / "teams.csv").write_bytes(b"team_id,name\nT1,\xff\xfe\x00caf\xe9\n")  # undecodable
    with pytest.raises(SourceError, match=r"teams.csv"):
        read_source("reps", SourceConfig(path=tmp_path / "reps.csv", lookups=[lookup]))
    (tmp_path / "teams.csv").unlink()  # missing: that is what optional allows
    raw = read_source("reps", SourceConfig(path=tmp_path / "reps.csv", lookups=[lookup]))
    assert raw.frame["name"].to_list() == [None, None]


# 7. Leftovers are matched by exact name, never by a pattern built from the user's path.
@pytest.mark.usefixtures("prefect_harness")
def test_glob_characters_in_the_warehouse_name(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    config.write_text(config.read_text().replace('path = "wh/visitmix.duckdb"', 'path = "wh/sales[TH].duckdb"'))
    wh = tmp_path / "wh"
    wh.mkdir()
    other = wh / "salesT.duckdb.building-20250101T000000Z-other"  # another warehouse's build in progress
    other.write_bytes(b"x")
    own = wh / "sales[TH].duckdb.building-20250101T000000Z-killed"  # this warehouse's killed run
    own.write_bytes(b"x")
    visit_mix_flow(str(config))
    assert other.exists() and not own.exists()
    assert query(wh / "sales[TH].duckdb", "select run_id, status from audit.pipeline_run where run_id like '%-killed' or run_id like '%-other'") == [
        ("20250101T000000Z-killed", "failed")
    ]


# 8. A failed run published nothing, and says so.
@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_run_records_nothing_published(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    visit_mix_flow(str(config))
    make_scenario(tmp_path, visits=GOOD[:5])  # fails the volume check
    with pytest.raises(ValidationFailed):
        visit_mix_flow(str(config))
    assert query(warehouse_of(config), "select status, rows_published from audit.pipeline_run order by started_at") == [
        ("succeeded", 20), ("failed", 0),
    ]


# 9, 10. One masking function for every URI form; substituted values are percent-encoded.
@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("postgresql://crm:S3cret@db.internal:5432/crm", "postgresql://crm:***@db.internal:5432/crm"),
        ("postgresql://crm@db.internal/crm?password=S3cret&sslmode=require", "postgresql://crm@db.internal/crm?password=***&sslmode=require"),
        ("postgresql://crm:p%40ss@db/crm?sslpassword=K3y&application_name=vm", "postgresql://crm:***@db/crm?sslpassword=***&application_name=vm"),
        ("mysql://u:pw@h/db?access_token=T0ken&API_KEY=abc", "mysql://u:***@h/db?access_token=***&API_KEY=***"),
        ("sqlite:////data/crm.db", "sqlite:////data/crm.db"),
    ],
)
def test_mask_uri_every_form(uri: str, masked: str):
    assert mask_uri(uri) == masked


def test_substituted_values_are_percent_encoded_and_scrubbed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PW", "tPW!@127/x%y")
    uri, secrets = resolve_uri("visits", "postgresql://crm:${PW}@127.0.0.1/crm?password=${PW}")
    assert uri == "postgresql://crm:tPW%21%40127%2Fx%25y@127.0.0.1/crm?password=tPW%21%40127%2Fx%25y"
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    assert (url.password, url.host, url.query["password"]) == ("tPW!@127/x%y", "127.0.0.1", "tPW!@127/x%y")
    # a message that quotes the secret, its encoded form or a piece a parser split off shows none of them
    message = scrub('invalid host "tPW!@127.0.0.1" for tPW%21%40127%2Fx%25y and tPW!@127/x%y', secrets)
    assert "tPW" not in message and "127/x" not in message


def test_postgres_password_in_the_query_and_with_reserved_characters(postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    odd = "p@ss/w:rd%?#&=1"
    postgres.psql(f"create user crm_odd password '{odd}'; grant connect on database crm to crm_odd;"
                  "create table if not exists odd_visits (id text); grant select on odd_visits to crm_odd;"
                  "insert into odd_visits values ('V1');")
    monkeypatch.setenv("ODD_PW", odd)
    for uri in (f"postgresql://crm_odd:${{ODD_PW}}@127.0.0.1:{postgres.port}/crm",
                f"postgresql://crm_odd@127.0.0.1:{postgres.port}/crm?password=${{ODD_PW}}"):
        raw = read_source("visits", SourceConfig(uri=uri, table="odd_visits"))
        assert raw.frame["id"].to_list() == ["V1"]
        label = raw.files[0].label
        assert "***" in label and "p@ss" not in label and "w:rd" not in label
    monkeypatch.setenv("ODD_PW", "wr0ng@pass/word")
    with pytest.raises(SourceError) as info:
        read_source("visits", SourceConfig(uri=f"postgresql://crm_odd:${{ODD_PW}}@127.0.0.1:{postgres.port}/crm", table="odd_visits"))
    assert "password authentication failed" in str(info.value)
    assert "wr0ng" not in str(info.value) and "pass/word" not in str(info.value)


# 12. SIGTERM (how schedulers stop a job) is recorded as a failed run, with one message.
@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_is_recorded_as_a_failed_run(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    visit_mix_flow(str(config))
    n = 300_000  # big enough that the run is still working when the signal arrives
    pl.DataFrame({"i": pl.int_range(0, n, eager=True)}).select(
        Id=pl.format("V{}", pl.col("i")), Rep=pl.lit("R1"), Account=pl.format("A{}", pl.col("i") % 5000),
        Start=(pl.datetime(2024, 1, 1) + pl.duration(minutes=pl.col("i"))).dt.strftime("%Y-%m-%d %H:%M"),
        Status=pl.lit("Held"), Label=pl.lit(""), Note=pl.lit(""),
    ).write_csv(tmp_path / "visits.csv")
    before = marts_digest(warehouse_of(config))
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_HOME=str(tmp_path / ".prefect"), PREFECT_API_URL=str(PREFECT_API_URL.value()))
    proc = subprocess.Popen([sys.executable, "-m", "visitmix.cli", "run", "--config", str(config)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = warehouse_of(config).with_name("visitmix.duckdb.running-")
    deadline = time.monotonic() + 120
    while not [p for p in marker.parent.iterdir() if p.name.startswith(marker.name)]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave a hung run behind
        out, err = proc.communicate()
        pytest.fail(f"the run did not end within 120 s of SIGTERM: {err[-2000:]}")
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("visitmix: error: stopped by SIGTERM before publishing")
    assert "Traceback" not in err, err[-4000:]
    wh = warehouse_of(config)
    assert marts_digest(wh) == before
    runs = query(wh, "select status, rows_published, error_message from audit.pipeline_run order by started_at")
    assert runs[-1][:2] == ("failed", 0) and runs[-1][2].startswith("stopped by SIGTERM")
    assert not [p for p in wh.parent.iterdir() if ".running-" in p.name or ".building-" in p.name]


# 13. One message, never a traceback, for every error a user can cause.
def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visitmix.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_cli_messages_for_unwritable_places_and_nul_bytes(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    # the warehouse folder cannot be made: said before any work, and not recorded (nowhere to record it)
    config.write_text(config.read_text().replace('path = "wh/visitmix.duckdb"', 'path = "not-a-folder/wh/visitmix.duckdb"'))
    result = _cli(["run", "--config", str(config)], tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"visitmix: error: warehouse folder '{blocker}/wh' cannot be created")
    assert "running the visit-mix flow" not in result.stderr and "Traceback" not in result.stderr
    # a NUL character in a configured path is a config error naming the key
    config.write_text(config.read_text().replace('path = "visits.csv"', 'path = "vis\\u0000its.csv"'))
    result = _cli(["run", "--config", str(config)], tmp_path)
    assert result.stderr.strip().splitlines()[-1] == f"visitmix: error: {config}: config key 'sources.visits.path': a path must not contain a NUL character"


def test_prefect_home_that_cannot_be_written_falls_back_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from visitmix.prefect_env import configure_prefect_environment

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "file" / ".prefect"))
    note = configure_prefect_environment()
    assert note is not None and note.startswith(f"PREFECT_HOME '{tmp_path / 'file' / '.prefect'}' is not writable; Prefect keeps its state in")
    assert os.environ["PREFECT_HOME"] != str(tmp_path / "file" / ".prefect")
    assert Path(os.environ["PREFECT_HOME"]).is_dir()


def test_prefect_server_that_does_not_start_in_time_names_the_remedies(tmp_path: Path):
    config = make_scenario(tmp_path, visits=GOOD)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1", PREFECT_HOME=str(tmp_path / ".prefect"))
    result = subprocess.run([sys.executable, "-m", "visitmix.cli", "run", "--config", str(config)], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=300)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith("visitmix: error: Prefect's temporary local server did not start in time")
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in last and "PREFECT_API_URL" in last
    # the run got as far as reading its config: it is on the record
    assert query(warehouse_of(config), "select status from audit.pipeline_run") == [("failed",)]


def test_parquet_dataset_folders_and_mixed_zone_partitions(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # a dataset folder as Spark writes it: partition folders, a _SUCCESS marker, crc files
    table = pa.table({"Id": ["V1", "V2"], "Start": ["2025-01-05 10:00", "2025-02-05 10:00"], "month": ["2025-01", "2025-02"]})
    pq.write_to_dataset(table, tmp_path / "exports" / "visits.parquet", partition_cols=["month"])
    (tmp_path / "exports" / "visits.parquet" / "_SUCCESS").write_text("")
    (tmp_path / "exports" / "visits.parquet" / ".part-0.crc").write_text("")
    raw = read_source("visits", SourceConfig(path=tmp_path / "exports" / "*.parquet"), tmp_path)
    assert sorted(raw.frame.select("Id", "month").rows()) == [("V1", "2025-01"), ("V2", "2025-02")]
    assert sorted(f.label.split("/")[2] for f in raw.files) == ["month=2025-01", "month=2025-02"]
    # a NULL partition value: Hive's, Spark's and pyarrow's folder for it is a missing value, not text
    nulls = pa.table({"Id": ["V3", "V4"], "rep_id": ["R1", None], "status": ["Cancelled", None]})
    pq.write_to_dataset(nulls, tmp_path / "nulls" / "visits.parquet", partition_cols=["rep_id", "status"])
    assert any("__HIVE_DEFAULT_PARTITION__" in str(p) for p in (tmp_path / "nulls").rglob("*.parquet"))
    raw = read_source("visits", SourceConfig(path=tmp_path / "nulls" / "*.parquet"), tmp_path)
    assert sorted(raw.frame.select("Id", "rep_id", "status").rows()) == [("V3", "R1", "Cancelled"), ("V4", None, None)]
    # one partition with zone-aware times, one naive (wall time in the source's zone): the same instant
    rep_account = {"rep_id": ["R1"], "account_id": ["A1"]}
    pl.DataFrame({"Id": ["A"], "Start": [datetime(2025, 1, 31, 17, 30, tzinfo=UTC)], **rep_account}).write_parquet(tmp_path / "p1.parquet")
    pl.DataFrame({"Id": ["B"], "Start": [datetime(2025, 2, 1, 0, 30)], **rep_account}).write_parquet(tmp_path / "p2.parquet")
    config = tmp_path / "c.toml"
    config.write_text('[sources.visits]\npath = "p*.parquet"\n[sources.visits.columns]\nvisit_id = "Id"\nvisit_start = "Start"\n')
    loaded = load_config(config)
    from visitmix.canonicalise import canonicalise

    frame = canonicalise(read_source("visits", loaded.sources.visits, loaded.base_dir), loaded.sources.visits, "Asia/Bangkok").frame
    assert frame.select("visit_id", "visit_start").rows() == [
        ("A", datetime(2025, 1, 31, 17, 30, tzinfo=UTC)), ("B", datetime(2025, 1, 31, 17, 30, tzinfo=UTC)),
    ]


# 14. Database edges.
def test_empty_table_keeps_its_columns_and_sqlite_paths(postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import sqlite3

    postgres.psql("create table if not exists won_deals (deal_id text, account_id text, is_won boolean); grant select on won_deals to crm;")
    raw = read_source("deals", SourceConfig(uri=postgres.uri(), table="won_deals"))
    assert raw.frame.height == 0 and {"deal_id", "account_id", "is_won"} <= set(raw.frame.columns)
    # a relative SQLite path is relative to the config file; a missing file is an error, never created
    (tmp_path / "cfg").mkdir()
    with sqlite3.connect(tmp_path / "cfg" / "crm.db") as db:
        db.execute("create table reps (rep_id text)")
        db.execute("insert into reps values ('R1')")
    config = tmp_path / "cfg" / "c.toml"
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.reps]\nuri = "sqlite:///crm.db"\ntable = "reps"\n')
    monkeypatch.chdir(tmp_path)
    loaded = load_config(config)
    assert read_source("reps", loaded.sources.reps).frame["rep_id"].to_list() == ["R1"]
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.reps]\nuri = "sqlite:///nope.db"\ntable = "reps"\n')
    with pytest.raises(SourceError, match=r"sources.reps.uri: SQLite file '.*cfg/nope.db' does not exist"):
        read_source("reps", load_config(config).sources.reps)
    assert not (tmp_path / "cfg" / "nope.db").exists() and not (tmp_path / "nope.db").exists()


def test_a_locked_table_times_out_with_a_message_naming_the_key(postgres, monkeypatch: pytest.MonkeyPatch):
    import psycopg

    from postgres import PASSWORD

    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} dbname=crm user=crm password={PASSWORD}") as holder:
        holder.execute("create table if not exists locked_visits (id text)")
        holder.commit()
        holder.execute("lock table locked_visits in access exclusive mode")  # a migration, mid-transaction
        started = time.monotonic()
        with pytest.raises(SourceError) as info:
            read_source("visits", SourceConfig(uri=postgres.uri(), table="locked_visits", lock_timeout_s=1))
        assert time.monotonic() - started < 30
        holder.rollback()
    assert "waited lock_timeout_s = 1 s for a lock another session holds on the table" in str(info.value)
    assert "sources.visits.lock_timeout_s" in str(info.value)


@pytest.mark.usefixtures("prefect_harness")
def test_a_sqlite_file_at_the_warehouse_path_is_refused_without_downloads(tmp_path: Path):
    import sqlite3

    config = make_scenario(tmp_path, visits=GOOD)
    (tmp_path / "wh").mkdir()
    with sqlite3.connect(tmp_path / "wh" / "visitmix.duckdb") as db:
        db.execute("create table t (x)")
    with pytest.raises(WarehouseError, match=r"is a SQLite database; visitmix never opens or replaces it"):
        visit_mix_flow(str(config))


# 15. Delimiter detection is linear in the sample it looks at.
def test_quote_heavy_file_reads_quickly_and_right(tmp_path: Path):
    note = '"' + ',""' * 30_000 + '"'
    lines = ["Id,Rep,Account,Start,Note"] + [f"V{i},R1,A1,2025-01-{i:02d} 10:00,{note}" for i in range(1, 21)]
    (tmp_path / "v.csv").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    raw = read_source("visits", SourceConfig(path=tmp_path / "v.csv"))
    assert time.monotonic() - started < 10  # csv.Sniffer took about a minute on this file
    assert raw.frame.height == 20
    assert raw.frame["Note"][0] == ',"' * 30_000


# 11. No cell value reaches a message, a log line, a report or a dq_result cell.
CANARY = "o.neil'canary@example.com"


def _canary_scenarios(root: Path) -> list[tuple[Path, type[Exception] | None]]:
    rows = [[f"V{i:02d}", "R1", "A1", f"2025-01-{i:02d} 10:00", "Held", "", CANARY] for i in range(1, 21)]
    out = []
    # a: quarantined rows quoting the canary in several columns (run succeeds)
    bad = rows + [["V90", "R1", "A1", f"ask {CANARY}", "Held", "", CANARY], ["V91", "R1", "A1", "2025-02-01 10:00", CANARY, "", ""],
                  ["V92", "R1", "", "2025-02-01 10:00", "Held", CANARY, CANARY], [CANARY, "R1", "A1", "2025-02-02 10:00", "Held", "", ""],
                  [CANARY, "R1", "A1", "2025-02-03 10:00", "Held", "", ""]]
    out.append((make_scenario(root / "a", visits=bad, extra_config="[validation]\nmax_quarantine_share = 0.3\n"), None))
    # b: the quarantine bound exceeded (run fails)
    out.append((make_scenario(root / "b", visits=bad, extra_config="[validation]\nmax_quarantine_share = 0.01\n"), ValidationFailed))
    # c: a cast inside an expression fails on the data (Polars quotes the cells in its own message)
    config = make_scenario(root / "c", visits=rows)
    config.write_text(config.read_text() + "[sources.visits.expressions]\nduration_min = \"CAST(Note AS INTEGER)\"\n")
    out.append((config, SourceError))
    return out


@pytest.mark.usefixtures("prefect_harness")
def test_no_cell_value_reaches_messages_logs_reports_or_dq_results(tmp_path: Path, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture):
    caplog.set_level("DEBUG")
    for config, failure in _canary_scenarios(tmp_path):
        if failure is None:
            visit_mix_flow(str(config))
        else:
            with pytest.raises(failure) as info:
                visit_mix_flow(str(config))
            assert "canary" not in str(info.value)
        wh = warehouse_of(config)
        text = query(wh, "select string_agg(concat_ws('|', suite, expectation, column_name, unexpected_sample, details), '\n') from audit.dq_result")[0][0] or ""
        text += query(wh, "select string_agg(coalesce(error_message, ''), '\n') || string_agg(reason, '\n') from audit.pipeline_run, audit.quarantine")[0][0] or ""
        for report in (wh.parent / "reports").rglob("*.html"):
            text += report.read_text(encoding="utf-8")
        assert "canary" not in text, config
        # the raw rows stay in the warehouse, in audit.quarantine only
    assert query(warehouse_of(tmp_path / "a" / "visitmix.toml"), "select count(*) from audit.quarantine where raw_row::varchar like '%canary%'")[0][0] == 5
    out, err = capfd.readouterr()
    assert "canary" not in out + err + "\n".join(r.getMessage() for r in caplog.records)
    result = _cli(["dq-report", "--config", str(tmp_path / "a" / "visitmix.toml")], tmp_path)
    assert result.returncode == 0 and "canary" not in result.stdout + result.stderr
