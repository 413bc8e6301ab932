"""Database sources: a real PostgreSQL started by the test session, and a SQLite file."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from flows.visit_mix import visit_mix_flow
from postgres import PASSWORD
from scenario import query
from transforms.canonical import ParseOptions, to_canonical
from transforms.schema import DEALS, VISITS
from visitmix.config import SourceConfig
from visitmix.errors import ConfigError, SourceError
from visitmix.sources import read_source


@pytest.fixture(scope="module")
def crm(postgres):
    postgres.psql(
        "create table visits (id text, owner text, account text, started_at timestamptz, status text, note text);"
        "insert into visits values "
        "('V1', 'R1', 'A1', '2025-01-31 17:30:00+00', 'Completed', 'ลูกค้าสนใจ – ขอใบเสนอราคา'),"
        "('V2', 'R1', 'A1', '2025-02-03 03:00:00+00', 'Completed', null),"
        "('V3', 'R1', 'A1', '2025-02-10 03:00:00+00', 'Not Held', null);"
        "create table deals (deal_id text, account_id text, is_won boolean, close_date date, amount numeric(12,2));"
        "insert into deals values ('D1', 'A1', true, '2025-02-01', 1200.50), ('D2', 'A1', false, null, 10);"
        "grant select on all tables in schema public to crm;"
    )
    return postgres


def test_postgres_typed_columns(crm, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    deals = read_source("deals", SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), table="deals"))
    assert deals.frame.select("deal_id", "is_won", "close_date", "amount").rows() == [
        ("D1", True, date(2025, 2, 1), Decimal("1200.50")),
        ("D2", False, None, Decimal("10.00")),
    ]
    assert deals.files[0].label.endswith("table deals")
    assert PASSWORD not in deals.files[0].label
    out = to_canonical(deals.frame.lazy(), DEALS, {}, {}, ParseOptions("Asia/Bangkok")).collect()
    assert out.select("is_won", "close_date", "amount").rows() == [(True, date(2025, 2, 1), 1200.5), (False, None, 10.0)]

    source = SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), query="select * from visits where status <> 'x' order by id",
                          columns={"visit_id": "id", "rep_id": "owner", "account_id": "account", "visit_start": "started_at"})
    visits = read_source("visits", source)
    out = to_canonical(visits.frame.lazy(), VISITS, source.columns, {}, ParseOptions("Asia/Bangkok")).collect()
    assert out["visit_start"].to_list() == [
        datetime(2025, 1, 31, 17, 30, tzinfo=UTC),
        datetime(2025, 2, 3, 3, 0, tzinfo=UTC),
        datetime(2025, 2, 10, 3, 0, tzinfo=UTC),
    ]
    assert out["status"].to_list() == ["completed", "completed", "cancelled"]
    assert visits.frame["note"][0] == "ลูกค้าสนใจ – ขอใบเสนอราคา"


def test_postgres_through_adbc_where_it_reads_types_exactly(crm, monkeypatch: pytest.MonkeyPatch):
    from visitmix import databases
    from visitmix.databases import read_database_source
    from visitmix.errors import TransientSourceError

    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    uri = crm.uri("${CRM_DB_PASSWORD}")
    crm.psql(
        "create table plain (id uuid, payload jsonb, started_at timestamptz, changed text);"
        "insert into plain values ('6f1c1f8e-2b7a-4c1e-9d3b-0a1b2c3d4e5f', '{\"k\": 1}', '2025-01-31 17:30+00', '2025-01-01');"
        "create table money_deals (deal_id text, amount numeric(12,2), fee money, score real, took interval, valid_to date);"
        "insert into money_deals values ('D1', 1200.50, 1200.50, 30.1, '1 hour', '2025-01-01'), ('D4', 5, 5, 45.7, null, null);"
        "create table num_deals (deal_id text, amount numeric(12,2), rate numeric(5,2));"
        "insert into num_deals values ('D1', 1200.50, 'NaN'), ('D4', 5, 1.25);"
        "create table forever (rep_id text, valid_to date); insert into forever values ('R1', 'infinity');"
        "create table empty_deals (deal_id text, is_won boolean, close_date date);"
        "grant select on all tables in schema public to crm;"
    )
    through: list[str] = []
    real = databases._fetch_postgres
    monkeypatch.setattr(databases, "_fetch_postgres", lambda *a: through.append("adbc" if (got := real(*a)) else "sqlalchemy") or got)
    # text, time stamps, uuid and json through ADBC; an updated_at kept as text cannot be compared on
    # the server: the whole table is read (the exact cut comes after parsing)
    frame, _ = read_database_source("visits", SourceConfig(uri=uri, table="plain", columns={"updated_at": "changed"}),
                                    datetime(2025, 6, 1, tzinfo=UTC))
    assert frame.select("id", "payload", "changed").rows() == [("6f1c1f8e-2b7a-4c1e-9d3b-0a1b2c3d4e5f", '{"k": 1}', "2025-01-01")]
    assert frame["started_at"].to_list() == [datetime(2025, 1, 31, 17, 30, tzinfo=UTC)]
    assert through == ["adbc"]
    # numeric stays a Decimal (a `where` compares numbers), money and real as psycopg gives them
    deals = read_source("deals", SourceConfig(uri=uri, table="money_deals", where="amount >= 100.0"))
    assert deals.frame.select("deal_id", "amount", "fee", "score").rows() == [("D1", Decimal("1200.50"), "$1,200.50", 30.1)]
    assert through[-1] == "sqlalchemy"
    # numeric(p, s) through ADBC as the same Decimal (a NaN, which no Decimal holds, makes its column Float64)
    deals = read_source("deals", SourceConfig(uri=uri, table="num_deals", where="amount >= 100.0"))
    assert deals.frame.select("deal_id", "amount").rows() == [("D1", Decimal("1200.50"))] and through[-1] == "adbc"
    assert deals.frame.schema["amount"] == pl.Decimal(38, 2) and deals.frame.schema["rate"] == pl.Float64
    with pytest.raises(SourceError, match="date too small|date too large|year .* is out of range|infinity"):
        read_source("reps", SourceConfig(uri=uri, table="forever"))
    # a query as TOML multi-line strings write it, ending in a semicolon and a comment
    query = "\nselect deal_id from money_deals\nwhere amount < 10;  -- the small ones\n"
    assert read_source("deals", SourceConfig(uri=uri, query=query)).frame["deal_id"].to_list() == ["D4"]
    empty, _ = read_database_source("deals", SourceConfig(uri=uri, table="empty_deals"))
    assert (empty.height, empty.columns[:3]) == (0, ["source_row_number", "deal_id", "is_won"])
    assert through[-1] == "adbc"
    with pytest.raises(SourceError, match=r"the query ran longer than statement_timeout_s = 1 s; raise sources.visits.statement_timeout_s"):
        read_source("visits", SourceConfig(uri=uri, query="select pg_sleep(3)", statement_timeout_s=1))
    with pytest.raises(TransientSourceError, match=r"crm:\*\*\*@127.0.0.1:1/crm"):  # retried: nothing listens there
        read_source("visits", SourceConfig(uri="postgresql://crm:${CRM_DB_PASSWORD}@127.0.0.1:1/crm", table="visits"))


def test_postgres_result_outside_the_arrow_types_runs_once(crm, monkeypatch: pytest.MonkeyPatch):
    # the result's types are asked of the prepared statement before it runs: a result read through
    # SQLAlchemy (money here) is not also started through ADBC. A sequence counts the executions.
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    crm.psql(
        "create sequence calls; create table fees (deal_id text, fee money);"
        "insert into fees values ('D1', 5), ('D2', 7);"
        "grant select on fees to crm; grant usage, select, update on sequence calls to crm;"
    )
    source = SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), query="select deal_id, fee, nextval('calls') as call from fees order by deal_id")
    assert read_source("deals", source).frame.select("deal_id", "fee", "call").rows() == [("D1", "$5.00", 1), ("D2", "$7.00", 2)]
    plain = SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), query="select deal_id, nextval('calls') as call from fees order by deal_id")
    assert read_source("deals", plain).frame["call"].to_list() == [3, 4]  # through ADBC: once as well


def test_postgres_numeric_without_scale_holding_nan_is_read_as_float(crm, monkeypatch: pytest.MonkeyPatch):
    # numeric without a declared scale goes through SQLAlchemy, whose Decimal('NaN') Polars cannot
    # hold: that column is Float64 (as the ADBC path reads numeric(p, s) with NaN), the others keep their types
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    crm.psql(
        "create table scores (deal_id text, amount numeric, score numeric, won_on date);"
        "insert into scores values ('D1', 1.5, 'NaN', '2025-01-02'), ('D2', 2, 'Infinity', null), ('D3', null, 7, null);"
        "grant select on scores to crm;"
    )
    frame = read_source("deals", SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), query="select * from scores order by deal_id")).frame
    assert frame.schema["score"] == pl.Float64 and isinstance(frame.schema["amount"], pl.Decimal)
    assert frame.select("deal_id", "amount", "won_on").rows() == [
        ("D1", Decimal("1.5"), date(2025, 1, 2)), ("D2", Decimal("2"), None), ("D3", None, None)]
    score = frame["score"].to_list()
    assert math.isnan(score[0]) and score[1:] == [math.inf, 7.0]


def test_postgres_uri_options_are_kept_beside_the_time_outs(crm, monkeypatch: pytest.MonkeyPatch):
    # a URI's own libpq `options` (here a search_path naming the CRM's schema) reach the server on
    # both paths, ADBC (text columns) and SQLAlchemy (money), with visitmix's time-outs after them
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    crm.psql(
        "create schema sales; create table sales.calls (call_id text, fee money);"
        "insert into sales.calls values ('C1', 3); grant usage on schema sales to crm; grant select on sales.calls to crm;"
    )
    uri = crm.uri("${CRM_DB_PASSWORD}") + "?options=-c%20search_path%3Dsales"
    assert read_source("visits", SourceConfig(uri=uri, query="select call_id from calls")).frame["call_id"].to_list() == ["C1"]
    assert read_source("visits", SourceConfig(uri=uri, table="calls")).frame.select("call_id", "fee").rows() == [("C1", "$3.00")]
    with pytest.raises(SourceError, match=r"statement_timeout_s = 1 s"):
        read_source("visits", SourceConfig(uri=uri, query="select pg_sleep(3)", statement_timeout_s=1))


def test_wrong_password_and_unreachable_server_never_show_the_password(crm, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DB_PASSWORD", "wrong-Pa55word")
    with pytest.raises(SourceError) as info:
        read_source("visits", SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), table="visits"))
    message = str(info.value)
    assert message.startswith(f"cannot read visits source table visits from postgresql://crm:***@127.0.0.1:{crm.port}/crm:")
    assert "password authentication failed" in message
    assert "wrong-Pa55word" not in message
    with pytest.raises(SourceError) as info:
        read_source("visits", SourceConfig(uri=f"postgresql://crm:{PASSWORD}@127.0.0.1:1/crm", table="visits"))
    assert PASSWORD not in str(info.value)
    assert "127.0.0.1:1/crm" in str(info.value)
    with pytest.raises(ConfigError, match="environment variable 'NOT_SET_ANYWHERE' is not set"):
        read_source("visits", SourceConfig(uri="postgresql://crm:${NOT_SET_ANYWHERE}@127.0.0.1/crm", table="visits"))
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    with pytest.raises(SourceError, match='relation "nope" does not exist'):
        read_source("visits", SourceConfig(uri=crm.uri("${CRM_DB_PASSWORD}"), table="nope"))


def test_flow_from_postgres_and_sqlite(crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness):
    from prefect.blocks.system import Secret

    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    Secret(value=PASSWORD).save("crm-db-password", overwrite=True)  # deals read it from a Prefect Secret block
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("create table reps (rep_id text, rep_name text, team text)")
        db.execute("insert into reps values ('R1', 'สมชาย ใจดี', 'North')")
    config = tmp_path / "visitmix.toml"
    config.write_text(
        f'[warehouse]\npath = "wh/visitmix.duckdb"\n'
        f'[sources.visits]\nuri = "{crm.uri("${CRM_DB_PASSWORD}")}"\ntable = "visits"\n'
        '[sources.visits.columns]\nvisit_id = "id"\nrep_id = "owner"\naccount_id = "account"\nvisit_start = "started_at"\n'
        f'[sources.deals]\nuri = "{crm.uri("${prefect-secret:crm-db-password}")}"\nquery = "select * from deals"\n'
        f'[sources.reps]\nuri = "sqlite:///{tmp_path / "crm.sqlite"}"\ntable = "reps"\n'
    )
    summary = visit_mix_flow(str(config))
    assert summary.mix == {"new_prospect": 1, "hot_prospect": 0, "existing_customer": 1}
    wh = tmp_path / "wh" / "visitmix.duckdb"
    # V1 is on 1 Feb in Bangkok, the closing day: still a prospect; V2 on 3 Feb is after the close
    assert query(wh, "select visit_id, visit_date, visit_type, team from marts.fct_visit order by 1") == [
        ("V1", date(2025, 2, 1), "new_prospect", "North"),
        ("V2", date(2025, 2, 3), "existing_customer", "North"),
        ("V3", date(2025, 2, 10), None, "North"),
    ]
    stored = query(wh, "select string_agg(file, ' ') from audit.source_file")[0][0]
    assert PASSWORD not in stored and "***" in stored


@pytest.mark.usefixtures("prefect_harness")
def test_rows_of_a_database_source_are_quarantined_with_their_raw_row(tmp_path: Path):
    # a bad status and a repeated id in a SQLite table: held back, and listed in audit.quarantine
    # under the name audit.source_file gives the source (they used to vanish from both)
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("create table visits (id text, owner text, account text, started_at text, status text)")
        db.executemany("insert into visits values (?, ?, ?, ?, ?)", [
            ("V1", "R1", "A1", "2025-01-06 09:00", "Completed"),
            ("V2", "R1", "A1", "2025-01-07 09:00", "Rescheduled"),
            ("V3", "R1", "A2", "2025-01-08 09:00", "Completed"),
            ("V3", "R1", "A2", "2025-01-08 09:00", "Completed"),
            ("V4", "R1", "A2", "2025-01-09 09:00", "Completed"),
        ])
    config = tmp_path / "visitmix.toml"
    config.write_text(
        '[warehouse]\npath = "wh/visitmix.duckdb"\n[validation]\nmax_quarantine_share = 0.9\n'
        f'[sources.visits]\nuri = "sqlite:///{tmp_path / "crm.sqlite"}"\ntable = "visits"\n'
        '[sources.visits.columns]\nvisit_id = "id"\nrep_id = "owner"\naccount_id = "account"\nvisit_start = "started_at"\n'
    )
    summary = visit_mix_flow(str(config))
    assert (summary.rows_read, summary.rows_quarantined, summary.rows_classified) == (5, 3, 2)
    wh = tmp_path / "wh" / "visitmix.duckdb"
    held = query(wh, "select q.row_number, q.raw_row->>'id', q.raw_row->>'status', left(q.reason, 9) from audit.quarantine q "
                     "join audit.source_file f on f.run_id = q.run_id and f.file = q.file order by 1")
    assert held == [(2, "V2", "Rescheduled", "status is"), (3, "V3", "Completed", "visit_id "), (4, "V3", "Completed", "visit_id ")]
    assert query(wh, "select visit_id from marts.fct_visit order by 1") == [("V1",), ("V4",)]


def test_mysql_or_mariadb_typed_columns(mariadb_uri: str):
    """A throwaway MariaDB server (skipped where its binaries are not installed)."""
    from sqlalchemy import create_engine, text

    uri = mariadb_uri

    from visitmix.databases import _url

    engine = create_engine(_url("visits", uri))
    with engine.begin() as con:
        con.execute(text("drop table if exists visitmix_deals"))
        con.execute(text("create table visitmix_deals (deal_id varchar(10), account_id varchar(10), is_won boolean, close_date date, amount decimal(12,2))"))
        con.execute(text("insert into visitmix_deals values ('D1', 'A1', true, '2025-02-01', 1200.50)"))
    engine.dispose()
    deals = read_source("deals", SourceConfig(uri=uri, table="visitmix_deals"))
    out = to_canonical(deals.frame.lazy(), DEALS, {}, {}, ParseOptions("UTC")).collect()
    assert out.select("deal_id", "is_won", "close_date", "amount").rows() == [("D1", True, date(2025, 2, 1), 1200.5)]
