"""A stop request (SIGTERM from a scheduler) and how far the run got when it came.

Outside a flow the CLI's SIGTERM handler calls :func:`request`; inside one, Prefect's handler raises
its TerminationSignal, and :func:`watch` (around the DuckDB build) notes the request before passing it
on. Before the new warehouse replaces the live one, a request stops the run
(:class:`visitmix.errors.RunTerminated`, or Prefect's signal) — and again at the next step
(:func:`check`) if library code swallowed the exception, or turned it into its own (DuckDB interrupts
a query with a RuntimeError): the failure is still recorded as stopped by SIGTERM. From the moment
the swap begins (:func:`publishing`) a request waits: the marts go live, the run is recorded as
succeeded and its report written, and the CLI exits 143 saying so. A signal that lands while the
main thread imports a module is handled a moment later (:func:`import_safe`): raised inside the
import machinery it can leave that module's import lock held, and Prefect's crash handling then
waits for it forever.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from visitmix.errors import RunTerminated

_state = {"requested": None, "publishing": False, "published": False}


def reset() -> None:
    """A new command in this process: no request, nothing published."""
    _state.update(requested=None, publishing=False, published=False)


def new_run() -> None:
    """A flow run starts: nothing of it published yet (a request made before it is kept)."""
    _state.update(publishing=False, published=False)


def _live() -> bool:
    """The swap has begun or is done: a request no longer stops the run."""
    return bool(_state["publishing"] or _state["published"])


def requested() -> str | None:
    """The signal that asked the run to stop (``"SIGTERM"``), or None."""
    return _state["requested"]


def published() -> bool:
    """True once this run's warehouse replaced the live one."""
    return bool(_state["published"])


def request(signal_name: str) -> None:
    """Record a stop request; raise RunTerminated unless the run is already publishing."""
    _state["requested"] = signal_name
    if not _live():
        raise RunTerminated.from_signal(signal_name)


def check() -> None:
    """Raise RunTerminated when a stop was requested and the run has not begun to publish."""
    if _state["requested"] and not _live():
        raise RunTerminated.from_signal(_state["requested"])


# a signal that lands while this thread runs the import machinery is handled a moment later: an
# exception raised there can leave a module's import lock held (CPython), and Prefect's crash
# handling, on its event-loop threads, then waits for that module forever
_RETRY_S = 0.05


def _importing(frame) -> bool:  # noqa: ANN001 - a frame object
    """True when `frame` or a caller runs importlib's bootstrap (a module being imported)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def import_safe(handler):  # noqa: ANN001, ANN201 - a signal handler in, a signal handler out
    """`handler` for SIGTERM, but a signal that arrives during an import is noted and sent again
    (after :data:`_RETRY_S`) instead of being handled there."""

    def safe(signum, frame) -> None:  # noqa: ANN001
        if _importing(frame):
            _state["requested"] = "SIGTERM"
            timer = threading.Timer(_RETRY_S, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return
        handler(signum, frame)

    return safe


@contextmanager
def _handler(handler) -> Iterator[object]:  # noqa: ANN001 - a signal handler
    """Install `handler` for SIGTERM (main thread only; elsewhere nothing changes), yield the one it
    replaced, and put that back."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.signal(signal.SIGTERM, import_safe(handler))
    try:
        yield previous
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def watch() -> Iterator[None]:
    """Note a SIGTERM, then hand it to the handler in place (Prefect's during a flow): a query the
    signal interrupts fails with DuckDB's own error (a CSV read, the DuckDB build), and the request
    explains it. Wraps the whole flow run."""
    previous: list[object] = []

    def noting(signum, frame) -> None:  # noqa: ANN001
        _state["requested"] = "SIGTERM"
        if callable(previous[0]):
            previous[0](signum, frame)
        elif not _live():
            raise RunTerminated.from_signal("SIGTERM")

    with _handler(noting) as replaced:
        previous.append(replaced)
        yield


def _note(signum, frame) -> None:  # noqa: ANN001 - a signal handler
    _state["requested"] = "SIGTERM"


@contextmanager
def waiting() -> Iterator[None]:
    """A SIGTERM is noted, not acted on, inside the block (after the swap: the run's report)."""
    with _handler(_note):
        yield


@contextmanager
def publishing() -> Iterator[None]:
    """Around the swap of the new warehouse: a stop request waits until it is done (or failed)."""
    check()
    with _handler(_note):
        _state["publishing"] = True
        try:
            yield
            _state["published"] = True
        finally:
            _state["publishing"] = False
