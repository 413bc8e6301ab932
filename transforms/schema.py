"""Canonical inputs, enumerations and labels: the one settings module for the visit rules.

Every source is mapped onto one of the canonical entities below before any rule runs. A canonical
column has a logical type; `transforms.canonical` parses source text into it:

==============  ===============================================================================
logical type    Polars dtype after parsing
==============  ===============================================================================
``id``          ``pl.String`` (ids are never numbers: account codes keep leading zeros)
``text``        ``pl.String``
``timestamp``   ``pl.Datetime("us", "UTC")`` (naive source values are local time in the source zone)
``date``        ``pl.Date``
``bool``        ``pl.Boolean`` (true/false, yes/no, 1/0, t/f, y/n, won/lost …: canonical.parse_bool_text)
``number``      ``pl.Float64``
``status``      ``pl.String`` holding one of :data:`VISIT_STATUSES` (see :data:`STATUS_SPELLINGS`)
==============  ===============================================================================
"""

from __future__ import annotations

# What surrounds a written value without being part of it, trimmed from every cell before it is
# read: Unicode white space (Polars' default strip: tabs, no-break and ideographic spaces …) and the
# zero-width characters text copied from web pages and Thai word-breaking editors carries (zero-width
# space and joiners, word joiner, a byte-order mark inside a file), and NUL, which C-string exports and
# fixed-width fields pad with. "A001\u200b" and "A001\x00" are account A001.
BLANKS = (
    "\x00\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
    + "\u200b\u200c\u200d\u2060\ufeff"
)
WHOLE_FLOAT_ID = r"^([+-]?[0-9]+)[.,]0$"  # an integer id a float column wrote ("101.0"; "101,0" in a decimal-comma locale): 101
ZERO_WIDTH = "[\u200b\u200c\u200d\u2060\ufeff]"  # a regex: never part of a status word or a label, wherever they stand


def header_name(text: str) -> str:
    """A column name as it looks: without zero-width characters (a byte-order mark), trimmed, and each
    run of white space that holds a no-break space, a tab or a line break (a wrapped Excel header) one
    plain space; runs of plain spaces are kept as typed. Applied to the files' headers and to the
    names a config maps, so either may be written either way."""
    plain = re.sub(ZERO_WIDTH, "", text)
    return re.sub(r"\s*[^\S ]\s*", " ", plain).strip()

import re
from dataclasses import dataclass

COMPLETED = "completed"
VISIT_STATUSES: tuple[str, ...] = ("completed", "planned", "cancelled", "no_show")

# Common CRM spellings of a visit status, matched case-insensitively after trimming and after
# turning spaces and hyphens into underscores. A missing status means completed (issue #2).
STATUS_SPELLINGS: dict[str, str] = {
    "completed": "completed",
    "complete": "completed",
    "held": "completed",
    "done": "completed",
    "planned": "planned",
    "scheduled": "planned",
    "not_started": "planned",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "not_held": "cancelled",
    "no_show": "no_show",
    "noshow": "no_show",
}

NEW_PROSPECT = "new_prospect"
HOT_PROSPECT = "hot_prospect"
EXISTING_CUSTOMER = "existing_customer"
VISIT_TYPES: tuple[str, ...] = (NEW_PROSPECT, HOT_PROSPECT, EXISTING_CUSTOMER)
VISIT_TYPE_LABELS: dict[str, str] = {
    NEW_PROSPECT: "New Prospect Visit",
    HOT_PROSPECT: "Hot Prospect Visit",
    EXISTING_CUSTOMER: "Existing Customer Visit",
}

