"""The ``visitmix`` command line (Typer)."""

from __future__ import annotations

import os

# Polars allocates through jemalloc, which keeps freed pages for seconds by default: on ten million
# rows each step's garbage then stacks on the next step's peak. Returning them within 0.3 s keeps
# the resident set near what is live (set before Polars loads; a value in the environment wins).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:300,muzzy_decay_ms:0")

import atexit
import gc
import logging
import signal
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from visitmix.export import export_command
from visitmix.prefect_env import ad_hoc_run, configure_prefect_environment


def _no_collection_at_exit() -> None:
    """Skip the interpreter's last cyclic garbage collection: after a run it walks every object
    Prefect, GX's pandas and Polars left (0.35 s of a 6 s run on a million visits). Files and
    connections are closed explicitly before; registered first, this runs after every other exit
    handler (Prefect's log and event flushes)."""
    gc.disable()
    gc.freeze()


atexit.register(_no_collection_at_exit)

# rich_markup_mode=None: plain help text, and boolean flags without a `<bool>` placeholder
app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None,
    help="Which kind of visits each sales rep makes, against a target mix.",
)


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


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"visitmix {version('visitmix')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """visitmix: classify visits as New Prospect, Hot Prospect or Existing Customer and publish the mix."""


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001 - the signal module's handler signature
    from visitmix import termination

    termination.request("SIGTERM")  # raises, unless the new marts are already being swapped in


def _prefect_start_failure(exc: BaseException) -> str | None:
    """A message for Prefect's temporary server not starting in time, else None."""
    text = str(exc)
    if isinstance(exc, RuntimeError) and "timed out" in text.lower() and ("server" in text.lower() or "api" in text.lower()):
        return (
            "Prefect's temporary local server did not start in time (a slow or busy machine). Run again; or raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (now "
            f"{os.environ.get('PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS', '?')} s); or start a Prefect server "
            "once (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api so runs reuse it"
        )
    return None


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"visitmix: error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config; without it the bundled sample in data/sample/ is used.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's failure logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's progress logs (INFO).")] = False,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Read incremental sources whole and rebuild their kept state (drops rows deleted at the source).")
    ] = False,
) -> None:
    """Run the visit-mix flow: read, validate, classify, publish the DuckDB marts."""
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError

    try:  # a bad config fails at once, before Prefect starts; it cannot be recorded (no warehouse yet)
        note = configure_prefect_environment(console_level="INFO" if verbose or debug else "WARNING")
        checked = load_config(config)
    except VisitmixError as exc:
        _fail(str(exc))
    if note:
        typer.echo(f"visitmix: {note}", err=True)
    from datetime import UTC, datetime

    from visitmix.audit import RunRecord, new_run_id
    from visitmix.failures import failure_message, record_failure, recorded_runs, stop_signal
    from visitmix.paths import SAMPLE_CONFIG
    from visitmix.preflight import preflight
    from visitmix.runlock import RunGuard

    from visitmix import termination

    run_id = new_run_id(datetime.now(UTC))
    termination.reset()
    previous_handler = signal.signal(signal.SIGTERM, termination.import_safe(_on_sigterm))
    try:
        preflight(checked)  # every check that needs no data, before Prefect starts
        from visitmix import gx_worker

        gx_worker.start()  # GX takes seconds to import: in the background while Prefect starts
        typer.echo("visitmix: running the visit-mix flow …", err=True)
        from flows.visit_mix import visit_mix_flow
        from visitmix import progress

        progress.enable()
        if not debug:
            _quiet_prefect_failures()
        with ad_hoc_run():
            summary = visit_mix_flow(str(config) if config else None, run_id=run_id, full_refresh=full_refresh)
        termination.check()  # a request swallowed by library code after the last step
    except BaseException as exc:  # noqa: BLE001 - every failure ends with one clear line and an audit record
        if isinstance(exc, typer.Exit | SystemExit):
            raise
        if termination.published():  # the marts went live and the run is recorded as succeeded
            signal_name = stop_signal(exc)
            after = (f"{signal_name} arrived" if signal_name else f"{failure_message(exc)} happened")
            _fail(f"run {run_id} published: its marts are live and recorded as succeeded; then {after} before the run "
                  "ended, so its data-quality report may be missing (visitmix dq-report reads it from the warehouse)",
                  code=143 if signal_name == "SIGTERM" else 1)
        if run_id not in recorded_runs:
            record = RunRecord.start(config or SAMPLE_CONFIG, None, run_id, checked)
            try:
                with RunGuard(checked.warehouse.path, run_id, timeout_s=5) as guard:
                    record.dead_runs = guard.dead_runs
                    record_failure(checked.warehouse.path, checked.reports.dir, record, exc)
            except (VisitmixError, OSError):
                pass  # the warehouse cannot be written: the message below still says what failed
        if debug:  # the traceback, then the same one-line message and exit code
            traceback.print_exception(exc)
        message = _prefect_start_failure(exc) or failure_message(exc)
        if not debug and not isinstance(exc, VisitmixError) and not stop_signal(exc) and not message.endswith("--debug for details"):
            message += " — rerun with --debug for details"
        _fail(message, code=143 if stop_signal(exc) == "SIGTERM" else 1)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        stop_request = termination.requested()
        termination.reset()  # nothing of this command's state reaches the next one in this process
        from visitmix import progress

        progress.disable()

    total = sum(summary.mix.values()) or 1
    typer.echo("")
    typer.echo(f"visitmix run {summary.run_id} succeeded")
    if stop_request:
        typer.echo(f"  {stop_request} arrived while the run was publishing: the new marts are live; exit code 143")
    typer.echo(f"  visit rows read      {summary.rows_read:>8}")
    if summary.rows_in_scope != summary.rows_read:
        typer.echo(f"  in scope             {summary.rows_in_scope:>8}  (less blank rows, footer rows and rows the source's where leaves out)")
    typer.echo(f"  quarantined          {summary.rows_quarantined:>8}")
    typer.echo(f"  classified           {summary.rows_classified:>8}")
    for visit_type, count in summary.mix.items():
        typer.echo(f"    {visit_type:<19}{count:>8}  ({count / total:.1%})")
    for warning in summary.warnings:
        typer.echo(f"  warning: {warning}")
    typer.echo(f"  warehouse            {summary.warehouse}")
    typer.echo(f"  data-quality report  {summary.report}")
    typer.echo("  marts: " + ", ".join(f"marts.{k} ({v} rows)" for k, v in summary.mart_rows.items()))
    if stop_request:
        raise typer.Exit(code=143)


