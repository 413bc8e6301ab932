"""The ``visit-mix`` flow as a Prefect deployment on the config's ``[schedule]`` (``visitmix serve``).

Prefect is imported inside the functions only, so that ``visitmix --help`` and config checks stay
fast and Prefect reads its settings after :func:`visitmix.prefect_env.configure_prefect_environment`.
Teams with a work pool deploy the same flow with ``prefect deploy`` and ``prefect.yaml`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from visitmix.config import Config, ScheduleConfig
from visitmix.errors import ConfigError

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

TAGS = ["visitmix"]
# schedule slugs: stable names for the two schedules, shown in the UI and kept across re-applies
REGULAR_SLUG = "visit-mix"
FULL_REFRESH_SLUG = "full-refresh"


class PrefectServerError(Exception):
    """No Prefect server to serve against (unset PREFECT_API_URL, or the server does not answer)."""


@dataclass(frozen=True)
class ServerInfo:
    api_url: str
    ui_url: str | None  # None for an API without a UI (unusual)


def prefect_server() -> ServerInfo:
    """The Prefect server from Prefect's settings (environment, profile, prefect.toml).

    Raises PrefectServerError when PREFECT_API_URL is unset: Prefect would then start a temporary
    server that loses the schedule and the run history when the process exits.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if not settings.api.url:
        raise PrefectServerError(
            "PREFECT_API_URL is not set: `visitmix serve` needs a running Prefect server (Prefect's temporary server "
            "would lose the schedule and the run history when it exits). Start one in another terminal with "
            "`prefect server start`, then `export PREFECT_API_URL=http://127.0.0.1:4200/api`"
        )
    return ServerInfo(api_url=settings.api.url, ui_url=settings.ui_url)


def check_server_answers(api_url: str) -> None:
    """Raises PrefectServerError when the server at `api_url` does not answer its health check."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
    if failure is not None:
        raise PrefectServerError(
            f"the Prefect server at PREFECT_API_URL={api_url} does not answer ({type(failure).__name__}): "
            "start it with `prefect server start`, or correct PREFECT_API_URL"
        )


def schedules(schedule: ScheduleConfig) -> list[Schedule]:
    """The deployment's schedules: the regular one, and the full-refresh one when configured."""
    from prefect.schedules import Cron

    out = []
    for key, cron, slug, parameters in (
        ("cron", schedule.cron, REGULAR_SLUG, {}),
        ("full_refresh_cron", schedule.full_refresh_cron, FULL_REFRESH_SLUG, {"full_refresh": True}),
    ):
        if cron is None:
            continue
        try:
            out.append(Cron(cron, timezone=schedule.timezone, parameters=parameters, slug=slug))
        except ValueError as exc:  # croniter accepts a few forms Prefect's copy of it does not (e.g. 15W)
            raise ConfigError(f"config key 'schedule.{key}': Prefect refuses '{cron}': {exc}") from None
    return out


def build_deployment(config: Config, config_path: Path, flow: Flow | None = None) -> RunnerDeployment:
    """The deployment of `flow` (default: ``visit-mix``) on `config`'s schedule, running `config_path`.

    The flow's ``config_path`` parameter is the config file's absolute path. Raises ConfigError when
    the config has no ``[schedule]``, or sets ``full_refresh_cron`` for a flow without a
    ``full_refresh`` parameter.
    """
    from prefect.types.entrypoint import EntrypointType

    if flow is None:
        from flows.visit_mix import visit_mix_flow as flow
    schedule = config.schedule
    if schedule is None:
        raise ConfigError(f"{config_path}: no [schedule] table: add one, e.g. [schedule] cron = \"0 6 * * *\"")
    if schedule.full_refresh_cron is not None and "full_refresh" not in flow.parameters.properties:
        raise ConfigError(
            f"{config_path}: config key 'schedule.full_refresh_cron': this version of the {flow.name} flow has no "
            "full_refresh parameter; remove the key"
        )
    return flow.to_deployment(
        name=schedule.deployment_name,
        schedules=schedules(schedule),
        parameters={"config_path": str(Path(config_path).resolve())},
        tags=TAGS,
        description=f"visitmix on {Path(config_path).resolve()}: classify the visits and publish the marts to {config.warehouse.path}",
        # the flow is found by module, wherever `visitmix serve` was started
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def next_run(cron: str, timezone: str, after: datetime | None = None) -> datetime:
    """When `cron` next fires in `timezone` (aware datetime), after `after` (default now)."""
    from croniter import croniter

    zone = ZoneInfo(timezone)
    start = after.astimezone(zone) if after else datetime.now(zone)
    return croniter(cron, start).get_next(datetime)


def apply(deployment: RunnerDeployment) -> UUID:
    """Create or update the deployment on the Prefect server; returns its id."""
    return deployment.apply()


def serve(deployment: RunnerDeployment) -> None:
    """Serve the deployment until Ctrl-C or SIGTERM; its schedules are paused on the way out.

    One run at a time: a run that comes due while another is still going starts after it, instead
    of waiting on the warehouse's run lock.
    """
    from prefect import serve as prefect_serve

    prefect_serve(deployment, pause_on_shutdown=True, print_starting_message=False, limit=1)
