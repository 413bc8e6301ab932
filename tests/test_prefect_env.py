"""Prefect settings of an ad-hoc `visitmix run` (visitmix.prefect_env.ad_hoc_run)."""

from __future__ import annotations

import threading

from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

from visitmix.prefect_env import ad_hoc_run


def _heartbeat_threads() -> int:
    """Threads running Prefect's flow-run heartbeat loop (prefect.flow_engine._send_heartbeats)."""
    return sum(1 for t in threading.enumerate() if "heartbeat_loop" in repr(getattr(t, "_args", ())))


@flow
def _settings_seen() -> tuple[int | None, int]:
    return get_current_settings().flows.heartbeat_frequency, _heartbeat_threads()


def test_ad_hoc_runs_send_no_heartbeats(prefect_harness):
    assert get_current_settings().flows.heartbeat_frequency == 180  # Prefect's default, which joins a sleeping thread
    with ad_hoc_run():
        assert _settings_seen() == (None, 0)
    assert get_current_settings().flows.heartbeat_frequency == 180
    # the check itself can fail: without ad_hoc_run the flow sees Prefect's heartbeat thread
    assert _settings_seen() == (180, 1)


def test_a_chosen_heartbeat_frequency_is_kept(prefect_harness):
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):  # as from a profile or the environment
        with ad_hoc_run():
            frequency, threads = _settings_seen()
    assert (frequency, threads) == (60, 1)