def _prefect_program() -> str:
    """How to call this installation's `prefect` from a shell: ``prefect`` when the shell finds it
    (an activated virtual environment), else its full path (``.venv/bin/prefect`` after `make run`)."""
    import shutil

    own = Path(sys.executable).parent / "prefect"
    found = shutil.which("prefect")
    if not own.exists() or (found and Path(found).resolve() == own.resolve()):
        return "prefect"
    return str(own)


@app.command()
def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config with a [schedule] table; default: the bundled sample (which has none).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Serve the visit-mix flow on the config's [schedule] against a running Prefect server, until Ctrl-C."""
    from visitmix import deployment
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError
    from visitmix.paths import SAMPLE_CONFIG
    from visitmix.preflight import preflight

    config_path = config or SAMPLE_CONFIG
    try:  # every check before anything talks to Prefect: a mistake fails in a second, not after a server start
        note = configure_prefect_environment(console_level="INFO")  # the runs' INFO logs go to the Prefect UI
        checked = load_config(config)
        if checked.schedule is None:
            _fail(
                f"{config_path} has no [schedule] table, so there is nothing to serve: add one "
                '(e.g. [schedule] with cron = "0 6 * * *"; timezone defaults to [classification].timezone) '
                "and pass that file with --config"
            )
        server = deployment.prefect_server()
        preflight(checked)
        built = deployment.build_deployment(checked, config_path)
        deployment.check_server_answers(server.api_url)
        deployment_id = deployment.apply(built)
    except typer.Exit:
        raise
    except (VisitmixError, deployment.PrefectServerError) as exc:
        if debug:
            raise
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. the server refused the deployment: one line, not a traceback
        if debug:
            raise
        _fail(f"could not create the deployment on the Prefect server: {type(exc).__name__}: {exc} — rerun with --debug for details")
    if note:
        typer.echo(f"visitmix: {note}", err=True)
    schedule = checked.schedule
    typer.echo(f"visitmix: serving deployment {built.flow_name}/{built.name} (config {config_path.resolve()})")
    nxt = deployment.next_run(schedule.cron, schedule.timezone)
    typer.echo(f"  schedule        {schedule.cron} in {schedule.timezone}; next run {nxt:%Y-%m-%d %H:%M %Z}")
    if schedule.full_refresh_cron:
        nxt = deployment.next_run(schedule.full_refresh_cron, schedule.timezone)
        typer.echo(f"  full refresh    {schedule.full_refresh_cron} in {schedule.timezone}; next run {nxt:%Y-%m-%d %H:%M %Z}")
    typer.echo(f"  Prefect server  {server.api_url}")
    if server.ui_url:
        typer.echo(f"  runs and logs   {server.ui_url}/deployments/deployment/{deployment_id}")
    typer.echo(f"  run one now     {_prefect_program()} deployment run '{built.flow_name}/{built.name}'")
    typer.echo("  stop            Ctrl-C or SIGTERM; the schedule is paused until you serve again")
    deployment.serve(built)
    typer.echo("visitmix: stopped serving; the deployment's schedule is paused")


