"""The ``visitmix`` command line (Typer)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from visitmix.prefect_env import configure_prefect_environment

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Which kind of visits each sales rep makes, against a target mix.")


class _NoFailureEcho(logging.Filter):
    """Drop Prefect's own failure lines (with tracebacks): the CLI prints the one clear message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _quiet_prefect_failures() -> None:
    """On every handler Prefect's loggers (and the root) use, incl. its local server's services."""
    names = ["", *[n for n in logging.root.manager.loggerDict if n.startswith("prefect")]]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_NoFailureEcho())


@app.callback()
def main() -> None:
    """visitmix: classify visits as New Prospect, Hot Prospect or Existing Customer and publish the mix."""


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config; without it the bundled sample in data/sample/ is used.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's failure logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's progress logs (INFO).")] = False,
) -> None:
    """Run the visit-mix flow: read, validate, classify, publish the DuckDB marts."""
    configure_prefect_environment(log_level="INFO" if verbose or debug else "WARNING")
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError

    try:  # a bad config fails at once, before Prefect starts
        checked = load_config(config)
        for name in ("visits", "accounts", "deals", "reps"):
            source = getattr(checked.sources, name)
            if source is not None and source.uri is not None and "${prefect-secret:" not in source.uri:
                from visitmix.databases import resolve_uri

                resolve_uri(name, source.uri)  # a missing environment variable is a config error
        from visitmix.errors import WarehouseLockedError
        from visitmix.warehouse import check_existing_warehouse

        try:
            check_existing_warehouse(checked.warehouse.path)  # not a visitmix file: stop before Prefect starts
        except WarehouseLockedError:
            pass  # may be released while the run works: the publish step retries
    except VisitmixError as exc:
        typer.secho(f"visitmix: error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    typer.echo("visitmix: running the visit-mix flow (a local Prefect server starts first) …", err=True)
    from flows.visit_mix import visit_mix_flow

    if not debug:
        _quiet_prefect_failures()
    try:
        summary = visit_mix_flow(str(config) if config else None)
    except VisitmixError as exc:
        if debug:
            raise
        typer.secho(f"visitmix: error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    except Exception as exc:  # noqa: BLE001 - an unexpected failure still gets one clear line
        if debug:
            raise
        typer.secho(f"visitmix: unexpected error ({type(exc).__name__}): {exc} — rerun with --debug for details", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None

    total = sum(summary.mix.values()) or 1
    typer.echo("")
    typer.echo(f"visitmix run {summary.run_id} succeeded")
    typer.echo(f"  visit rows read      {summary.rows_read:>8}")
    if summary.rows_in_scope != summary.rows_read:
        typer.echo(f"  in scope (where)     {summary.rows_in_scope:>8}")
    typer.echo(f"  quarantined          {summary.rows_quarantined:>8}")
    typer.echo(f"  classified           {summary.rows_classified:>8}")
    for visit_type, count in summary.mix.items():
        typer.echo(f"    {visit_type:<19}{count:>8}  ({count / total:.1%})")
    for warning in summary.warnings:
        typer.echo(f"  warning: {warning}")
    typer.echo(f"  warehouse            {summary.warehouse}")
    typer.echo(f"  data-quality report  {summary.report}")
    typer.echo("  marts: " + ", ".join(f"marts.{k} ({v} rows)" for k, v in summary.mart_rows.items()))


@app.command("dq-report")
def dq_report(
    run_id: Annotated[str | None, typer.Option("--run-id", help="A run id from audit.pipeline_run; default: the latest run.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The config whose warehouse to read; default: the bundled sample's.")] = None,
    warehouse: Annotated[Path | None, typer.Option("--warehouse", help="Read this warehouse file instead of the config's.")] = None,
) -> None:
    """Print the data-quality summary of the last (or a given) run: counts, failed checks, quarantine by reason."""
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError
    from visitmix.report import load_report, to_markdown

    try:
        path = warehouse or load_config(config).warehouse.path
        typer.echo(to_markdown(load_report(path, run_id)), nl=False)
    except VisitmixError as exc:
        typer.secho(f"visitmix: error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
