"""The run configuration: a TOML file validated by pydantic, unknown keys rejected by name.

Relative paths in a config file are resolved against the folder that holds the file. Without a
file (``visitmix run`` with no ``--config``) the bundled sample in ``data/sample/`` is used and
the warehouse is written to ``warehouse/visitmix.duckdb`` under the current directory.
"""

from __future__ import annotations

import math
import re
import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationError, model_validator

from transforms.schema import ENTITIES, header_name
from visitmix.errors import ConfigError
from visitmix.paths import SAMPLE_CONFIG
from visitmix.presets import merged_source

Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_nul(value: Path | list[Path] | None) -> Path | list[Path] | None:
    for path in value if isinstance(value, list) else [value]:
        if path is not None and "\x00" in str(path):
            raise ValueError("a path must not contain a NUL character")
    return value


class WarehouseConfig(_Strict):
    path: Annotated[Path, AfterValidator(_no_nul)] = Path("warehouse/visitmix.duckdb")
    # A process holding the warehouse read-write blocks the publish: retry this often, doubling the wait.
    lock_retries: StrictInt = Field(default=3, ge=0, le=20)
    lock_retry_delay_s: float = Field(default=1.0, ge=0.0, le=600.0)


def _known_zone(value: str | None) -> str | None:
    if value is None:
        return value
    message = f"'{value}' is not an IANA time zone name (e.g. 'Asia/Bangkok')"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(message) from None
    if value not in _polars_zones():  # 'localtime', 'posixrules' … exist as files, not as zones
        raise ValueError(message)
    return value


@cache
def _polars_zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones()) - {"Factory", "localtime", "posixrules", "posix/Factory"}


TimeZone = Annotated[str, AfterValidator(_known_zone)]


