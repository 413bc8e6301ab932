"""Small on-disk scenarios for flow tests: CSV exports plus a config that points at them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from conftest import write_csv

VISIT_HEADER = ["Id", "Rep", "Account", "Start", "Status", "Label", "Note"]
ACCOUNT_HEADER = ["account_id", "account_name", "customer_since", "region", "segment"]
DEAL_HEADER = ["deal_id", "account_id", "is_won", "close_date", "amount"]
REP_HEADER = ["rep_id", "rep_name", "team", "region"]


def make_scenario(
    root: Path,
    visits: list[list[str]],
    accounts: list[list[str]] | None = None,
    deals: list[list[str]] | None = None,
    reps: list[list[str]] | None = None,
    extra_config: str = "",
    classification: str = 'timezone = "Asia/Bangkok"',
) -> Path:
    """Write the exports and a config; returns the config path. Warehouse: root/wh/visitmix.duckdb."""
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "visits.csv", VISIT_HEADER, visits)
    parts = [
        '[warehouse]\npath = "wh/visitmix.duckdb"\nlock_retries = 1\nlock_retry_delay_s = 0.1\n',
        f"[classification]\n{classification}\n",
        extra_config,
        '[sources.visits]\npath = "visits.csv"\n[sources.visits.columns]\n'
        'visit_id = "Id"\nrep_id = "Rep"\naccount_id = "Account"\nvisit_start = "Start"\nstatus = "Status"\nreported_type = "Label"\n',
    ]
    for name, header, rows in (("accounts", ACCOUNT_HEADER, accounts), ("deals", DEAL_HEADER, deals), ("reps", REP_HEADER, reps)):
        if rows is not None:
            write_csv(root / f"{name}.csv", header, rows)
            parts.append(f'[sources.{name}]\npath = "{name}.csv"\n')
    config = root / "visitmix.toml"
    config.write_text("\n".join(parts), encoding="utf-8")
    return config


def warehouse_of(config: Path) -> Path:
    return config.parent / "wh" / "visitmix.duckdb"


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def marts_digest(path: Path) -> str:
    """A digest of every mart's rows in key order (run ids are not in marts)."""
    digest = hashlib.sha256()
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]
        for table in tables:
            digest.update(table.encode())
            for row in con.execute(f"select * from marts.{table} order by all").fetchall():
                digest.update(repr(row).encode())
    finally:
        con.close()
    return digest.hexdigest()
