"""Prefect settings for a quiet, self-contained local run. Call before ``import prefect``.

Prefect's state goes to a project-local home (``./.prefect``) instead of ``~/.prefect``, the
local server's telemetry (whose lock errors print tracebacks) is off, and tasks do not fingerprint
their inputs for caching (hashing a large DataFrame costs seconds). Values already set in the
environment win, so a user pointing ``PREFECT_API_URL`` at a real server keeps it. A working
folder that is not writable falls back to a per-user folder under the system's temp folder.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            return True
    except OSError:
        return False


def configure_prefect_environment(home: Path | None = None, console_level: str | None = None) -> str | None:
    """Set Prefect's environment; returns a note for the user when PREFECT_HOME had to move, else None.

    `console_level`: what Prefect prints on the terminal (e.g. WARNING: the CLI shows its own
    progress); its run logs still reach the Prefect API (the UI) at INFO.
    """
    note = None
    configured = os.environ.get("PREFECT_HOME")
    wanted = Path(configured) if configured else (home or Path.cwd() / ".prefect")
    if not _writable(wanted):
        fallback = Path(tempfile.gettempdir()) / f"visitmix-prefect-{getpass.getuser()}"
        if not _writable(fallback):
            from visitmix.errors import ConfigError

            raise ConfigError(f"PREFECT_HOME '{wanted}' cannot be created or written, nor '{fallback}': set PREFECT_HOME to a writable folder")
        note = f"PREFECT_HOME '{wanted}' is not writable; Prefect keeps its state in '{fallback}' (set PREFECT_HOME to choose)"
        wanted = fallback
    os.environ["PREFECT_HOME"] = str(wanted)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_TASKS_DEFAULT_NO_CACHE", "true")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if console_level:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", console_level)
    return note


@contextmanager
def ad_hoc_run() -> Iterator[None]:
    """Prefect settings for a flow run started by ``visitmix run`` (not by a deployment's worker).

    Prefect 3.9 emits flow-run heartbeats by default (``flows.heartbeat_frequency`` = 180 s) from a
    thread that sleeps in one-second steps, and the end of every flow run joins that thread: each
    run waited 0.5 s on average, up to 1 s, after its last step (0.5–0.7 s of a 5.4 s sample run,
    measured with py-spy). Heartbeats only drive zombie detection by an automation
    (docs.prefect.io/v3/advanced/detect-zombie-flows), and visitmix records a killed run itself (the
    next run finds its lock, ``visitmix status`` names it), so ad-hoc runs send none — unless the
    user chose a frequency (environment variable, profile or ``prefect.toml``), which is kept.
    Deployment runs (``visitmix serve``, a worker) never pass through here and keep Prefect's default.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