class ClassificationConfig(_Strict):
    timezone: TimeZone = "Asia/Bangkok"
    reengage_after_days: StrictInt | None = Field(default=None, ge=1, le=36500)
    # the reps' own labels (reported_type) → the visit type they name, beyond the built-in spellings
    # (transforms/schema.py REPORTED_TYPE_SPELLINGS), matched ignoring case, spaces and hyphens
    reported_type_map: dict[str, Literal["new_prospect", "hot_prospect", "existing_customer"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_type_per_label(self) -> ClassificationConfig:
        """Two labels that read as one ("New" and "new visit") must not name two types: which would win is arbitrary."""
        if not self.reported_type_map:
            return self
        from transforms.classify import label_keys

        first: dict[str, str] = {}
        for label, key in zip(self.reported_type_map, label_keys(list(self.reported_type_map)), strict=True):
            other = first.setdefault(key, label)
            if other != label and self.reported_type_map[other] != self.reported_type_map[label]:
                raise ValueError(
                    f"reported_type_map: {other!r} and {label!r} are one label (case, spaces, hyphens and a trailing "
                    f"'visit' are ignored) but name {self.reported_type_map[other]} and {self.reported_type_map[label]}: keep one"
                )
        return self


class TargetShares(_Strict):
    """One target mix: shares in 0..1 that sum to 1, in force from `valid_from` (None: always)."""

    new_prospect: Share = 0.20
    hot_prospect: Share = 0.25
    existing_customer: Share = 0.55
    valid_from: date | None = None

    @model_validator(mode="after")
    def _sums_to_one(self) -> TargetShares:
        total = self.new_prospect + self.hot_prospect + self.existing_customer
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"target shares must sum to 1, they sum to {total:g}")
        return self


class TeamTarget(TargetShares):
    """A team's own target (overrides the company's for the team and its reps), with its history."""

    history: list[TargetShares] = Field(default_factory=list)  # earlier targets, each from its valid_from


class TargetMixConfig(TargetShares):
    """The company's target mix, with its history and per-team overrides.

    Default after the published finding that about 45% of selling effort on acquisition is optimal
    (20% new + 25% hot prospects); set your own. A period uses the target in force on its first day:
    the team's (for a team and its reps) else the company's, each the latest whose `valid_from` is
    on or before that day.
    """

    history: list[TargetShares] = Field(default_factory=list)  # earlier company targets
    teams: dict[str, TeamTarget] = Field(default_factory=dict)

    def entries(self) -> list[tuple[str | None, date | None, TargetShares]]:
        """Every target as (team or None for the company, valid_from, shares)."""
        out: list[tuple[str | None, date | None, TargetShares]] = [(None, t.valid_from, t) for t in (self, *self.history)]
        for team, target in self.teams.items():
            out += [(team, t.valid_from, t) for t in (target, *target.history)]
        return out

    @model_validator(mode="after")
    def _one_target_per_day(self) -> TargetMixConfig:
        seen: set[tuple[str | None, date | None]] = set()
        for team, valid_from, _ in self.entries():
            if (team, valid_from) in seen:
                scope = f"team '{team}'" if team else "the company"
                raise ValueError(f"{scope} has two targets valid from {valid_from or 'the start'}")
            seen.add((team, valid_from))
        return self


class CalendarConfig(_Strict):
    # the month the fiscal year starts in (1 = January); a fiscal year is named after the calendar
    # year it ends in (with 10, FY2026 runs from October 2025 to September 2026)
    fiscal_year_start_month: StrictInt = Field(default=1, ge=1, le=12)


class KpiConfig(_Strict):
    # a new-prospect visit has progressed when its account had another completed visit within this many days
    progression_window_days: StrictInt = Field(default=90, ge=1, le=3650)
    # a hot prospect was won when its account became a customer within this many days of its last hot visit
    win_window_days: StrictInt = Field(default=90, ge=1, le=3650)


class ExpressionChoice(_Strict):
    """Alternatives for one canonical column: the first SQL expression whose columns the source has.

    With ``optional = true`` the column is left unmapped when no alternative fits (a CRM export that
    may lack the column); otherwise that is an error naming the key and the source's columns.
    """

    any_of: list[str] = Field(min_length=1)
    optional: bool = False


# a source column's name as the files' headers are read (transforms.schema.header_name): "Visit\nDate" and
# "Visit Date" name the same column
ColumnName = Annotated[str, AfterValidator(header_name)]


class LookupConfig(_Strict):
    """Columns taken from another file by key, e.g. a CRM's engagement→company link table."""

    path: Annotated[Path | list[Path], AfterValidator(_no_nul)]  # relative to the folder of the source's first file
    on: ColumnName  # the source's column holding the key
    lookup_on: ColumnName | None = None  # the lookup file's key column; default the same name as `on`
    take: list[ColumnName] = Field(min_length=1)  # lookup columns added to the source's rows
    where: str | None = None  # a row filter over the lookup file's columns
    optional: bool = False  # a missing file or column gives empty values instead of an error

    @property
    def paths(self) -> list[Path]:
        return list(self.path) if isinstance(self.path, list) else [self.path]


class SourceConfig(_Strict):
    # a file or a glob (or a list of them); or, instead, a database `uri` with `table` or `query`
    path: Annotated[Path | list[Path] | None, AfterValidator(_no_nul)] = None
    # a CRM preset (visitmix/presets/<name>.toml) supplying the mapping; any key here overrides it
    preset: Literal["salesforce", "hubspot"] | None = None
    # "snake" renames source columns ActivityDateTime → activity_date_time before mapping (presets set it)
    column_case: Literal["as_is", "snake"] = "as_is"
    uri: str | None = None  # e.g. postgresql://crm:${CRM_DB_PASSWORD}@db.local/crm
    table: str | None = None
    query: str | None = None
    # database sources: seconds to wait for a connection, for a table lock, and for the whole query
    connect_timeout_s: float = Field(default=15.0, gt=0, le=3600)
    lock_timeout_s: float = Field(default=60.0, gt=0, le=86400)
    statement_timeout_s: float = Field(default=1800.0, gt=0, le=86400)
    # canonical column name = source column name; unlisted canonical names map to themselves
    columns: dict[str, ColumnName] = Field(default_factory=dict)
    # canonical column name = SQL expression over the source's own columns, e.g. is_won = "stage = 'Closed Won'";
    # a list gives alternatives: the first whose columns the source has is used (none fits: an error);
    # {any_of = [...], optional = true} may leave the column unmapped when none fits
    expressions: dict[str, str | list[str] | ExpressionChoice] = Field(default_factory=dict)
    # SQL boolean expression over the source's own columns; only matching rows are read
    # (a list or {any_of = [...]}: alternatives, the first whose columns the source has)
    where: str | list[str] | ExpressionChoice | None = None
    # visits only: canonical columns taken from the linked deal (needs `deal_id` mapped)
    take_from_deal: list[str] = Field(default_factory=list)
    # other files joined on a key before mapping (applied in order; a later one may use an earlier one's columns)
    lookups: list[LookupConfig] = Field(default_factory=list)
    format: Literal["csv", "excel", "parquet", "json", "ndjson"] | None = None
    sheet: str | None = None  # Excel: the sheet to read; default the first
    encoding: str | None = None  # CSV: default detect (UTF-8, then cp874)
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)  # CSV: default detect
    # lines (CSV) or rows (Excel) above the header: a report's title, date range, filters; default
    # None: such a title block is found (csv_dialect.title_rows); 0: the header is the first line
    skip_rows: int | None = Field(default=None, ge=0, le=1000)
    # the zone of the source's naive timestamps; default [classification].timezone
    timezone: TimeZone | None = None
    # years in every date/timestamp column: gregorian, buddhist (BE = CE + 543) or auto (> 2400 is BE)
    calendar: Literal["gregorian", "buddhist", "auto"] = "gregorian"
    # order of dates written with slashes or dots: 15/03/2024 (dmy), 03/15/2024 (mdy), or auto:
    # decided per column from the values (a first field above 12 is a day, a second one above 12 a
    # day in US order); where no value decides, day first, recorded as a warning (date_order_assumed)
    date_order: Literal["dmy", "mdy", "auto"] = "auto"
    # the decimal mark of numbers written as text; default "," in ;-separated files, else "."
    decimal: Literal[".", ","] | None = None
    # visits: the source's own status words → completed | planned | cancelled | no_show (matched
    # ignoring case, spaces and hyphens); presets fill their CRM's standard values
    status_map: dict[str, Literal["completed", "planned", "cancelled", "no_show"]] = Field(default_factory=dict)
    # visits: a visit whose status is missing (blank, or no status column) is "completed" (default), or
    # "by_start": completed once its start has passed when the run starts, else planned (calendar
    # exports without a status, e.g. Salesforce Events with upcoming meetings; transforms/status.py)
    missing_status: Literal["completed", "by_start"] = "completed"
    # "full": every run reads the whole source (a snapshot export). "incremental": a run extracts only
    # rows whose updated_at is at or after the source's watermark, kept in the warehouse and advanced
    # when the run publishes; the rows accumulate there (see transforms/incremental.py and the README)
    mode: Literal["full", "incremental"] = "full"

    @property
    def where_alternatives(self) -> tuple[list[str], bool] | None:
        """The `where` filter as (alternatives in order, may be skipped), or None."""
        if self.where is None:
            return None
        if isinstance(self.where, ExpressionChoice):
            return list(self.where.any_of), self.where.optional
        return ([self.where] if isinstance(self.where, str) else list(self.where)), False

    @property
    def expression_alternatives(self) -> dict[str, tuple[list[str], bool]]:
        """``{canonical_name: (alternatives in order, may be skipped)}`` for every expression."""
        out: dict[str, tuple[list[str], bool]] = {}
        for name, value in self.expressions.items():
            if isinstance(value, ExpressionChoice):
                out[name] = (list(value.any_of), value.optional)
            else:
                out[name] = ([value] if isinstance(value, str) else list(value), False)
        return out

    @property
    def paths(self) -> list[Path]:
        if self.path is None:
            return []
        return list(self.path) if isinstance(self.path, list) else [self.path]

    @model_validator(mode="after")
    def _one_origin(self) -> SourceConfig:
        if isinstance(self.path, list) and not self.path:
            raise ValueError("path is an empty list: name at least one file")
        if (self.path is None) == (self.uri is None):
            raise ValueError("set either path (files) or uri (a database), not both or neither")
        if self.uri is not None and (self.table is None) == (self.query is None):
            raise ValueError("a database source needs exactly one of table or query")
        if self.uri is None and (self.table or self.query):
            raise ValueError("table and query go with uri, not with path")
        return self


