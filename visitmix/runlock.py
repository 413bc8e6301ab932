"""One run at a time per warehouse, and no run that ends without a record.

A run holds ``<warehouse>.lock`` (a file lock the operating system releases when the process
dies) for its whole length and leaves a marker ``<warehouse>.running-<run_id>`` beside the
warehouse until it ends. A run that is killed (SIGKILL, a crash, a power cut) leaves its marker,
and maybe its partial build ``<warehouse>.building-<run_id>``; the next run, holding the lock,
knows such files belong to dead runs: it removes them and records each dead run as failed (a
dead run's marker goes once that record is written).
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from visitmix.errors import WarehouseError, WarehouseLockedError

RUN_LOCK_TIMEOUT_S = 600
# files a run leaves beside the warehouse while it works: its build, its failed-run copy, its marker,
# its partitions of the visits (visitmix.partitioned)
LEFTOVER_KINDS = ("building", "failed", "running", "spill")

# warehouses this process holds the run lock of: nesting depth and the dead runs found on entry
_held: dict[Path, tuple[int, list[tuple[str, datetime]]]] = {}
_held_guard = threading.Lock()


def leftovers(live: Path) -> list[tuple[str, str, Path]]:
    """(kind, run_id or ``<run_id>.wal``, path) of each build, failed-run or marker file of `live`.

    Matched by exact name prefix (``<warehouse name>.building-``…), never by a glob pattern built
    from the user's path: ``sales[TH].duckdb`` must not match ``salesT.duckdb``'s files.
    """
    found = []
    try:
        entries = list(os.scandir(live.parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        for kind in LEFTOVER_KINDS:
            prefix = f"{live.name}.{kind}-"
            if entry.name.startswith(prefix):
                found.append((kind, entry.name[len(prefix):], Path(entry.path)))
    return sorted(found)


def remove_leftovers(live: Path, current_run: str | None = None) -> list[tuple[str, datetime]]:
    """Delete the files of dead runs (call only while holding the run lock); keep `current_run`'s,
    and keep each dead run's marker until the run is recorded (:func:`forget_runs`): a run killed
    before it could record them leaves them to the next run.

    Returns (run_id, when its newest file was last written) of each dead run, to record it as failed.
    """
    dead: dict[str, datetime] = {}
    for _kind, suffix, path in leftovers(live):
        run_id = suffix.removesuffix(".wal").removesuffix(".tmp")  # DuckDB's write-ahead log and spill folder
        if run_id == current_run:
            continue
        if run_id == suffix:
            try:
                written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue
            dead[run_id] = max(dead.get(run_id, written), written)
        if _kind == "running":
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sorted(dead.items())


def run_in_progress(live: Path) -> bool:
    """True while a process holds the warehouse's run lock (the operating system frees it when the
    process dies, so a marker without a holder is a killed run's). Takes and frees the lock at once."""
    lock = FileLock(f"{live}.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:
        return True  # cannot tell (a read-only folder): say nothing worse than before
    lock.release()
    return False


def forget_runs(live: Path, run_ids: list[str]) -> None:
    """Remove the markers of dead runs once the audit trail records them (call holding the run lock)."""
    for run_id in run_ids:
        live.with_name(f"{live.name}.running-{run_id}").unlink(missing_ok=True)


class RunGuard:
    """Hold the warehouse's run lock and this run's marker for the length of a ``with`` block.

    Nested guards on the same warehouse in one process (the CLI around the flow) share the lock.
    On entry, the files of dead runs are removed and listed in :attr:`dead_runs`. Raises
    WarehouseLockedError when another run holds the lock for longer than `timeout_s`.
    """

    def __init__(self, live: Path, run_id: str, timeout_s: float = RUN_LOCK_TIMEOUT_S) -> None:
        self.live = live
        self.run_id = run_id
        self.marker = live.with_name(f"{live.name}.running-{run_id}")
        self.dead_runs: list[tuple[str, datetime]] = []
        self._lock = FileLock(f"{live}.lock", timeout=timeout_s)
        self._outer = False

    def __enter__(self) -> RunGuard:
        key = self.live.resolve()
        with _held_guard:
            depth, dead = _held.get(key, (0, []))
            _held[key] = (depth + 1, dead)
        if depth:
            self.dead_runs = dead  # the enclosing guard of this process holds the lock and the marker
            return self
        self._outer = True
        try:
            self.live.parent.mkdir(parents=True, exist_ok=True)
            try:
                try:
                    self._lock.acquire(timeout=0)
                except Timeout:  # say why nothing happens while another run finishes
                    from visitmix import progress

                    holders = sorted(s for kind, s, _ in leftovers(self.live) if kind == "running")
                    progress.note(f"waiting up to {self._lock.timeout:.0f} s for run {', '.join(holders) or '(unknown)'}: "
                                  "one run at a time per warehouse")
                    self._lock.acquire()
            except Timeout:
                raise WarehouseLockedError(
                    f"another visitmix run is working on '{self.live}' (lock file {self._lock.lock_file}); "
                    "one run at a time per warehouse"
                ) from None
            self.dead_runs = remove_leftovers(self.live, current_run=self.run_id)
            with _held_guard:
                _held[key] = (_held[key][0], self.dead_runs)
            self.marker.write_text(f"{self.run_id} pid {os.getpid()}\n", encoding="utf-8")
        except OSError as exc:
            self._leave()
            raise WarehouseError(f"cannot lock warehouse '{self.live}' for this run: {exc.strerror or exc}") from None
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        self._leave()

    def _leave(self) -> None:
        key = self.live.resolve()
        with _held_guard:
            depth, dead = _held[key]
            if depth > 1:
                _held[key] = (depth - 1, dead)
            else:
                del _held[key]
        if self._outer:
            try:
                self.marker.unlink(missing_ok=True)
            except OSError:
                pass  # the folder went away or never was: nothing to clean up
            if self._lock.is_locked:
                self._lock.release()
