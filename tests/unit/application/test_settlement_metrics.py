"""What the settlement and the gateway report to the Metrics port: a payment's outcome once
(by the call that recorded it, with the time since the request), every gateway call with
its outcome, whoever asks how often."""

from __future__ import annotations

import pytest

from adapters.gateways.instrumented import InstrumentedPaymentGateway
from application.payments import PaymentRequest
from application.ports.gateway import ChargeRequest
from application.settlement import PaymentSettlement
from domain.payment_terms import PaymentMethod
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    CRASH_AFTER_CHARGE,
    UNKNOWN,
    CountingGateway,
    GatewayConnectionLostError,
    card,
    fail,
)
from tests.unit.application.recording_metrics import RecordingMetrics
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.unit


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def watched(clock: FakeClock, gateway: CountingGateway, metrics: RecordingMetrics) -> App:
    app = make_app(clock, InstrumentedPaymentGateway(gateway, metrics))
    settlement = app.settlement
    app.settlement = PaymentSettlement(app.runner, settlement.gateway, settlement.legacy, metrics)
    return app


def by_card(app: App, amount: int = 2_500) -> object:
    request = PaymentRequest("", "shop", amount, "USD", PaymentMethod.CARD, card=card())
    return app.payments.create_payment(CALLER, request).value.id


def test_an_outcome_is_reported_once_with_its_lag_however_often_it_is_advanced(
    watched: App, clock: FakeClock, metrics: RecordingMetrics
) -> None:
    payment_id = by_card(watched)
    clock.advance(3)

    watched.settlement.advance(payment_id)  # type: ignore[arg-type]
    watched.settlement.advance(payment_id)  # type: ignore[arg-type]

    assert metrics.settled == [("SUCCESS", 3.0)]
    assert metrics.gateway_calls == [("tokenize", "ok"), ("charge", "succeeded")]


def test_a_failure_is_an_outcome_and_an_unknown_answer_is_not(
    watched: App, gateway: CountingGateway, metrics: RecordingMetrics
) -> None:
    declined, lost = by_card(watched, 100), by_card(watched, 200)
    gateway.script(f"{declined}:1", fail("CARD_DECLINED"))
    gateway.script(f"{lost}:1", UNKNOWN)

    watched.settlement.advance(declined)  # type: ignore[arg-type]
    watched.settlement.advance(lost)  # type: ignore[arg-type]

    assert [status for status, _ in metrics.settled] == ["FAILED"]
    assert ("charge", "failed") in metrics.gateway_calls
    assert ("charge", "unknown") in metrics.gateway_calls


def test_a_gateway_call_that_raises_is_reported_as_an_error(metrics: RecordingMetrics) -> None:
    gateway = CountingGateway()
    gateway.script("key:1", CRASH_AFTER_CHARGE)
    instrumented = InstrumentedPaymentGateway(gateway, metrics)

    with pytest.raises(GatewayConnectionLostError):
        instrumented.charge(ChargeRequest(100, "USD", "tok_visa", "key:1"))

    assert metrics.gateway_calls == [("charge", "error")]
    assert instrumented.name == gateway.name