class SourcesConfig(_Strict):
    visits: SourceConfig
    accounts: SourceConfig | None = None
    deals: SourceConfig | None = None
    reps: SourceConfig | None = None


class ValidationConfig(_Strict):
    # a run fails, publishing nothing, when a larger share of a source's rows is quarantined
    max_quarantine_share: Share = 0.05
    # a run fails when more than this share of a source's rows reference an account or rep the
    # accounts / reps input does not have (two exports writing ids differently); below it, a warning
    max_unknown_reference_share: Share = 0.5
    # a run fails when it has fewer visit rows than this share of the last successful run's
    min_volume_share: Share = 0.5


class ExtractionConfig(_Strict):
    # reading a source is retried this often after a transient error (connection refused or reset, a
    # time-out, a file locked or changing while read), waiting retry_delay_s, then twice, four times
    # as long …; a data error (a missing column, an unreadable file) is never retried
    retries: StrictInt = Field(default=3, ge=0, le=20)
    retry_delay_s: float = Field(default=2.0, ge=0.0, le=600.0)


class ProcessingConfig(_Strict):
    # a full visits source with more rows than this is processed in hash partitions spilled to Parquet
    # beside the warehouse (visitmix.partitioned): memory then follows this bound, not the source's size
    max_visits_in_memory: StrictInt = Field(default=20_000_000, ge=1)


