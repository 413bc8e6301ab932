"""Shared fixtures. Prefect's test harness starts once per session, only for tests that run flows."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports prefect: a throwaway Prefect home, no telemetry.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="visitmix-prefect-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_TASKS_DEFAULT_NO_CACHE"] = "true"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a small CSV fixture (UTF-8, comma, minimal quoting)."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on a free localhost port for this test session (see tests/postgres.py)."""
    from postgres import start_postgres

    server, stop = start_postgres()
    try:
        yield server
    finally:
        stop()


@pytest.fixture(scope="session")
def mariadb_uri():
    """A real MariaDB server on a free localhost port for this test session (see tests/mariadb.py)."""
    from mariadb import start_mariadb

    uri, stop = start_mariadb()
    try:
        yield uri
    finally:
        stop()
