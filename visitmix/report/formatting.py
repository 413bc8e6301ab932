"""How the reports write values: one rule for HTML, Markdown and the terminal.

Times in the run's configured zone to the minute, with the zone named; durations in seconds;
counts with thousands separators; shares as percentages. A missing value is written
:data:`NOTHING`, never ``None``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NOTHING = "—"


def text(value: object) -> str:
    """`value` as text; None (and blank text) as :data:`NOTHING`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return NOTHING
    return str(value)


def count(value: int | None) -> str:
    """A row or byte count: ``12,345``; None as :data:`NOTHING`."""
    return NOTHING if value is None else f"{value:,}"


def share(value: float | None) -> str:
    """A share in 0..1 as a percentage: ``8.7%``; a tiny non-zero share as ``<0.1%``."""
    if value is None:
        return NOTHING
    if 0 < value < 0.001:
        return "<0.1%"
    return f"{value:.1%}".replace(".0%", "%")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clock(moment: datetime | None, zone: str) -> str:
    """An instant as ``2026-11-30 16:14`` in `zone` (an IANA name); None as :data:`NOTHING`."""
    if moment is None:
        return NOTHING
    if moment.tzinfo is None:  # stored as timestamptz: naive would be UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return f"{moment.astimezone(_zone(zone)):%Y-%m-%d %H:%M}"


def moment(value: datetime | None, zone: str) -> str:
    """An instant with its zone named: ``2026-11-30 16:14 (Asia/Bangkok)``."""
    return NOTHING if value is None else f"{clock(value, zone)} ({zone})"


def duration(seconds: float | None) -> str:
    """Seconds: ``4.2 s`` under ten seconds, else ``43 s``; None as :data:`NOTHING`."""
    if seconds is None or seconds < 0:
        return NOTHING
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"


_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def delimiter(value: str | None) -> str:
    """A CSV delimiter by name (``comma``, ``tab``); None as :data:`NOTHING`."""
    return NOTHING if value is None else _DELIMITERS.get(value, repr(value))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 warning`` / ``3 warnings``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
