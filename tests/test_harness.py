"""The test suite's own robustness (#12 item 7): a harness server that died is started again."""

from __future__ import annotations

import httpx
import pytest
from prefect import flow

from conftest import revive


@flow
def _ping() -> str:
    return "pong"


def test_a_killed_harness_server_is_started_again_on_its_port(prefect_harness):  # noqa: ANN001 - the session harness
    port, process = prefect_harness.port, prefect_harness.server_process
    process.kill()  # what the kernel's out-of-memory killer does on a loaded machine
    process.wait(timeout=30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{prefect_harness.api_url}/health", timeout=10)
    with pytest.warns(UserWarning, match=rf"Prefect's test server on port {port} had exited \(code -9\); starting it again"):
        revive(prefect_harness)
    assert prefect_harness.port == port and prefect_harness.server_process.poll() is None
    assert _ping() == "pong"  # flows run against the same API URL again


def test_a_live_server_is_left_alone(prefect_harness):  # noqa: ANN001
    process = prefect_harness.server_process
    revive(prefect_harness)
    assert prefect_harness.server_process is process
