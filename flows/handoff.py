"""Big frames handed from one Prefect task to the next without Prefect keeping them alive.

Prefect keeps every task's return value until its flow run ends (it links results to task
runs), so a task returning a ten-million-row frame would hold it in memory for the whole run,
and the next step's frame beside it. Tasks here return a :class:`Handle` (a key) instead; the
object stays in this process's store only until a later step :func:`take`\\ s it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

_store: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Handle:
    """A key to one object in the store (what a task returns instead of the object)."""

    key: str
    kind: str  # what it holds, for logs and errors


def put(obj: Any, kind: str) -> Handle:
    handle = Handle(uuid.uuid4().hex, kind)
    with _lock:
        _store[handle.key] = obj
    return handle


def peek(handle: Handle) -> Any:
    """The object, still stored (for a step that reads it and leaves it for a later one)."""
    with _lock:
        return _store[handle.key]


def take(handle: Handle) -> Any:
    """The object, removed from the store: once the caller drops it, its memory is freed."""
    with _lock:
        return _store.pop(handle.key)


def drop(*handles: Handle | None) -> None:
    """Forget objects nobody will take (a failed run)."""
    with _lock:
        for handle in handles:
            if handle is not None:
                _store.pop(handle.key, None)
