"""The scale-out split, as compose.yaml runs it: `payledger serve` with in-process workers
off, and a `payledger worker` process on the same schema that settles the payments made
through the API and keeps its read models; `payledger worker --check` reports its health
from the file the worker rewrites (a container health check without a port)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import api
from tests.support.server import (
    PROJECT_ROOT,
    SERVER_POOL_SIZE,
    RunningServer,
    payledger_command,
    postgres_url,
    running_server,
    server_env,
)

pytestmark = pytest.mark.e2e

WAIT_S = 30.0


def worker_command(*args: str) -> list[str]:
    return payledger_command("worker", *args)


def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        worker_command("--check"),
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def api_server() -> Iterator[RunningServer]:
    off = {"PAYLEDGER_PROJECTIONS_IN_PROCESS": "false"}
    with running_server("postgres", extra_settings=off) as server:
        yield server


def test_a_worker_process_settles_what_the_api_records_and_reports_its_health(
    api_server: RunningServer, tmp_path: Path
) -> None:
    health_file = tmp_path / "worker-health.json"
    env = server_env(
        {
            "PAYLEDGER_DATABASE_URL": postgres_url(),
            "PAYLEDGER_DATABASE_SCHEMA": str(api_server.schema),
            "PAYLEDGER_DATABASE_POOL_SIZE": str(SERVER_POOL_SIZE),
            "PAYLEDGER_WORKER_HEALTH_FILE": str(health_file),
            "PAYLEDGER_LOG_LEVEL": "warning",
        }
    )
    assert check(env).returncode == 1  # no worker yet
    payer = api.new_customer("payer")
    with api.client(api_server.base_url) as http:
        api.open_wallet(http, payer)
        api.expect(api.credit(http, payer, 1_000), 201)
        body = {"amount": 250, "currency": "USD", "recipient": "school", "method": "wallet"}
        created = api.expect(http.post("/payments", json={**body, "payer_id": payer}), 201)
        time.sleep(0.5)
        assert api.expect(http.get(f"/payments/{created['id']}"), 200)["status"] == "CREATED"

        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            worker_command(), cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while http.get(f"/payments/{created['id']}").json()["status"] != "SUCCESS":
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                time.sleep(0.05)
            end = api.expect(http.get("/ready"), 200)["log_position"]
            listed = api.expect(http.get("/payments", params={"min_position": end}), 200)
            assert [p["id"] for p in listed["payments"]] == [created["id"]]
            while not health_file.exists():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            healthy = check(env)
            assert healthy.returncode == 0, healthy.stdout
            assert "healthy" in healthy.stdout
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(WAIT_S)
            log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
    assert not health_file.exists()
    assert check(env).returncode == 1
