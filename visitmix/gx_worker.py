"""One background process for Great Expectations, started early and reused by the process's runs.

Importing GX takes about 3 s of one core. The worker starts with the run (:func:`start`; the CLI
starts it before Prefect, so the two start-ups overlap), imports GX while the main process reads
and parses the data, then validates the samples it is sent (:func:`submit`), one at a time, in
order. It is a plain child process (``python -c``) talking over its stdin/stdout with pickled,
length-prefixed messages: unlike multiprocessing's spawn it never re-imports the caller's main
script. Where it cannot start or dies, validation runs in this process instead: slower, same result.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

import polars as pl

_lock = threading.Lock()
_worker: _Worker | None = None


class WorkerGone(RuntimeError):
    """The worker process exited (killed, out of memory) before answering."""


class _Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from visitmix.gx_worker import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # GX's own warnings are not the user's business
        )
        self.pending: deque[Future] = deque()
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.send_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, name="gx-worker-reader", daemon=True)
        self.reader.start()
        # a sample is larger than a pipe's buffer, and the worker reads nothing while it imports
        # GX: a writer thread sends, so that submitting never waits for the import
        self.writer = threading.Thread(target=self._write, name="gx-worker-writer", daemon=True)
        self.writer.start()

    def _write(self) -> None:
        stream = self.proc.stdin
        assert stream is not None
        while (data := self.outbox.get()) is not None:
            try:
                stream.write(data)
                stream.flush()
            except (BrokenPipeError, OSError):
                return  # the reader sees the worker exit and fails what is pending

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            header = stream.read(8)
            if len(header) < 8:
                break
            status, value = pickle.loads(stream.read(int.from_bytes(header, "big")))
            future = self.pending.popleft()
            if status == "ok":
                future.set_result(value)
            else:
                future.set_exception(RuntimeError(value))
        while self.pending:
            self.pending.popleft().set_exception(WorkerGone("the Great Expectations worker process exited"))

    def submit(self, function: str, *args: Any) -> Future:
        future: Future = Future()
        data = pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL)
        with self.send_lock:
            if self.proc.poll() is not None or not self.writer.is_alive():
                raise WorkerGone("the Great Expectations worker process exited")
            self.pending.append(future)
            self.outbox.put(len(data).to_bytes(8, "big") + data)
        return future

    def stop(self) -> None:
        try:
            self.outbox.put(None)
            self.writer.join(timeout=5)
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def serve() -> None:
    """The worker's main loop (runs in the child): import GX, then answer requests until stdin closes."""
    from visitmix import gx_runner

    out = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing but answers goes to the parent's pipe
    inp = sys.stdin.buffer
    try:
        gx_runner.warm()
    except Exception:  # noqa: BLE001 - the first request reports the failure
        pass
    while True:
        header = inp.read(8)
        if len(header) < 8:
            return
        function, args = pickle.loads(inp.read(int.from_bytes(header, "big")))
        try:
            answer = ("ok", getattr(gx_runner, function)(*args))
        except Exception as exc:  # noqa: BLE001 - the type only: messages of data libraries quote cells
            answer = ("error", f"{type(exc).__name__} in Great Expectations")
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "big") + data)
        out.flush()


def start() -> None:
    """Start the worker (idempotent; never raises: without it validation runs in this process)."""
    global _worker
    with _lock:
        if _worker is not None and _worker.proc.poll() is None:
            return
        try:
            _worker = _Worker()
        except OSError:
            _worker = None


def _in_process(sample: pl.DataFrame, definition: dict[str, Any], parameters: dict[str, Any]) -> Future:
    from visitmix import gx_runner

    future: Future = Future()
    try:
        future.set_result(gx_runner.validate_sample(sample, definition, parameters))
    except Exception as exc:  # noqa: BLE001 - the caller reads it from the future
        future.set_exception(exc)
    return future


def submit(sample: pl.DataFrame, definition: dict[str, Any], parameters: dict[str, Any]) -> Future:
    """Validate `sample` with GX against the suite `definition` (GX's JSON form); the future holds
    :func:`visitmix.gx_runner.validate_sample`'s result."""
    start()
    worker = _worker
    if worker is None:
        return _in_process(sample, definition, parameters)
    try:
        return worker.submit("validate_sample", sample, definition, parameters)
    except WorkerGone:
        return _in_process(sample, definition, parameters)


def result(future: Future, sample: pl.DataFrame, definition: dict[str, Any], parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The validation result; a worker that died is replaced by a validation in this process."""
    try:
        return future.result()
    except WorkerGone:
        return _in_process(sample, definition, parameters).result()


def shutdown() -> None:
    global _worker
    with _lock:
        if _worker is not None:
            _worker.stop()
        _worker = None