class StatusConfig(_Strict):
    # `visitmix status` exits 2 when the last successful run finished longer ago than this
    max_age_hours: float | None = Field(default=None, gt=0, le=24 * 366)


class ReportsConfig(_Strict):
    # where the HTML data-quality report of each run goes; default: reports/<warehouse name>/ next to the warehouse
    dir: Annotated[Path | None, AfterValidator(_no_nul)] = None


def _cron_expression(value: str) -> str:
    """A standard five-field cron expression that fires at least once (parsed by croniter)."""
    from croniter import CroniterBadDateError, croniter  # the parser Prefect's scheduler uses (it vendors a copy)

    fields = value.split()
    # croniter would also read a sixth field as seconds and a seventh as the year: "0 0 6 * * *" written
    # Quartz-style, seconds first, would then fire every second of midnight on the 6th. Five fields only.
    if len(fields) != 5:
        raise ValueError(
            f"'{value}' is not a five-field cron expression (minute hour day-of-month month day-of-week, "
            "e.g. '0 6 * * *' for 06:00 every day)"
        )
    # croniter's random (R) and hashed (H) fields are refused by Prefect
    if any(field.upper() in ("R", "H") for field in fields) or not croniter.is_valid(value):
        raise ValueError(f"'{value}' is not a valid cron expression (minute hour day-of-month month day-of-week, e.g. '0 6 * * *')")
    try:
        croniter(value, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"'{value}' never fires (a date that does not exist, such as 30 February)") from None
    return value


CronExpression = Annotated[str, AfterValidator(_cron_expression)]


def _deployment_name(value: str) -> str:
    if not value.strip() or any(c in value for c in "/%&<>"):
        raise ValueError(f"'{value}' cannot name a Prefect deployment: it must not be blank or contain / % & < >")
    return value


