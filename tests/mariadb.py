"""A throwaway MariaDB/MySQL server for tests: mariadb-install-db + mariadbd on a free localhost port.

Skips with a clear reason where no MariaDB server binaries are installed (`.ci/run` tries to
install Debian's mariadb-server; a laptop may not have it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PASSWORD = "My5ql-pw_7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mariadb():
    install, server, client = (shutil.which(n) for n in ("mariadb-install-db", "mariadbd", "mariadb"))
    if not (install and server and client):
        pytest.skip("MariaDB server binaries (mariadb-install-db, mariadbd) are not installed")
    root = Path(tempfile.mkdtemp(prefix="visitmix-mariadb-"))
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, "--no-defaults", f"--datadir={root / 'data'}", "--auth-root-authentication-method=normal", "--skip-test-db", *user],
                   check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([server, "--no-defaults", f"--datadir={root / 'data'}", f"--socket={root / 'sock'}", f"--port={port}",
                             "--bind-address=127.0.0.1", f"--pid-file={root / 'pid'}", f"--log-error={root / 'err.log'}", *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)

    sql = f"create database crm; create user 'crm'@'127.0.0.1' identified by '{PASSWORD}'; grant all on crm.* to 'crm'@'127.0.0.1';"
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run([client, "--no-defaults", "-S", str(root / "sock"), "-uroot", "-e", sql], capture_output=True)
        if done.returncode == 0:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            stop()
            raise RuntimeError(f"MariaDB did not start: {done.stderr.decode(errors='replace')}")
        time.sleep(0.2)
    return f"mysql://crm:{PASSWORD}@127.0.0.1:{port}/crm", stop
