"""Seed 001's payments: no method, no card; the legacy processor settles them by its own rules.

They are settled, retried and refunded at the legacy gateway the application is given, never
at the card gateway; the failure rules still come first.
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.payments import PaymentRequest
from application.ports.gateway import LEGACY_ACCOUNT_TOKEN, PROCESSING_ERROR
from domain.errors import CardNumberInTextError, InvalidPaymentMethodError, InvalidTextError
from domain.ids import system_account_id
from domain.journal import GATEWAY_CLEARING
from domain.payment import FAILED, PROCESSING, REFUNDED, SUCCESS
from domain.payment_terms import FRAUD_SUSPECTED, INVALID_AMOUNT, INVALID_REQUEST, PaymentMethod
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    CountingGateway,
    account_balance,
    assert_money_conserved,
    card,
    fail,
    payee_balance,
)
from tests.unit.application.support import CALLER, App, log_position, make_app

pytestmark = pytest.mark.unit


@pytest.fixture
def legacy() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def cards() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def service(clock: FakeClock, cards: CountingGateway, legacy: CountingGateway) -> App:
    return make_app(clock, cards, legacy=legacy)


def seed_001(amount_minor: int = 25_000, **changes: object) -> PaymentRequest:
    """Seed 001's sample request (amount in minor units), method left to its default."""
    fields: dict[str, object] = {
        "payer_id": "",
        "recipient": "alice@example.com",
        "amount_minor": amount_minor,
        "currency": "USD",
        "method": PaymentMethod.LEGACY,
        "description": "Invoice #1042",
        **changes,
    }
    return PaymentRequest(**fields)  # type: ignore[arg-type]


def test_a_legacy_payment_is_settled_at_the_legacy_gateway_only(
    service: App, cards: CountingGateway, legacy: CountingGateway
) -> None:
    created = service.payments.create_payment(CALLER, seed_001()).value
    assert (created.status, created.method, created.card) == ("CREATED", "legacy", None)
    assert created.payment_id == created.id

    assert service.settlement.advance(created.id) == SUCCESS

    assert cards.charge_calls == []
    [charged] = legacy.charge_calls
    assert (charged.amount_minor, charged.currency) == (25_000, "USD")
    assert (charged.token, charged.idempotency_key) == (LEGACY_ACCOUNT_TOKEN, f"{created.id}:1")
    assert payee_balance(service, "alice@example.com", "USD") == 25_000
    clearing = system_account_id(GATEWAY_CLEARING, "USD")
    assert account_balance(service, clearing) == -25_000
    assert_money_conserved(service)


def test_a_processing_error_is_retried_at_the_legacy_gateway_with_a_new_key(
    service: App, cards: CountingGateway, legacy: CountingGateway
) -> None:
    created = service.payments.create_payment(CALLER, seed_001()).value
    legacy.script(f"{created.id}:1", fail(PROCESSING_ERROR))
    assert service.settlement.advance(created.id) == FAILED
    failed = service.payments.get_payment(CALLER, created.id)
    assert (failed.failure_reason, failed.retryable) == (PROCESSING_ERROR, True)

    retried = service.payments.retry_payment(CALLER, created.id).value
    assert (retried.status, retried.attempts) == (PROCESSING, 2)
    assert service.settlement.advance(created.id) == SUCCESS

    assert legacy.keys_called() == [f"{created.id}:1", f"{created.id}:2"]
    assert cards.charge_calls == []


def test_a_legacy_payment_is_refunded_in_full_at_the_legacy_gateway(
    service: App, cards: CountingGateway, legacy: CountingGateway
) -> None:
    created = service.payments.create_payment(CALLER, seed_001()).value
    service.settlement.advance(created.id)

    refunded = service.refunds.refund_payment(CALLER, created.id).value

    assert (refunded.status, refunded.refunded, refunded.refundable) == (REFUNDED, 25_000, 0)
    assert [r.amount_minor for r in legacy.refund_calls] == [25_000]
    assert cards.refund_calls == []
    assert payee_balance(service, "alice@example.com", "USD") == 0
    assert_money_conserved(service)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (seed_001(0), INVALID_AMOUNT),
        (seed_001(-100), INVALID_AMOUNT),
        (seed_001(1_000_001), FRAUD_SUSPECTED),
        (seed_001(currency=""), INVALID_REQUEST),
        (seed_001(currency="XYZ"), INVALID_REQUEST),
        (seed_001(recipient=""), INVALID_REQUEST),
    ],
    ids=["zero", "negative", "fraud", "no currency", "unknown currency", "no recipient"],
)
def test_the_rules_apply_before_the_legacy_processor_is_asked(
    service: App, legacy: CountingGateway, request_: PaymentRequest, reason: str
) -> None:
    created = service.payments.create_payment(CALLER, request_).value

    assert (created.status, created.failure_reason) == (FAILED, reason)
    assert service.settlement.advance(created.id) == FAILED
    assert legacy.charge_calls == []


def test_a_legacy_payment_takes_no_card_and_records_nothing(service: App) -> None:
    before = log_position(service)
    for changes in ({"card": card()}, {"payment_method": "pm_card_visa"}):
        with pytest.raises(InvalidPaymentMethodError):
            service.payments.create_payment(CALLER, seed_001(**changes))
    assert log_position(service) == before


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"currency": "US\x00D"}, InvalidTextError),
        ({"recipient": "bob\x00"}, InvalidTextError),
        ({"description": "line\nbreak"}, InvalidTextError),
        ({"description": "card 4242 4242 4242 4242"}, CardNumberInTextError),
        ({"recipient": "4242424242424242"}, CardNumberInTextError),
    ],
)
def test_text_that_cannot_be_recorded_is_refused_not_recorded_as_failed(
    service: App, legacy: CountingGateway, changes: dict[str, str], error: type[Exception]
) -> None:
    before = log_position(service)
    with pytest.raises(error):
        service.payments.create_payment(CALLER, seed_001(**changes), str(uuid4()))
    assert log_position(service) == before
    assert legacy.charge_calls == []
