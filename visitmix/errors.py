"""Errors a user can act on. Their message is the whole story: file, row, column or config key."""

from __future__ import annotations


class VisitmixError(Exception):
    """Base class: the CLI prints the message without a traceback and exits with code 1."""


class ConfigError(VisitmixError):
    """The config file is missing, not TOML, or has an unknown key or a bad value."""


class SourceError(VisitmixError):
    """A source cannot be read, or lacks a column the mapping needs."""


class TransientSourceError(SourceError):
    """A source could not be read for a reason that may pass by itself: a refused, reset or timed-out
    connection, a lock another session holds, a file locked or still being written. Extraction
    retries it (``[extraction] retries``); every other SourceError is a data or config problem and
    is never retried."""


class SourceMissing(SourceError):
    """A configured file or glob matches nothing (an optional lookup may be missing; never unreadable)."""


class ValidationFailed(VisitmixError):
    """An ``error``-severity expectation failed, or too many rows were quarantined."""


class WarehouseLockedError(VisitmixError):
    """Another process holds the warehouse file read-write."""


class WarehouseError(VisitmixError):
    """The warehouse could not be built or published."""


class RunTerminated(VisitmixError):
    """The run was stopped from outside (SIGTERM from a scheduler, Ctrl-C) before it published."""

    @classmethod
    def from_signal(cls, signal_name: str) -> RunTerminated:
        return cls(f"stopped by {signal_name} before publishing (a scheduler or an operator ended the run); "
                   "the previous marts are unchanged")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a library's multi-line error), or its type's name."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
