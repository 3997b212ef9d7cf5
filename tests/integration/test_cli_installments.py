"""`payledger projections rebuild installments`: the plans' read model rebuilt from the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.clock import SystemClock
from application.installment_queries import InstallmentQueries
from application.installments import InstallmentService, PlanRequest
from application.installments_projection import InstallmentsProjection
from application.ledger import Ledger
from application.ports.installments import InstallmentsView
from application.projection_runner import ProjectionRunner
from domain.installment_plan import RetryPolicy
from domain.money import Money
from entrypoints.container import build_sync_container
from entrypoints.settings import load_settings
from tests.integration.test_cli import run
from tests.unit.application.support import CALLER, make_app

pytestmark = pytest.mark.integration


def test_rebuild_recreates_the_installments_view_from_the_log(tmp_path: Path) -> None:
    environment = {"PAYLEDGER_DATABASE_URL": "", "PAYLEDGER_DATA_DIR": str(tmp_path)}
    run(environment, "db", "migrate")
    container = build_sync_container(load_settings(environment), create_tables=False)
    ledger = container.get(Ledger)
    view = container.get(InstallmentsView)
    app = make_app(SystemClock(), ledger=ledger)
    service = InstallmentService(app.runner, app.settlement, RetryPolicy())
    first = service.create_plan(CALLER, PlanRequest("alice", Money(1_000, "USD"), 4)).value
    service.activate_plan(CALLER, first.id)
    second = service.create_plan(CALLER, PlanRequest("bob", Money(500, "EUR"), 1)).value
    ProjectionRunner(ledger, InstallmentsProjection(view, ledger)).catch_up()
    queries = InstallmentQueries(view, ledger.log_position, SystemClock())
    before = queries.plans(CALLER)

    output = run(environment, "projections", "rebuild", "installments")

    assert "Rebuilt installments" in output
    assert view.position() == ledger.log_position()
    assert queries.plans(CALLER) == before
    assert [p.id for p in before.items] == [second.id, first.id]
    assert [i.order_id for i in queries.due(CALLER).items] == [first.id]
    container.close()
