"""Read a source from a database table or query (PostgreSQL, MySQL/MariaDB, SQLite) via SQLAlchemy.

Shape out: like :mod:`visitmix.sources` — the result's own columns, typed as the database types
them (timestamptz → aware ``Datetime``, date → ``Date``, boolean → ``Boolean``, numeric →
``Decimal``), plus ``source_file`` (``"table <name>"`` or ``"query"``) and ``source_row_number``
(1-based row of the result). Rows arrive in batches of :data:`BATCH_ROWS` through a server-side
cursor, so a large table is not held twice in memory.

Credentials never sit in the config file: the ``uri`` may reference environment variables
(``${CRM_DB_PASSWORD}``) or a Prefect Secret block (``${prefect-secret:crm-db-password}``). Error
messages show the URI with its password masked and never the password itself.
"""

from __future__ import annotations

import os
import re

import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from transforms.schema import SOURCE_FILE, SOURCE_ROW
from visitmix.config import SourceConfig
from visitmix.errors import ConfigError, SourceError
from visitmix.sources import SourceFile

BATCH_ROWS = 50_000
_REFERENCE = re.compile(r"\$\{([^}]+)\}")
# the driver each scheme uses when the URI does not name one
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def resolve_uri(name: str, uri: str) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` / ``${prefect-secret:block}`` references; returns (uri, secret values).

    Raises ConfigError naming the missing variable or block (never a value).
    """
    secrets: list[str] = []

    def expand(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("prefect-secret:"):
            block = ref.removeprefix("prefect-secret:")
            from prefect.blocks.system import Secret

            try:
                value = str(Secret.load(block).get())
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"sources.{name}.uri: Prefect Secret block '{block}' cannot be loaded: {exc}") from None
        else:
            if ref not in os.environ:
                raise ConfigError(f"sources.{name}.uri: environment variable '{ref}' is not set")
            value = os.environ[ref]
        secrets.append(value)
        return value

    return _REFERENCE.sub(expand, uri), secrets


def _url(name: str, uri: str) -> URL:
    try:
        url = make_url(uri)
    except ArgumentError:
        raise ConfigError(f"sources.{name}.uri is not a database URL (e.g. postgresql://user:${{PASSWORD}}@host/db)") from None
    return url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))


def _masked(message: str, secrets: list[str], url: URL) -> str:
    if url.password:
        secrets = [*secrets, str(url.password)]
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def read_database_source(name: str, config: SourceConfig) -> tuple[pl.DataFrame, SourceFile]:
    """Read `config.table` or `config.query` from `config.uri` in batches (lookups and `where` come after).

    Raises SourceError (one sentence: unreachable server, wrong password, missing table, bad
    query) or ConfigError (a missing variable or secret), with the password masked.
    """
    assert config.uri is not None
    raw_uri, secrets = resolve_uri(name, config.uri)
    url = _url(name, raw_uri)
    shown = url.render_as_string(hide_password=True)
    if config.table:
        parts = [p.replace('"', '""') for p in config.table.split(".")]
        sql = "select * from " + ".".join(f'"{p}"' for p in parts)
        if url.get_backend_name() in ("mysql", "mariadb"):
            sql = "select * from " + ".".join("`" + p.replace("`", "``") + "`" for p in config.table.split("."))
        label = f"table {config.table}"
    else:
        sql, label = str(config.query), "query"
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise SourceError(f"sources.{name}.uri: no driver for '{url.drivername}' ({_masked(str(exc), secrets, url)})") from None
    batches: list[pl.DataFrame] = []
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(stream_results=True, max_row_buffer=BATCH_ROWS)
            for batch in pl.read_database(text(sql), connection, iter_batches=True, batch_size=BATCH_ROWS, infer_schema_length=None):
                batches.append(batch)
    except SQLAlchemyError as exc:
        detail = _masked(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], secrets, url)
        raise SourceError(f"cannot read {name} source {label} from {shown}: {detail}") from None
    finally:
        engine.dispose()
    frame = pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame()
    frame = frame.with_columns(pl.lit(label).alias(SOURCE_FILE)).with_row_index(SOURCE_ROW, offset=1)
    frame = frame.with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    source = SourceFile(path=None, size_bytes=None, encoding=None, format="database", label=f"{shown} {label}")
    return frame, source