@app.command("dq-report")
def dq_report(
    run_id: Annotated[str | None, typer.Option("--run-id", help="A run id from audit.pipeline_run; default: the latest run.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The config whose warehouse to read; default: the bundled sample's.")] = None,
    warehouse: Annotated[Path | None, typer.Option("--warehouse", help="Read this warehouse file instead of the config's.")] = None,
) -> None:
    """Print the data-quality report of the last (or a given) run: summary, bounds, files, checks, quarantine.

    Exit code 0 whenever a report was printed (a failed run's too), 1 when none can be.
    """
    from visitmix.config import load_config
    from visitmix.errors import VisitmixError
    from visitmix.report import console_for_output, load_report, print_report

    try:
        path = warehouse.expanduser() if warehouse else load_config(config).warehouse.path
        report = load_report(path, run_id)
    except VisitmixError as exc:
        _fail(str(exc))
    print_report(report, console_for_output())


app.command("export")(export_command)  # visitmix/export.py


class ReportGrain(str, Enum):
    week = "week"
    month = "month"
    quarter = "quarter"


@app.command()
def report(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The config whose warehouse, reports folder and time zone to use; default: the bundled sample's.")] = None,
    warehouse: Annotated[Path | None, typer.Option("--warehouse", help="Read this warehouse file instead of the config's (without --config: times in the zone its last run recorded, reports folder next to it).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The HTML file to write; default: visit-mix.html in the reports folder ([reports].dir).")] = None,
    grain: Annotated[ReportGrain, typer.Option("--grain", help="Chart weeks, months or quarters.")] = ReportGrain.month,
    periods: Annotated[int | None, typer.Option("--periods", min=1, max=104, help="How many complete periods to chart; default 12 weeks, 6 months or 4 quarters.")] = None,
    reps: Annotated[int, typer.Option("--reps", min=1, max=1000, help="How many reps to list, furthest from their target first.")] = 10,
) -> None:
    """Write the visit-mix page for sales leaders from the published marts: one HTML file that opens offline."""
    from visitmix.config import default_reports_dir, load_config
    from visitmix.errors import VisitmixError
    from visitmix.mix_report import write_mix_report

    try:
        checked = load_config(config) if warehouse is None or config is not None else None
        path = warehouse.expanduser() if warehouse else checked.warehouse.path  # type: ignore[union-attr]
        reports_dir = checked.reports.dir if checked else default_reports_dir(path)
        written = write_mix_report(
            path, out.expanduser() if out else reports_dir / "visit-mix.html", reports_dir, checked.classification.timezone if checked else None,
            grain.value, periods, reps,
        )
    except VisitmixError as exc:
        _fail(str(exc))
    typer.echo(str(written))


class _StatusCommand(typer.core.TyperCommand):
    """`status` is read by monitoring: a mistyped option exits 3 ("unknown"), not Click's 2, which
    status uses for "the marts are stale"."""

    def make_context(self, info_name, args, parent=None, **extra):  # noqa: ANN001, ANN201 - Click's signature
        try:
            return super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:  # Typer's usage errors (a bad option or value) derive from it
            if getattr(exc, "exit_code", None) == 2:
                exc.exit_code = 3  # visitmix.status.UNREADABLE
            raise


@app.command(cls=_StatusCommand)
def status(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The config whose warehouse to read; default: the bundled sample's.")] = None,
    warehouse: Annotated[Path | None, typer.Option("--warehouse", help="Read this warehouse file instead of the config's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many recent runs to list.")] = 10,
) -> None:
    """List recent runs; exit 1 when the last run failed, 2 when the marts are older than [status] max_age_hours, 3 when the warehouse cannot be read."""
    from rich.console import Console
    from rich.table import Table

    from visitmix.config import load_config
    from visitmix.errors import VisitmixError
    from visitmix.status import UNREADABLE, health, read_status

    try:
        checked = load_config(config) if warehouse is None or config is not None else None
        path = warehouse.expanduser() if warehouse else checked.warehouse.path  # type: ignore[union-attr]
        current = read_status(path, limit)
    except VisitmixError as exc:
        _fail(str(exc), UNREADABLE)  # nothing is known about the runs: not "the last run failed"
    table = Table(title=f"visitmix runs — {path}", title_justify="left")
    for name, justify in (("run", "left"), ("status", "left"), ("started (UTC)", "left"), ("duration", "right"), ("mode", "left"),
                          ("rows in", "right"), ("quarantined", "right"), ("classified", "right"), ("watermark", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in current.runs:
        table.add_row(
            run.run_id, run.status, f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            f"{run.duration_s:.1f} s" if run.duration_s is not None else "",
            run.run_mode, *(f"{n:,}" if n is not None else "" for n in (run.rows_read, run.rows_quarantined, run.rows_classified)),
            run.watermark or "",
        )
    console = Console(width=200 if not sys.stdout.isatty() else None)
    console.print(table)
    for run_id in current.running:
        if run_id not in current.killed:
            console.print(f"run {run_id} is in progress")
    code, line = health(current, checked.status.max_age_hours if checked else None)
    console.print(line)
    raise typer.Exit(code=code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
