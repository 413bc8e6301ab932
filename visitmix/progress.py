"""Progress of a run: step names with elapsed time, files and rows read — in Prefect's logs always
(so a scheduled run's log in the Prefect UI shows them), and on the terminal (stderr, rich) when the
command line asked for it (:func:`enable`).

On an interactive terminal the running step shows as a spinner with its elapsed time; each finished
step prints one line (``✓ read visits  2.3 s``). Output that is not a terminal (a log file, CI) gets
the same lines without the spinner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

_console = None  # rich.console.Console on stderr, once enabled
_live = threading.local()  # a spinner is showing (rich shows one live display at a time)


def enable() -> None:
    """Show progress on stderr (the CLI calls this; library use and tests stay quiet)."""
    global _console
    from rich.console import Console

    _console = Console(stderr=True, highlight=False)


def disable() -> None:
    global _console
    _console = None


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        from prefect import get_run_logger
        from prefect.exceptions import MissingContextError

        try:
            return get_run_logger()
        except MissingContextError:
            pass
    except ImportError:  # pragma: no cover - Prefect is a dependency
        pass
    return logging.getLogger("visitmix")


def note(line: str) -> None:
    """One line of progress (``read visits: 3 files, 1,000,000 rows``)."""
    _logger().info(line)
    if _console is not None:
        _console.print(f"  {line}")


@contextmanager
def step(name: str) -> Iterator[None]:
    """Show `name` running (spinner on a terminal), then ``✓ name  1.2 s`` (or ``✗`` when it raised)."""
    spinner = nullcontext()
    if _console is not None and _console.is_terminal and not getattr(_live, "on", False):
        spinner = _console.status(f"{name} …", spinner="dots")
        _live.on = True
    started = time.perf_counter()
    ok = False
    try:
        with spinner:
            yield
        ok = True
    finally:
        if not isinstance(spinner, nullcontext):
            _live.on = False
        seconds = time.perf_counter() - started
        if ok:
            _logger().info("%s: %.1f s", name, seconds)
        if _console is not None:
            mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
            _console.print(f"  {mark} {name:<44} {seconds:6.1f} s")
