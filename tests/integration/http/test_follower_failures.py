"""A read model that cannot apply an event says so over HTTP: `/ready` answers 503 naming
the view, the event's position and type; `/metrics` shows the view failing and counts the
failure once; once the view is fixed it resumes from that event and `/ready` is 200 again.
A database that cannot be reached is a 503 `service_unavailable`, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from eventsourcing.persistence import OperationalError

import application.projection_runner as projection_runner
from adapters.views.payments_view import SqlPaymentsView
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from tests.integration.http.support import (
    expect,
    expect_problem,
    memory_settings,
    open_wallet,
    position_of,
    running_client,
)
from tests.integration.http.test_metrics import metric
from tests.support.broken_views import PoisonedLedgerView, memory_poisoned_view
from tests.support.views import memory_payments_view
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


class PoisonedViewProvider(Provider):
    scope = Scope.APP

    def __init__(self, view: PoisonedLedgerView) -> None:
        super().__init__()
        self.view = view

    @provide(override=True)
    def ledger_view(self) -> Iterator[LedgerViewRecorder]:
        yield self.view
        self.view.close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection_runner, "ERROR_SLEEP_S", 0.05)


def test_a_view_stuck_on_an_event_makes_ready_503_naming_it_until_it_is_fixed() -> None:
    view = memory_poisoned_view("mallory")
    with running_client(memory_settings(), PoisonedViewProvider(view)) as client:
        before = position_of(open_wallet(client, "alice"))
        poisoned_at = position_of(open_wallet(client, "mallory"))
        eventually(lambda: view.refusals >= 3)

        response = client.get("/ready")
        problem = expect_problem(response, 503, "not_ready")
        stuck = re.search(
            r"ledger_view cannot apply the event at position (\d+) \(([\w.]+)\)", problem["detail"]
        )
        assert stuck is not None, problem
        assert before < int(stuck[1]) <= poisoned_at  # the save that opened mallory's wallet
        assert stuck[2] == "Account.Opened"
        assert response.headers["retry-after"] == "1"
        assert metric(client, "payledger_follower_failing", follower="ledger_view") == 1
        assert metric(client, "payledger_follower_failing", follower="payments_view") == 0
        assert metric(client, "payledger_projection_failures_total", follower="ledger_view") == 1
        assert metric(client, "payledger_ready") == 0

        view.cure()
        eventually(lambda: client.get("/ready").status_code == 200)

        wallets: Any = expect(
            client.get("/wallets/mallory", params={"min_position": poisoned_at}), 200
        )
        assert [w["customer_id"] for w in wallets["wallets"]] == ["mallory"]
        assert metric(client, "payledger_follower_failing", follower="ledger_view") == 0
        assert metric(client, "payledger_projection_failures_total", follower="ledger_view") == 1


class UnreachablePaymentsView(SqlPaymentsView):
    def list_payments(self, *args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection to server failed: Connection refused")


class UnreachablePaymentsProvider(Provider):
    scope = Scope.APP

    @provide(override=True)
    def payments_view(self) -> Iterator[PaymentsViewRecorder]:
        healthy = memory_payments_view()
        view = UnreachablePaymentsView(healthy.database, "payledger")
        view.create_table()
        yield view
        view.close()


def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_client(memory_settings(), UnreachablePaymentsProvider()) as client:
        response = client.get("/payments")

        problem = expect_problem(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "1"
        assert "Connection refused" not in problem["detail"]  # nothing about the internals
    assert any("database unavailable on GET /payments" in r.getMessage() for r in caplog.records)
