"""Where the followers of the log run: inside `serve` on every backend unless told not to."""

from __future__ import annotations

import pytest

from entrypoints.cli import server_processes
from entrypoints.settings import load_settings

pytestmark = pytest.mark.unit

URLS = ["", "sqlite:///tmp/x.sqlite3", "memory://", "postgresql://postgres@127.0.0.1:5432/test"]


@pytest.mark.parametrize("url", URLS)
def test_serve_runs_the_followers_in_process_on_every_backend_by_default(url: str) -> None:
    assert load_settings({"PAYLEDGER_DATABASE_URL": url}).run_workers_in_process


@pytest.mark.parametrize("value", ["false", "0"])
def test_the_followers_can_be_moved_out_of_serve(value: str) -> None:
    settings = load_settings(
        {
            "PAYLEDGER_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "PAYLEDGER_PROJECTIONS_IN_PROCESS": value,
        }
    )
    assert not settings.run_workers_in_process


def test_an_idle_follower_looks_at_least_every_poll_interval() -> None:
    assert load_settings({}).workers.poll_interval_s == 1.0
    settings = load_settings({"PAYLEDGER_WORKERS_POLL_INTERVAL_S": "2.5"})
    assert settings.workers.poll_interval_s == 2.5


@pytest.mark.parametrize("url", URLS)
def test_serve_with_several_processes_runs_the_followers_in_the_first_only(url: str) -> None:
    settings = load_settings({"PAYLEDGER_DATABASE_URL": url})
    processes = server_processes(settings, 3)
    assert [p.run_workers_in_process for p in processes] == [True, False, False]
    assert all(p.database == settings.database for p in processes)
    assert len(server_processes(settings, 1)) == 1


def test_serve_with_several_processes_and_a_separate_worker_runs_none() -> None:
    settings = load_settings({"PAYLEDGER_PROJECTIONS_IN_PROCESS": "false"})
    assert not any(p.run_workers_in_process for p in server_processes(settings, 2))
