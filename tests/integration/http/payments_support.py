"""The payments API under test: the production container on the in-memory store, with a
hand-written gateway and, by default, no payment processor.

Without the processor nothing moves a payment on by itself: a test calls `advance(id)` (what
the processor worker does for every new or retried payment) exactly when it wants processing
to happen, so every state a client can observe is reachable deterministically. The read
models (ledger and payments) still run in-process, so lists and the summary stay current.
`payments_api(processing=True)` keeps the real in-process processor instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from dishka import Provider, Scope, provide
from litestar.testing import TestClient

from application.errors import PaymentNotFoundError
from application.idempotency import command_id
from application.ledger import Ledger
from application.payment_projection import PaymentsProjection
from application.ports.gateway import PaymentGateway
from application.ports.new_events import NewEvents
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from application.runner import CommandRunner
from application.settlement import PaymentSettlement
from domain.payment import Payment
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.workers import BackgroundWorkers
from tests.integration.http.support import admin_headers, expect, memory_settings, scope_of
from tests.unit.application.payment_fakes import CountingGateway

ADVANCE_WAIT_S = 5.0  # how long a background advance waits for its payment to exist


class CountingGatewayProvider(Provider):
    """Payments go to a counting gateway the test can script and inspect."""

    scope = Scope.APP

    def __init__(self, gateway: CountingGateway) -> None:
        super().__init__()
        self._gateway = gateway

    @provide(override=True)
    def gateway(self) -> PaymentGateway:
        return self._gateway


class ManualProcessingProvider(Provider):
    """The in-process workers without the payment processor: only the read models run."""

    scope = Scope.APP

    @provide(override=True)
    def workers(
        self,
        ledger: Ledger,
        ledger_view: LedgerViewRecorder,
        payments_view: PaymentsViewRecorder,
        new_events: NewEvents,
    ) -> BackgroundWorkers:
        return BackgroundWorkers(
            ProjectionRunner(ledger, LedgerProjection(view=ledger_view), new_events=new_events),
            ProjectionRunner(ledger, PaymentsProjection(view=payments_view), new_events=new_events),
            new_events=new_events,
        )


@dataclass
class PaymentsApi:
    """A running app with the service and gateway behind it, for driving and inspecting."""

    client: TestClient[Any]
    settlement: PaymentSettlement
    runner: CommandRunner
    gateway: CountingGateway

    def advance(self, payment_id: str | UUID) -> str:
        """Process a payment now, as the processor worker would."""
        return self.settlement.advance(UUID(str(payment_id)))

    def position(self) -> int:
        """The log's last position: a read with this `min_position` sees every write."""
        return self.runner.ledger.log_position() or 0

    def exists(self, payment_id: UUID) -> bool:
        try:
            self.runner.read(Payment, payment_id, PaymentNotFoundError)
        except PaymentNotFoundError:
            return False
        return True

    def advance_later(self, idempotency_key: str, delay_s: float) -> threading.Thread:
        """Advance the payment this key will create, `delay_s` after it exists, from a
        background thread (while a `?wait=true` request is waiting for it)."""
        payment_id = command_id(scope_of(self.client), idempotency_key)

        def run() -> None:
            deadline = time.monotonic() + ADVANCE_WAIT_S
            while not self.exists(payment_id):
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.005)
            time.sleep(delay_s)
            self.settlement.advance(payment_id)

        thread = threading.Thread(target=run, daemon=True, name="advance-later")
        thread.start()
        return thread


@contextmanager
def payments_api(
    settings: Settings | None = None, processing: bool = False
) -> Iterator[PaymentsApi]:
    """A test client on a fresh app whose payments go to a counting gateway; payments are
    processed only when the test says so, unless `processing`."""
    gateway = CountingGateway()
    providers: list[Provider] = [CountingGatewayProvider(gateway)]
    if not processing:
        providers.append(ManualProcessingProvider())
    container = build_container(settings or memory_settings(), *providers)
    with TestClient(create_app(container)) as client:
        client.headers.update(admin_headers(client))
        settlement = client.blocking_portal.call(container.get, PaymentSettlement)
        runner = client.blocking_portal.call(container.get, CommandRunner)
        yield PaymentsApi(client, settlement, runner, gateway)


def payment(api: PaymentsApi, payment_id: str) -> Any:
    """A payment, strongly consistent (from the log)."""
    return expect(api.client.get(f"/payments/{payment_id}"), 200)
