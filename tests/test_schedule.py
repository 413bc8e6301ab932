"""Scheduling: the [schedule] config, the served deployment as Prefect stores it, `visitmix serve`'s
refusals, and prefect.yaml for `prefect deploy`. Nothing here waits for the clock: the server is
asked to lay out the runs a schedule makes from a fixed instant."""

from __future__ import annotations

import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import write_csv
from scenario import VISIT_HEADER
from visitmix.config import load_config
from visitmix.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

SOURCES = """
[sources.visits]
path = "exports/visits.csv"
[sources.visits.columns]
visit_id = "Id"
rep_id = "Rep"
account_id = "Account"
visit_start = "Start"
"""


def _config(tmp_path: Path, schedule: str, classification: str = "") -> Path:
    write_csv(tmp_path / "exports" / "visits.csv", VISIT_HEADER, [["V1", "R1", "A1", "2025-01-05 10:00", "", "", ""]])
    path = tmp_path / "visitmix.toml"
    path.write_text(classification + schedule + SOURCES, encoding="utf-8")
    return path


# --- the [schedule] table -------------------------------------------------------------------------


def test_schedule_defaults_to_the_classification_zone(tmp_path: Path):
    path = _config(tmp_path, '[schedule]\ncron = "0 6 * * *"\n', '[classification]\ntimezone = "Europe/Berlin"\n')
    schedule = load_config(path).schedule
    assert (schedule.cron, schedule.timezone, schedule.deployment_name, schedule.full_refresh_cron) == (
        "0 6 * * *",
        "Europe/Berlin",
        "visit-mix",
        None,
    )


def test_schedule_keys_as_given(tmp_path: Path):
    text = '[schedule]\ncron = "30 5 * * 1-6"\ntimezone = "America/New_York"\ndeployment_name = "nightly"\nfull_refresh_cron = "0 2 * * 0"\n'
    schedule = load_config(_config(tmp_path, text)).schedule
    assert (schedule.cron, schedule.timezone, schedule.deployment_name, schedule.full_refresh_cron) == (
        "30 5 * * 1-6",
        "America/New_York",
        "nightly",
        "0 2 * * 0",
    )


