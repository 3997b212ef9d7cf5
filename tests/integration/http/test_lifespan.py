"""The app's lifespan: projections run in-process only when the settings say so, stop on
shutdown, and the container is closed (its finalizers run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dishka import Provider, Scope, provide

from entrypoints.settings import Settings
from entrypoints.workers import BackgroundWorkers
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    open_wallet,
    position_of,
    running_client,
)

pytestmark = pytest.mark.integration


class RecordingRunner:
    """Stands in for the projection runner; records what it was asked."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def start(self) -> None:
        self.calls.append("start")

    def stop(self, timeout_s: float = 5.0) -> None:
        self.calls.append("stop")

    def failures(self) -> list[object]:
        return []  # readiness asks; nothing runs, so nothing fails


class RecordingRunnerProvider(Provider):
    scope = Scope.APP

    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self.calls = calls

    @provide(override=True)
    def workers(self, settings: Settings) -> Iterator[BackgroundWorkers]:
        yield RecordingRunner(self.calls)  # type: ignore[misc]
        self.calls.append("container closed")


def test_in_process_projections_start_then_stop_then_the_container_closes() -> None:
    calls: list[str] = []
    with running_client(memory_settings(), RecordingRunnerProvider(calls)) as client:
        assert calls == ["start"]
        assert client.get("/health").status_code == 200
    assert calls == ["start", "stop", "container closed"]


def test_without_in_process_projections_nothing_starts_and_views_stay_behind() -> None:
    calls: list[str] = []
    settings = memory_settings(projections_in_process=False, view_wait_timeout_s=0.05)
    with running_client(settings, RecordingRunnerProvider(calls)) as client:
        opened = open_wallet(client, "alice")
        # Strongly consistent reads still work; the read model never moves.
        wallet: Any = expect(client.get("/wallets/alice", params={"currency": "USD"}), 200)
        assert wallet["customer_id"] == "alice"
        assert expect(client.get("/wallets/alice"), 200)["wallets"] == [wallet]
        response = client.get("/wallets/alice", params={"min_position": position_of(opened)})
        expect_problem(response, 503, "view_not_caught_up")
    # Built (readiness asks the workers for their failures) and closed, never started.
    assert calls == ["container closed"]


def test_the_configured_body_limit_applies() -> None:
    with running_client(memory_settings(request_body_max_bytes=200)) as client:
        body = {"customer_id": "alice", "currency": "USD"}
        expect(client.post("/wallets", json=body), 201)
        response = client.post("/wallets", json={**body, "customer_id": "b" * 200})
        expect_problem(response, 413, "payload_too_large")


def test_ready_is_a_503_problem_while_the_read_model_lags_too_far() -> None:
    settings = memory_settings(projections_in_process=False, ready_lag_max=0)
    with running_client(settings, signed_in=False) as client:
        expect(client.get("/ready"), 200)
        client.headers.update(admin_headers(client))
        open_wallet(client, "alice")
        response = client.get("/ready")
        problem = expect_problem(response, 503, "not_ready")
        assert "behind" in problem["detail"]
        assert response.headers["retry-after"] == "1"
        assert expect(client.get("/health"), 200) == {"status": "ok"}
