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
    """Prefect's test harness, started once: its server (a uvicorn subprocess on a free port)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=SERVER_TIMEOUT_S):
        server = SubprocessASGIServer._instances[None]  # the harness registers its server as the default one
        _HARNESS.append(server)
        try:
            yield server
        finally:
            _HARNESS.clear()


SERVER_TIMEOUT_S = 120
_HARNESS: list = []  # the running harness's server, once started


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before each test that uses the harness (and before its module fixtures that run flows): the
    harness's server process is alive and answers.

    On a loaded 2-core machine a fresh-clone `.ci/run` once failed four flow tests with
    `httpx.ConnectError: Connection refused`: nothing listened on the harness's port any more, and
    Prefect's client fails fast on a refused connection and never restarts a server, so every later
    flow test would fail as well. Here a server process that exited is started again on its port (the
    harness's PREFECT_API_URL stays right) and its exit code is reported as a warning (-9: killed, e.g.
    by the kernel's out-of-memory killer); a server alive but slow gets up to SERVER_TIMEOUT_S.
    """
    if _HARNESS and "prefect_harness" in getattr(item, "fixturenames", ()):
        revive(_HARNESS[0])


def revive(server) -> None:  # noqa: ANN001 - prefect.server.api.server.SubprocessASGIServer
    import time
    import warnings

    import httpx

    process = server.server_process
    if process is None or process.poll() is not None:
        code = None if process is None else process.returncode
        warnings.warn(f"Prefect's test server on port {server.port} had exited (code {code}); starting it again", stacklevel=2)
        port = server.port
        server.running = False
        server.start(timeout=SERVER_TIMEOUT_S)
        if server.port != port:  # the port was taken meanwhile: the harness's API URL would be wrong
            pytest.fail(f"Prefect's test server could not restart on port {port} (now {server.port})")
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{server.api_url}/health", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Prefect's test server on port {server.port} does not answer /health within {SERVER_TIMEOUT_S} s")
        time.sleep(0.5)


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