def test_no_schedule_table_is_none(tmp_path: Path):
    assert load_config(_config(tmp_path, "")).schedule is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('cron = "0 6 * *"', "config key 'schedule.cron': '0 6 * *' is not a five-field cron expression"),
        ('cron = "0 0 6 * * *"', "config key 'schedule.cron': '0 0 6 * * *' is not a five-field cron expression"),
        ('cron = "0 25 * * *"', "config key 'schedule.cron': '0 25 * * *' is not a valid cron expression"),
        ('cron = "every day"', "config key 'schedule.cron': 'every day' is not a five-field cron expression"),
        ('cron = "R 6 * * *"', "config key 'schedule.cron': 'R 6 * * *' is not a valid cron expression"),
        ('cron = "0 6 30 2 *"', "config key 'schedule.cron': '0 6 30 2 *' never fires"),
        ('cron = "0 6 * * *"\ntimezone = "Mars/Olympus"', "config key 'schedule.timezone': 'Mars/Olympus' is not an IANA time zone name"),
        ('timezone = "UTC"', "missing config key 'schedule.cron'"),
        ('cron = "0 6 * * *"\ncorn = "x"', "unknown config key 'schedule.corn'"),
        ('cron = "0 6 * * *"\ndeployment_name = "a/b"', "config key 'schedule.deployment_name': 'a/b' cannot name a Prefect deployment"),
        ('cron = "0 6 * * *"\nfull_refresh_cron = "0 6 * *"', "config key 'schedule.full_refresh_cron': '0 6 * *' is not a five-field"),
        (
            'cron = "0 6 * * *"\nfull_refresh_cron = "0 6 * * 0"',
            "config key 'schedule': schedule.cron '0 6 * * *' and schedule.full_refresh_cron '0 6 * * 0' both fire at 06:00 on Sun ",
        ),
    ],
)
def test_bad_schedule_names_the_key(tmp_path: Path, schedule: str, message: str):
    path = _config(tmp_path, f"[schedule]\n{schedule}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_next_run_follows_the_zone():
    from visitmix.deployment import next_run

    # 2030-03-31 is the day central Europe moves to summer time
    assert next_run("0 6 * * *", "Europe/Berlin", datetime(2030, 3, 30, 12, tzinfo=UTC)).isoformat() == "2030-03-31T06:00:00+02:00"


# --- the deployment, through Prefect's API ----------------------------------------------------------


def _flow_with_full_refresh():
    from prefect import flow

    @flow(name="visit-mix-with-full-refresh")
    def stand_in(config_path: str | None = None, run_id: str | None = None, full_refresh: bool = False) -> None:
        """Stands in for the visit-mix flow once it has its full_refresh parameter."""

    return stand_in


def _flow_without_full_refresh():
    from prefect import flow

    @flow(name="visit-mix-without-full-refresh")
    def stand_in(config_path: str | None = None, run_id: str | None = None) -> None:
        """A flow without a full_refresh parameter."""

    return stand_in


@pytest.fixture
def applied(prefect_harness):
    """Apply deployments through Prefect's API; each is deleted (with its scheduled runs) afterwards."""
    from prefect.client.orchestration import get_client

    ids = []

    def apply(deployment):
        from visitmix.deployment import apply as apply_deployment

        ids.append(apply_deployment(deployment))
        return ids[-1]

    yield apply
    with get_client(sync_client=True) as client:
        for deployment_id in dict.fromkeys(ids):  # applying again updates the same deployment
            client.delete_deployment(deployment_id)


def _runs_laid_out(deployment_id, start: datetime, count: int) -> list[tuple[str, dict]]:
    """Ask the server to create the next `count` runs of each schedule from `start` (REST: POST
    /deployments/{id}/schedule); returns (expected start in UTC, parameters) of the first `count`
    of them all, in time order."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import get_current_settings

    for attempt in range(6):  # a busy server answers 503 (its database locked), asking to retry, as Prefect's client does
        response = httpx.post(
            f"{get_current_settings().api.url}/deployments/{deployment_id}/schedule",
            json={"start_time": start.isoformat(), "min_runs": count, "max_runs": count},
            timeout=30,
        )
        if response.status_code != 503:
            break
        time.sleep(0.5 * 2**attempt)
    response.raise_for_status()
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    laid_out = [(r.expected_start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), r.parameters) for r in runs if r.expected_start_time >= start]
    return sorted(laid_out, key=lambda item: item[0])[:count]


def test_deployment_as_stored_by_prefect(tmp_path: Path, applied):
    from prefect.client.orchestration import get_client

    from flows.visit_mix import visit_mix_flow
    from visitmix.deployment import build_deployment

    path = _config(tmp_path, '[schedule]\ncron = "0 6 * * *"\n', '[classification]\ntimezone = "Europe/Berlin"\n')
    deployment_id = applied(build_deployment(load_config(path), path))

    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
        flow_name = client.read_flow(stored.flow_id).name
    assert (flow_name, stored.name) == (visit_mix_flow.name, "visit-mix") == ("visit-mix", "visit-mix")
    assert stored.parameters == {"config_path": str(path.resolve())}
    assert stored.paused is False
    assert stored.tags == ["visitmix"]
    assert stored.entrypoint == "flows.visit_mix.visit_mix_flow"
    assert stored.enforce_parameter_schema is True
    assert [(s.schedule.cron, s.schedule.timezone, s.schedule.day_or, s.active, s.slug, s.parameters) for s in stored.schedules] == [
        ("0 6 * * *", "Europe/Berlin", True, True, "visit-mix", {})
    ]
    # the server lays out runs at 06:00 Berlin time across the switch to summer time (2030-03-31)
    assert _runs_laid_out(deployment_id, datetime(2030, 3, 30, tzinfo=UTC), 3) == [
        ("2030-03-30 05:00", {"config_path": str(path.resolve())}),
        ("2030-03-31 04:00", {"config_path": str(path.resolve())}),
        ("2030-04-01 04:00", {"config_path": str(path.resolve())}),
    ]


def test_serving_again_resumes_a_paused_deployment(tmp_path: Path, applied):
    """Stopping `visitmix serve` pauses the deployment; serving again (a new apply) un-pauses it."""
    from prefect.client.orchestration import get_client

    from visitmix.deployment import build_deployment

    path = _config(tmp_path, '[schedule]\ncron = "15 7 * * 1-5"\ndeployment_name = "resumed"\n')
    deployment_id = applied(build_deployment(load_config(path), path))
    with get_client(sync_client=True) as client:
        client.pause_deployment(deployment_id)
        assert client.read_deployment(deployment_id).paused is True
    assert applied(build_deployment(load_config(path), path)) == deployment_id
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
    assert stored.paused is False
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in stored.schedules] == [("15 7 * * 1-5", "Asia/Bangkok", True)]


def test_full_refresh_schedule_passes_full_refresh(tmp_path: Path, applied):
    from prefect.client.orchestration import get_client

    from visitmix.deployment import build_deployment

    text = '[schedule]\ncron = "0 6 * * 1-6"\nfull_refresh_cron = "0 6 * * 0"\ntimezone = "UTC"\ndeployment_name = "with-full-refresh"\n'
    path = _config(tmp_path, text)
    deployment_id = applied(build_deployment(load_config(path), path, flow=_flow_with_full_refresh()))
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
    assert sorted((s.slug, s.schedule.cron, s.schedule.timezone, s.active, s.parameters) for s in stored.schedules) == [
        ("full-refresh", "0 6 * * 0", "UTC", True, {"full_refresh": True}),
        ("visit-mix", "0 6 * * 1-6", "UTC", True, {}),
    ]
    assert stored.parameters == {"config_path": str(path.resolve())}
    # 2030-03-30 is a Saturday: Saturday's run is a regular one, Sunday's a full refresh
    regular, full = {"config_path": str(path.resolve())}, {"config_path": str(path.resolve()), "full_refresh": True}
    assert _runs_laid_out(deployment_id, datetime(2030, 3, 30, tzinfo=UTC), 3) == [
        ("2030-03-30 06:00", regular),
        ("2030-03-31 06:00", full),
        ("2030-04-01 06:00", regular),
    ]


def test_full_refresh_schedule_needs_the_flow_parameter(tmp_path: Path):
    from visitmix.deployment import build_deployment

    path = _config(tmp_path, '[schedule]\ncron = "0 6 * * 1-6"\nfull_refresh_cron = "0 6 * * 0"\n')
    with pytest.raises(ConfigError) as info:
        build_deployment(load_config(path), path, flow=_flow_without_full_refresh())
    assert str(info.value) == (
        f"{path}: config key 'schedule.full_refresh_cron': this version of the visit-mix-without-full-refresh flow "
        "has no full_refresh parameter; remove the key"
    )


def test_a_cron_prefect_refuses_is_a_config_error(tmp_path: Path):
    """croniter accepts the nearest-weekday form (15W); the copy of it inside Prefect does not."""
    from visitmix.deployment import build_deployment

    path = _config(tmp_path, '[schedule]\ncron = "0 6 15W * *"\n')
    with pytest.raises(ConfigError) as info:
        build_deployment(load_config(path), path)
    assert str(info.value) == "config key 'schedule.cron': Prefect refuses '0 6 15W * *': Invalid cron string: \"0 6 15W * *\""


# --- visitmix serve ----------------------------------------------------------------------------------


@pytest.fixture
def no_server_start(monkeypatch):
    """Fails the test if anything starts Prefect's temporary server or begins serving."""
    from prefect.server.api.server import SubprocessASGIServer

    from visitmix import deployment

    started = []
    monkeypatch.setattr(SubprocessASGIServer, "start", lambda self, *a, **k: started.append("server"))
    monkeypatch.setattr(deployment, "serve", lambda built: started.append("serve"))
    return started


def test_serve_without_schedule(tmp_path: Path, no_server_start):
    from visitmix.cli import app

    path = _config(tmp_path, "")
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"visitmix: error: {path} has no [schedule] table, so there is nothing to serve: add one "
        '(e.g. [schedule] with cron = "0 6 * * *"; timezone defaults to [classification].timezone) '
        "and pass that file with --config\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert no_server_start == []
    assert not (tmp_path / "warehouse").exists()  # stopped before the pre-flight


def test_serve_without_prefect_api_url(tmp_path: Path, no_server_start, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from visitmix.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    path = _config(tmp_path, '[schedule]\ncron = "0 6 * * *"\n')
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # also when the test harness set one
        result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        "visitmix: error: PREFECT_API_URL is not set: `visitmix serve` needs a running Prefect server (Prefect's "
        "temporary server would lose the schedule and the run history when it exits). Start one in another terminal "
        "with `prefect server start`, then `export PREFECT_API_URL=http://127.0.0.1:4200/api`\n"
    )
    assert no_server_start == []
    assert not (tmp_path / "warehouse").exists()


def test_serve_prints_where_to_see_the_runs(tmp_path: Path, no_server_start, applied, monkeypatch: pytest.MonkeyPatch):
    """Against the test harness's server, with serving itself replaced by a stand-in that returns.
    The virtual environment is not activated (its bin/ not on PATH): `prefect` is shown with its path."""
    monkeypatch.setenv("PATH", "/nonexistent")
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    from visitmix.cli import app

    path = _config(tmp_path, '[schedule]\ncron = "0 6 * * *"\ntimezone = "UTC"\ndeployment_name = "cli"\n')
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        stored = client.read_deployment_by_name("visit-mix/cli")
        client.delete_deployment(stored.id)
    settings = get_current_settings()
    lines = result.output.splitlines()
    assert lines[0] == f"visitmix: serving deployment visit-mix/cli (config {path.resolve()})"
    assert lines[1].startswith("  schedule        0 6 * * * in UTC; next run ") and lines[1].endswith(" 06:00 UTC")
    assert lines[2:] == [
        f"  Prefect server  {settings.api.url}",
        f"  runs and logs   {settings.ui_url}/deployments/deployment/{stored.id}",
        f"  run one now     {Path(sys.executable).parent / 'prefect'} deployment run 'visit-mix/cli'",  # not on PATH: its full path
        "  stop            Ctrl-C or SIGTERM; the schedule is paused until you serve again",
        "visitmix: stopped serving; the deployment's schedule is paused",
    ]
    assert no_server_start == ["serve"]
    assert (tmp_path / "warehouse").is_dir()  # the pre-flight ran (it creates the warehouse folder)


# --- prefect.yaml ------------------------------------------------------------------------------------


def test_prefect_yaml_deploys_the_flow_on_its_schedule():
    from prefect.cli.deploy._models import PrefectYamlModel, RawScheduleConfig
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.flows import load_flow_from_entrypoint

    from flows.visit_mix import visit_mix_flow
    from visitmix.config import _cron_expression

    raw = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    PrefectYamlModel.model_validate(raw)  # what `prefect deploy` validates the file with
    (spec,) = raw["deployments"]
    assert (spec["name"], spec["entrypoint"], spec["work_pool"]["name"]) == ("visit-mix", "flows/visit_mix.py:visit_mix_flow", "visitmix")

    # the entrypoint is the visit-mix flow, by file (as `prefect deploy` loads it) and as a module
    file_part, name = spec["entrypoint"].split(":")
    assert (ROOT / file_part).is_file()
    assert getattr(importlib.import_module(file_part.removesuffix(".py").replace("/", ".")), name) is visit_mix_flow
    assert load_flow_from_entrypoint(f"{ROOT / file_part}:{name}").name == "visit-mix"
    assert spec["parameters"] == {"config_path": None}
    visit_mix_flow.validate_parameters(spec["parameters"])

    (schedule,) = spec["schedules"]
    RawScheduleConfig.model_validate(schedule)
    created = DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(schedule))
    assert (created.schedule.cron, created.schedule.timezone, created.active, created.slug, created.parameters) == (
        "0 6 * * *",
        "Asia/Bangkok",
        True,
        "visit-mix",
        {},
    )
    assert _cron_expression(schedule["cron"]) == "0 6 * * *"  # and the config's own check agrees

    # pull: the project folder from the worker's environment, then the install step
    assert [next(iter(step)) for step in raw["pull"]] == [
        "prefect.deployments.steps.set_working_directory",
        "prefect.deployments.steps.pip_install_requirements",
    ]
    assert raw["pull"][0]["prefect.deployments.steps.set_working_directory"] == {"directory": "{{ $VISITMIX_PROJECT_DIR }}"}
    requirements = raw["pull"][1]["prefect.deployments.steps.pip_install_requirements"]["requirements_file"]
    lines = [line for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert lines == ["-e ."]
    for step in raw["pull"]:
        module, function = next(iter(step)).rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function))
