"""Prefect settings for a quiet, self-contained local run. Call before ``import prefect``.

Prefect's state goes to a project-local home (``./.prefect``) instead of ``~/.prefect``, the
local server's telemetry (whose lock errors print tracebacks) is off, and tasks do not fingerprint
their inputs for caching (hashing a large DataFrame costs seconds). Values already set in the
environment win, so a user pointing ``PREFECT_API_URL`` at a real server keeps it.
"""

from __future__ import annotations

import os
from pathlib import Path


def configure_prefect_environment(home: Path | None = None, log_level: str | None = None) -> None:
    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str(home or Path.cwd() / ".prefect")))
    prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_TASKS_DEFAULT_NO_CACHE", "true")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if log_level:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", log_level)
