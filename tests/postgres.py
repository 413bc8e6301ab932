"""A throwaway PostgreSQL server for tests: initdb + pg_ctl on a free localhost port.

Skips with a clear reason where no PostgreSQL binaries are installed. As root (sessions and CI),
initdb and pg_ctl run as the `postgres` system user, which owns the data directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "S3cret-pw_9"


@dataclass(frozen=True)
class Postgres:
    port: int
    socket_dir: Path
    run: callable  # run(argv) as the server's owner

    def uri(self, password: str = PASSWORD, database: str = "crm") -> str:
        return f"postgresql://crm:{password}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        self.run(["psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", "crm", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])


def _bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if candidates:
        return Path(candidates[0])
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres():
    bindir = _bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="visitmix-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)

    def run(argv: list[str]) -> None:
        exe = str(bindir / argv[0]) if (bindir / argv[0]).exists() else argv[0]
        cmd = [exe, *argv[1:]]
        if as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=root)

    port = _free_port()
    run(["initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"])
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off"
    run(["pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-w", "start"])
    server = Postgres(port=port, socket_dir=root, run=run)

    def stop() -> None:
        try:
            run(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(root, ignore_errors=True)

    try:
        psql = ["psql", "-h", str(root), "-p", str(port), "-U", "postgres", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        run([*psql, "-c", f"create user crm password '{PASSWORD}'", "-c", "create database crm owner crm"])
    except BaseException:
        stop()
        raise
    return server, stop