# How a rep's own label (`reported_type`) is read, after lower-casing, trimming, dropping a
# trailing " visit" and turning spaces/hyphens into underscores. Unlisted labels never match, unless
# [classification] reported_type_map names them.
REPORTED_TYPE_SPELLINGS: dict[str, str] = {
    "new_prospect": NEW_PROSPECT,
    "new": NEW_PROSPECT,
    "prospect": NEW_PROSPECT,
    "new_customer": NEW_PROSPECT,
    "ลูกค้าใหม่": NEW_PROSPECT,
    "hot_prospect": HOT_PROSPECT,
    "hot": HOT_PROSPECT,
    "follow_up": HOT_PROSPECT,
    "followup": HOT_PROSPECT,
    "ลูกค้าเป้าหมาย": HOT_PROSPECT,
    "existing_customer": EXISTING_CUSTOMER,
    "existing": EXISTING_CUSTOMER,
    "customer": EXISTING_CUSTOMER,
    "current_customer": EXISTING_CUSTOMER,
    "ลูกค้าเก่า": EXISTING_CUSTOMER,
    "ลูกค้าปัจจุบัน": EXISTING_CUSTOMER,
    "ลูกค้าเดิม": EXISTING_CUSTOMER,
    "ลูกค้ารายเดิม": EXISTING_CUSTOMER,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | text | timestamp | date | bool | number | status
    required: bool = False  # the source must map it (or fill it from elsewhere)
    # the visit rules read it: a value that cannot be read holds the row back (quarantine); in any
    # other column it becomes NULL, is counted as a warning, and the row stays
    rule: bool = False


@dataclass(frozen=True)
class Entity:
    """A canonical input: its columns and its key.

    `key` names a row for references; `version_key` (default: the key) identifies one version of a
    row for the newest-version rule — reps with history have one row per rep and ``valid_from``.
    """

    name: str
    key: str
    columns: tuple[Column, ...]
    version_key: tuple[str, ...] = ()

    @property
    def versions_by(self) -> list[str]:
        return list(self.version_key or (self.key,))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


VISITS = Entity(
    "visits",
    "visit_id",
    (
        Column("visit_id", "id", required=True, rule=True),
        Column("rep_id", "id", required=True, rule=True),
        Column("account_id", "id", required=True, rule=True),
        Column("visit_start", "timestamp", required=True, rule=True),
        Column("status", "status", rule=True),
        Column("reported_type", "text"),
        Column("channel", "text"),
        Column("duration_min", "number"),
        # The deal the visit belongs to; lets `take_from_deal` fill account_id / rep_id.
        Column("deal_id", "id"),
        Column("updated_at", "timestamp"),
    ),
)
ACCOUNTS = Entity(
    "accounts",
    "account_id",
    (
        Column("account_id", "id", required=True, rule=True),
        Column("account_name", "text"),
        Column("customer_since", "date", rule=True),
        Column("region", "text"),
        Column("segment", "text"),
        # the rep who owns the account (for coverage per rep); optional
        Column("rep_id", "id"),
        Column("updated_at", "timestamp"),
    ),
)
DEALS = Entity(
    "deals",
    "deal_id",
    (
        Column("deal_id", "id", required=True, rule=True),
        Column("account_id", "id", required=True, rule=True),
        Column("is_won", "bool", rule=True),
        Column("close_date", "date", rule=True),
        Column("amount", "number"),
        # The deal owner. Used when visits reach their rep through the linked deal.
        Column("rep_id", "id"),
        Column("updated_at", "timestamp"),
    ),
)
REPS = Entity(
    "reps",
    "rep_id",
    (
        Column("rep_id", "id", required=True, rule=True),
        Column("rep_name", "text"),
        Column("team", "text"),
        Column("region", "text"),
        # history (slowly changing dimension, type 2): the team and region hold from valid_from
        # (inclusive) to valid_to (exclusive); NULL = since always / until further notice
        Column("valid_from", "date", rule=True),
        Column("valid_to", "date", rule=True),
        Column("updated_at", "timestamp"),
    ),
    version_key=("rep_id", "valid_from"),
)
ENTITIES: dict[str, Entity] = {e.name: e for e in (VISITS, ACCOUNTS, DEALS, REPS)}

# Columns every canonical frame carries beside its entity columns, for lineage and quarantine.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row_number"  # 1-based data row in its file (the header is not counted)
PARSE_ERROR = "parse_error"  # NULL, or "<column>: cannot read '<raw>' as <kind>" for the first bad cell
# Why a record of a file is not a row of its table (fields missing or extra), NULL when it is one;
# set by the CSV reader, read into parse_error, never a source column.
ROW_PROBLEM = "__row_problem"
LINEAGE_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW, ROW_PROBLEM)
# Columns that have done their work once a source's rows are checked (lineage for the quarantine,
# versions): the visits are classified and published without them.
CHECKED_ONLY: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW, PARSE_ERROR, "updated_at")
