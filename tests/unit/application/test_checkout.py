"""Hosted checkout in the application: a payment recorded PROCESSING with its gateway session
before the payer sees the gateway's page, settled only from the gateway's word."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.checkout import CheckoutService, ReturnUrls
from application.errors import CheckoutRefusedError
from application.payments import PaymentRules
from application.ports.gateway import CheckoutUnavailableError
from domain.errors import PaymentNotRetryableError
from domain.payment import Payment
from tests.unit.application.payment_fakes import CountingGateway
from tests.unit.application.support import CALLER, App, count_events, log_position


def urls(payment_id: UUID) -> ReturnUrls:
    return ReturnUrls(
        f"https://shop.test/ok?p={payment_id}", f"https://shop.test/no?p={payment_id}"
    )


@pytest.fixture
def checkout(app: App, gateway: CountingGateway) -> CheckoutService:
    return CheckoutService(app.runner, gateway, app.settlement, PaymentRules())


def started(checkout: CheckoutService, amount: int = 5_000) -> tuple[str, str]:
    """(payment id, session id) of a new checkout."""
    begun = checkout.start_checkout(CALLER, amount, "USD", urls)
    return str(begun.payment.id), begun.url.rsplit("/", 1)[-1]


def test_a_checkout_is_recorded_processing_with_its_session_before_the_redirect(
    app: App, checkout: CheckoutService, gateway: CountingGateway
) -> None:
    begun = checkout.start_checkout(CALLER, 5_000, "USD", urls)

    payment = app.runner.read(Payment, begun.payment.id, LookupError)  # type: ignore[arg-type]
    key = f"{payment.id}:1"
    assert (payment.status, payment.method, payment.gateway_key) == ("PROCESSING", "checkout", key)
    assert gateway.checkout_calls == [(5_000, "USD", key)]
    assert begun.url.endswith(payment.checkout_session_id)
    assert payment.card_minor == 5_000


def test_a_paid_checkout_settles_once_into_the_gateway_clearing_account(
    app: App, checkout: CheckoutService, gateway: CountingGateway
) -> None:
    payment_id, session_id = started(checkout)
    assert checkout.checkout_payment(CALLER, payment_id).status == "PROCESSING"  # type: ignore[union-attr]

    gateway.pay_checkout(session_id)
    shown = checkout.checkout_payment(CALLER, payment_id)
    again = checkout.checkout_payment(CALLER, payment_id)

    assert shown is not None
    assert (shown.status, shown.captured) == ("SUCCESS", 5_000)
    assert again == shown
    assert count_events(app, Payment.Succeeded) == 1


def test_a_cancelled_checkout_fails_for_good_and_cannot_be_retried(
    app: App, checkout: CheckoutService, gateway: CountingGateway
) -> None:
    payment_id, session_id = started(checkout)

    shown = checkout.cancel_checkout(CALLER, payment_id)

    assert shown is not None
    assert (shown.status, shown.failure_reason, shown.retryable) == (
        "FAILED",
        "CHECKOUT_CANCELLED",
        False,
    )
    gateway.pay_checkout(session_id)  # too late: the session is closed
    assert checkout.checkout_payment(CALLER, payment_id) == shown
    with pytest.raises(PaymentNotRetryableError):
        app.payments.retry_payment(CALLER, UUID(payment_id))


def test_a_paid_checkout_refunds_to_the_card_through_the_gateway(
    app: App, checkout: CheckoutService, gateway: CountingGateway
) -> None:
    payment_id, session_id = started(checkout)
    gateway.pay_checkout(session_id)
    checkout.checkout_payment(CALLER, payment_id)

    refunded = app.refunds.refund_payment(CALLER, UUID(payment_id), 2_000).value

    assert (refunded.status, refunded.refunded) == ("PARTIALLY_REFUNDED", 2_000)
    assert [(r.amount_minor, r.reference) for r in gateway.refund_calls] == [
        (2_000, gateway.reference_of(f"{payment_id}:1"))
    ]


@pytest.mark.parametrize("reference", [None, "", "x", "00000000-0000-0000-0000-000000000000"])
def test_a_reference_that_names_no_checkout_finds_nothing(
    checkout: CheckoutService, reference: str | None
) -> None:
    assert checkout.checkout_payment(CALLER, reference) is None
    assert checkout.cancel_checkout(CALLER, reference) is None


def test_a_checkout_above_the_fraud_threshold_is_recorded_failed_and_refused(
    app: App, checkout: CheckoutService, gateway: CountingGateway
) -> None:
    with pytest.raises(CheckoutRefusedError):
        checkout.start_checkout(CALLER, 1_000_001, "USD", urls)
    assert gateway.checkout_calls == []
    assert count_events(app, Payment.Rejected) == 1


def test_no_session_means_nothing_recorded(app: App, gateway: CountingGateway) -> None:
    class DownGateway(CountingGateway):
        def create_checkout_session(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise CheckoutUnavailableError("down")

    checkout = CheckoutService(app.runner, DownGateway(), app.settlement, PaymentRules())
    before = log_position(app)
    with pytest.raises(CheckoutUnavailableError):
        checkout.start_checkout(CALLER, 5_000, "USD", urls)
    assert log_position(app) == before
