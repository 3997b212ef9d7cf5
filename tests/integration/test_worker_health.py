"""`payledger worker --check`: healthy only with a fresh health file from a worker whose
database answers and whose followers are not stuck; lag alone is not unhealthy."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from application.results import FollowerFailure, Readiness, ViewProgress
from entrypoints.cli import main
from entrypoints.worker_health import HEALTH_MAX_AGE_S, WorkerHealth, check_health, write_health

pytestmark = pytest.mark.integration

READY = Readiness(True, "ok", 10, 10, 0, [ViewProgress("ledger_view", 10, 0)])


def worker_check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["worker", "--check"], env={"PAYLEDGER_WORKER_HEALTH_FILE": str(path)}
    )
    return result.exit_code, result.output


def test_a_fresh_report_of_a_working_worker_is_healthy_even_when_it_lags(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    lagging = msgspec.structs.replace(READY, ready=False, view_lag=50_000)
    write_health(path, lagging)

    code, output = worker_check(path)

    assert code == 0, output
    assert "healthy" in output


@pytest.mark.parametrize(
    ("readiness", "reason"),
    [
        (Readiness(False, "unreachable: OperationalError", None, None, 0), "event store"),
        (
            msgspec.structs.replace(
                READY,
                ready=False,
                failures=[FollowerFailure("payments_view", 9, "Payment.Created", "E: x")],
            ),
            "payments_view cannot apply the event at position 9",
        ),
    ],
)
def test_a_worker_whose_database_is_down_or_whose_follower_is_stuck_is_unhealthy(
    tmp_path: Path, readiness: Readiness, reason: str
) -> None:
    path = tmp_path / "health.json"
    write_health(path, readiness)

    code, output = worker_check(path)

    assert code == 1
    assert reason in output


def test_a_stale_missing_or_garbled_report_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    assert worker_check(path)[0] == 1  # missing
    stale = WorkerHealth(time.time() - HEALTH_MAX_AGE_S - 1, 123, True, READY)
    path.write_bytes(msgspec.json.encode(stale))
    healthy, reason = check_health(path)
    assert not healthy
    assert "stale: worker 123" in reason
    path.write_text("{not json")
    assert worker_check(path)[0] == 1
