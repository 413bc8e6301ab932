"""Read a source from a database table or query (PostgreSQL, MySQL/MariaDB, SQLite) via SQLAlchemy.

Shape out: like :mod:`visitmix.sources` — the result's own columns, typed as the database types
them (timestamptz → aware ``Datetime``, date → ``Date``, boolean → ``Boolean``, numeric →
``Decimal``), plus ``source_file`` (``"table <name>"`` or ``"query"``) and ``source_row_number``
(1-based row of the result). Rows arrive in batches of :data:`BATCH_ROWS` through a server-side
cursor, so a large table is not held twice in memory. An empty result keeps its columns.

Credentials: see :mod:`visitmix.uris` (substituted, percent-encoded, masked wherever shown).
Nothing waits forever: a connection, a table lock held by another session (a migration's
``ACCESS EXCLUSIVE``) and the whole statement each have a time-out, configurable per source
(``connect_timeout_s``, ``lock_timeout_s``, ``statement_timeout_s``); the message says which
one expired. A SQLite file must exist (it is opened read-only, never created).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from transforms.schema import SOURCE_FILE, SOURCE_ROW
from visitmix.config import SourceConfig
from visitmix.errors import ConfigError, SourceError
from visitmix.sources import SourceFile
from visitmix.uris import mask_uri, resolve_uri, scrub

BATCH_ROWS = 50_000
# the driver each scheme uses when the URI does not name one
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def _url(name: str, uri: str) -> URL:
    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):
        raise ConfigError(f"sources.{name}.uri is not a database URL (e.g. postgresql://user:${{PASSWORD}}@host/db)") from None
    return url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))


def _sqlite_read_only(name: str, url: URL) -> URL:
    """A SQLite URL opened read-only through SQLite's URI form: a missing file is an error, never created."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return url
    path = Path(database)
    if not path.is_file():
        raise SourceError(f"sources.{name}.uri: SQLite file '{path}' does not exist")
    return url.set(database=f"file:{path.resolve().as_posix()}?mode=ro", query={**url.query, "uri": "true"})


def _connect_args(backend: str, config: SourceConfig) -> dict:
    """Driver arguments that bound the connection, lock and statement waits."""
    if backend == "postgresql":
        options = f"-c lock_timeout={int(config.lock_timeout_s * 1000)} -c statement_timeout={int(config.statement_timeout_s * 1000)}"
        return {"connect_timeout": max(1, round(config.connect_timeout_s)), "options": options}
    if backend in ("mysql", "mariadb"):
        lock = max(1, round(config.lock_timeout_s))
        return {
            "connect_timeout": max(1, round(config.connect_timeout_s)),
            "read_timeout": max(1, round(config.statement_timeout_s)),
            "init_command": f"SET SESSION lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {lock}",
        }
    if backend == "sqlite":
        return {"timeout": config.lock_timeout_s}  # SQLite's busy timeout: how long to wait for a lock
    return {}


def _explain(name: str, label: str, shown: str, exc: BaseException, config: SourceConfig, secrets: list[str]) -> str:
    """One sentence for a failed read: which time-out expired, or the driver's first line (scrubbed)."""
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    code = getattr(original, "sqlstate", None) or getattr(getattr(original, "diag", None), "sqlstate", None)
    lowered = first.lower()
    lock_expired = code == "55P03" or "lock timeout" in lowered or "lock wait timeout" in lowered
    statement_expired = code == "57014" or "statement timeout" in lowered or "max_execution_time" in lowered or (
        "during query" in lowered and "timed out" in lowered
    )
    connect_expired = "timeout expired" in lowered or ("timed out" in lowered and not statement_expired)
    if lock_expired:
        why = (f"waited lock_timeout_s = {config.lock_timeout_s:g} s for a lock another session holds on the table "
               f"(a migration?); retry later or raise sources.{name}.lock_timeout_s")
    elif statement_expired:
        why = f"the query ran longer than statement_timeout_s = {config.statement_timeout_s:g} s; raise sources.{name}.statement_timeout_s"
    elif connect_expired:
        why = f"no connection within connect_timeout_s = {config.connect_timeout_s:g} s; check the host, or raise sources.{name}.connect_timeout_s"
    else:
        why = first
    return scrub(f"cannot read {name} source {label} from {shown}: {why}", secrets)


def read_database_source(name: str, config: SourceConfig) -> tuple[pl.DataFrame, SourceFile]:
    """Read `config.table` or `config.query` from `config.uri` in batches (lookups and `where` come after).

    Raises SourceError (one sentence: unreachable server, wrong password, missing table, bad
    query, a time-out — naming which) or ConfigError (a missing variable or secret), with every
    credential masked.
    """
    assert config.uri is not None
    raw_uri, secrets = resolve_uri(name, config.uri)
    url = _url(name, raw_uri)
    shown = scrub(mask_uri(raw_uri), secrets)
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = _sqlite_read_only(name, url)
    if config.table:
        parts = config.table.split(".")
        if backend in ("mysql", "mariadb"):
            sql = "select * from " + ".".join("`" + p.replace("`", "``") + "`" for p in parts)
        else:
            sql = "select * from " + ".".join('"' + p.replace('"', '""') + '"' for p in parts)
        label = f"table {config.table}"
    else:
        sql, label = str(config.query), "query"
    try:
        engine = create_engine(url, connect_args=_connect_args(backend, config))
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise SourceError(scrub(f"sources.{name}.uri: no driver for '{url.drivername}' ({exc})", secrets)) from None
    batches: list[pl.DataFrame] = []
    try:
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True, max_row_buffer=BATCH_ROWS).execute(text(sql))
            columns = list(result.keys())
            while rows := result.fetchmany(BATCH_ROWS):
                batches.append(pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row", infer_schema_length=None))
    except SQLAlchemyError as exc:
        raise SourceError(_explain(name, label, shown, exc, config, secrets)) from None
    except Exception as exc:  # noqa: BLE001 - a driver's own error (e.g. a socket time-out) still gets one sentence
        raise SourceError(_explain(name, label, shown, exc, config, secrets)) from None
    finally:
        engine.dispose()
    if batches:
        frame = pl.concat(batches, how="diagonal_relaxed")
    else:  # no rows (no deal won yet): the columns still exist, as text
        frame = pl.DataFrame(schema={c: pl.String for c in columns})
    frame = frame.with_columns(pl.lit(label).alias(SOURCE_FILE)).with_row_index(SOURCE_ROW, offset=1)
    frame = frame.with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    source = SourceFile(path=None, size_bytes=None, encoding=None, format="database", label=f"{shown} {label}")
    return frame, source