class ScheduleConfig(_Strict):
    """When `visitmix serve` runs the flow: a Prefect deployment with a cron schedule in a time zone.

    Read only by `visitmix serve` (`visitmix run` ignores it); `prefect deploy` takes its schedule
    from prefect.yaml instead.
    """

    # minute hour day-of-month month day-of-week, e.g. "0 6 * * *" = 06:00 every day, "0 6 * * 1-5" weekdays
    cron: CronExpression
    # the IANA zone the cron times are in (daylight saving followed); default [classification].timezone
    timezone: TimeZone | None = None
    # the Prefect deployment's name; the UI shows it as visit-mix/<deployment_name>
    deployment_name: Annotated[str, AfterValidator(_deployment_name)] = "visit-mix"
    # optional second schedule whose runs pass full_refresh=True to the flow (same zone); it must never
    # fire in the same minute as `cron` (exclude that day from `cron`, e.g. "0 6 * * 1-6" with "0 6 * * 0")
    full_refresh_cron: CronExpression | None = None

    @model_validator(mode="after")
    def _schedules_apart(self) -> ScheduleConfig:
        if self.full_refresh_cron is not None:
            clash = _first_common_minute(self.cron, self.full_refresh_cron)
            if clash is not None:
                raise ValueError(
                    f"schedule.cron '{self.cron}' and schedule.full_refresh_cron '{self.full_refresh_cron}' both fire "
                    f"at {clash:%H:%M} on {clash:%a %Y-%m-%d}: the second run would wait for the first on the same "
                    "warehouse; leave those times out of cron (e.g. cron = '0 6 * * 1-6' with full_refresh_cron = '0 6 * * 0')"
                )
        return self


def _first_common_minute(cron: str, other: str, horizon_days: int = 400, max_steps: int = 5000) -> datetime | None:
    """The first minute from now (local wall time) at which both cron expressions fire, looking at most
    `max_steps` firings of `other` and `horizon_days` ahead (a clash beyond them goes unnoticed)."""
    from croniter import croniter

    start = datetime.now().replace(second=0, microsecond=0)
    times = croniter(other, start)
    for _ in range(max_steps):
        moment = times.get_next(datetime)
        if (moment - start).days > horizon_days:
            return None
        if croniter.match(cron, moment):
            return moment
    return None


class Config(_Strict):
    # the folder of the config file: relative paths resolve against it and files are named relative to it
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    warehouse: WarehouseConfig = WarehouseConfig()
    reports: ReportsConfig = ReportsConfig()
    classification: ClassificationConfig = ClassificationConfig()
    target_mix: TargetMixConfig = TargetMixConfig()
    calendar: CalendarConfig = CalendarConfig()
    kpi: KpiConfig = KpiConfig()
    validation: ValidationConfig = ValidationConfig()
    extraction: ExtractionConfig = ExtractionConfig()
    processing: ProcessingConfig = ProcessingConfig()
    status: StatusConfig = StatusConfig()
    schedule: ScheduleConfig | None = None  # `visitmix serve` only; None = no schedule
    sources: SourcesConfig

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @model_validator(mode="after")
    def _known_canonical_names(self) -> Config:
        for name in ("visits", "accounts", "deals", "reps"):
            source = getattr(self.sources, name)
            if source is None:
                continue
            entity = ENTITIES[name]
            for section in ("columns", "expressions"):
                for key in getattr(source, section):
                    if key not in entity.column_names:
                        raise ValueError(
                            f"sources.{name}.{section}.{key}: '{key}' is not a canonical {name} column "
                            f"(known: {', '.join(entity.column_names)})"
                        )
            if name != "visits" and source.missing_status != "completed":
                raise ValueError(f"sources.{name}.missing_status: only visits have a status")
            for key in source.take_from_deal:
                if name != "visits" or key not in ("account_id", "rep_id"):
                    raise ValueError(f"sources.{name}.take_from_deal: only visits can take account_id / rep_id")
            if len(set(source.take_from_deal)) != len(source.take_from_deal):
                raise ValueError(f"sources.{name}.take_from_deal lists a column twice")
            both = sorted(set(source.columns) & set(source.expressions))
            if both:
                raise ValueError(f"sources.{name}: {', '.join(both)} is set in both columns and expressions; keep one")
        if self.sources.visits.take_from_deal and self.sources.deals is None:
            raise ValueError("sources.visits.take_from_deal needs a [sources.deals] source")
        return self


