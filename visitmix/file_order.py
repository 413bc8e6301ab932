"""Files named with dates (or copy numbers) whose path order is not the order those names tell.

The newest-version rule (issues #3 and #4; transforms.versions) takes, without ``updated_at``, the
row of the file whose path sorts last. Exports named ``visits_28-02-2025.csv`` and
``visits_05-03-2025.csv``, or Windows copies ``Visits (10).csv`` and ``Visits (2).csv``, sort
otherwise than they were made: an older export's row then wins. The rule stays as documented; this
finds the case so the run can warn.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath

_YEAR_FIRST = re.compile(r"(?<!\d)(\d{4})[-_. ](\d{1,2})[-_. ](\d{1,2})(?!\d)")
_YEAR_LAST = re.compile(r"(?<!\d)(\d{1,2})[-_. ](\d{1,2})[-_. ](\d{4})(?!\d)")
_COPY = re.compile(r"\((\d+)\)\s*$")


def _named_order(label: str) -> tuple | None:
    """What a file's name says of when it was made: a date (a day-first one unless only month-first
    reads), or a copy number; None when it says neither."""
    path = PurePosixPath(label)
    for pattern, year_first in ((_YEAR_FIRST, True), (_YEAR_LAST, False)):
        found = pattern.search(str(path.with_suffix("")))  # folders too: 2025-3-9/visits.csv
        if found:
            a, b, c = (int(x) for x in found.groups())
            year, first, second = (a, b, c) if year_first else (c, a, b)
            month, day = (first, second) if year_first else ((second, first) if second <= 12 else (first, second))
            try:
                return (0, date(year, month, day))
            except ValueError:
                return None
    copy = _COPY.search(path.stem)
    return (1, int(copy.group(1))) if copy else None


def misordered(labels: list[str]) -> tuple[str, str] | None:
    """Two file labels (paths relative to the config) whose path order is not the order their names
    tell — the first sorts before the second by path but names a later date or copy — or None when
    every file's name says the same kind of thing in path order (or fewer than two say anything). A
    file without a copy number beside copies (``Visits.csv``, ``Visits (2).csv``) is the first copy."""
    named = [(label, _named_order(label)) for label in sorted(labels)]
    kinds = {key[0] for _, key in named if key is not None}
    if kinds == {1}:
        named = [(label, key or (1, 0)) for label, key in named]
    if len(kinds) != 1 or any(key is None for _, key in named) or len(named) < 2:
        return None
    for (earlier, a), (later, b) in zip(named, named[1:]):
        if a > b:
            return earlier, later
    return None