def _resolve(config: Config, base: Path, warehouse_base: Path) -> Config:
    def rel(path: Path, root: Path) -> Path:
        path = path.expanduser()  # "~/exports/…" is the user's home, as in a shell (not a folder named ~)
        return (path if path.is_absolute() else root / path).resolve()

    def resolved(src: SourceConfig) -> SourceConfig:
        if src.path is None:
            # a relative SQLite file is relative to the config file, like every other path
            match = re.match(r"^(sqlite(?:\+\w+)?:///)([^/].*)$", src.uri or "")
            if match and not match.group(2).startswith((":memory:", "file:")):
                return src.model_copy(update={"uri": match.group(1) + rel(Path(match.group(2)), base).as_posix()})
            return src
        path = [rel(p, base) for p in src.path] if isinstance(src.path, list) else rel(src.path, base)
        folder = (path[0] if isinstance(path, list) else path).parent
        lookups = [lk.model_copy(update={"path": [rel(p, folder) for p in lk.paths]}) for lk in src.lookups]
        return src.model_copy(update={"path": path, "lookups": lookups})

    sources = {
        name: resolved(src) for name in ("visits", "accounts", "deals", "reps") if (src := getattr(config.sources, name)) is not None
    }
    warehouse = rel(config.warehouse.path, warehouse_base)
    reports = rel(config.reports.dir, base) if config.reports.dir else default_reports_dir(warehouse)
    out = config.model_copy(
        update={
            "warehouse": config.warehouse.model_copy(update={"path": warehouse}),
            "reports": ReportsConfig(dir=reports),
            "sources": SourcesConfig(**sources),
            "schedule": _scheduled_in(config.schedule, config.classification.timezone),
        }
    )
    out._base_dir = base
    return out


def default_reports_dir(warehouse: Path) -> Path:
    """``reports/<warehouse name>/`` next to the warehouse: one folder per warehouse, so index.html is
    always that warehouse's latest run (used when ``[reports].dir`` is not set)."""
    return warehouse.parent / "reports" / warehouse.stem


def _scheduled_in(schedule: ScheduleConfig | None, default_zone: str) -> ScheduleConfig | None:
    """The schedule with its time zone filled in ([classification].timezone unless set)."""
    if schedule is None or schedule.timezone is not None:
        return schedule
    return schedule.model_copy(update={"timezone": default_zone})


def _describe(error: ValidationError, origin: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"unknown config key '{key}'")
        elif item["type"] == "missing":
            lines.append(f"missing config key '{key}'")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"config key '{key}': {message}" if key else message)
    return f"{origin}: " + "; ".join(lines)


def load_config(path: Path | None = None) -> Config:
    """Read and validate a config file; ``None`` gives the bundled sample config.

    Returns a :class:`Config` whose paths are absolute. Raises :class:`ConfigError` naming the
    file and the offending key (unknown keys, missing keys, bad values, TOML syntax).
    """
    config_path = SAMPLE_CONFIG if path is None else Path(path)
    if "\x00" in str(config_path):
        raise ConfigError(f"config file path {str(config_path)!r} contains a NUL character")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8-sig"))  # Windows Notepad may write a BOM
    except FileNotFoundError:
        raise ConfigError(f"config file '{config_path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file '{config_path}': {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file '{config_path}' is not valid TOML: {exc}") from None
    sources = raw.get("sources") if isinstance(raw, dict) else None
    if isinstance(sources, dict):
        for entity, section in sources.items():
            if isinstance(section, dict) and section.get("preset") in ("salesforce", "hubspot"):
                sources[entity] = merged_source(entity, section, has_deals=isinstance(sources.get("deals"), dict))
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(config_path))) from None
    base = config_path.resolve().parent
    # The bundled sample writes its warehouse under the current directory, not inside the package.
    warehouse_base = Path.cwd() if path is None else base
    return _resolve(config, base, warehouse_base)
