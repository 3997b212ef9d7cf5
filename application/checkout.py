"""Hosted checkout (seed 002): a payment whose card the payer gives on the gateway's page.

Starting a checkout asks the gateway for a session under the attempt key `<payment id>:1`
(the gateway keeps it in the session's metadata, so its events name the attempt), then
records the payment, already PROCESSING on that attempt and holding the session's id, in one
save; only then is the payer sent to the gateway's page, so every session a payer can pay is
in the log. The payment is settled from the gateway's word, never from the payer's browser:
the session's status (asked by the success page, and by the payment processor and its
reconciler until it is known) or the gateway's webhook. The cancel page closes the session at
the gateway first, then records the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from uuid import UUID, uuid4

from application import presenters, results
from application.errors import CheckoutRefusedError, PaymentNotFoundError
from application.idempotency import request_digest
from application.payments import PaymentRules
from application.ports.gateway import PaymentGateway
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from application.settlement import PaymentSettlement
from domain.errors import InvalidAmountError
from domain.money import AMOUNT_MINOR_MAX, check_currency
from domain.payment import Payment
from domain.payment_terms import FRAUD_SUSPECTED, PaymentMethod, PaymentStatus

# Seed 002 sells one generic product for one merchant: its checkouts pay this payee.
CHECKOUT_RECIPIENT = "merchant"
CHECKOUT_DESCRIPTION = "Hosted checkout"


@dataclass(frozen=True)
class ReturnUrls:
    """Where the gateway sends the payer back: after paying, and after cancelling."""

    success: str
    cancel: str


@dataclass(frozen=True)
class StartedCheckout:
    """The recorded payment and the gateway's page to send the payer to."""

    payment: results.Payment
    url: str


class CheckoutService:
    """Hosted checkouts: start one, and read or cancel it when the payer comes back."""

    def __init__(
        self,
        runner: CommandRunner,
        gateway: PaymentGateway,
        settlement: PaymentSettlement,
        rules: PaymentRules,
    ) -> None:
        self.runner = runner
        self.gateway = gateway
        self.settlement = settlement
        self.rules = rules

    def start_checkout(
        self,
        caller: Principal,
        amount_minor: int,
        currency: str,
        return_urls: Callable[[UUID], ReturnUrls],
    ) -> StartedCheckout:
        """Open a session at the gateway and record its payment (see the module docstring).
        Raises `CheckoutRefusedError` for a rule broken (the payment is recorded FAILED) and
        `CheckoutUnavailableError` when the gateway made no session (nothing is recorded)."""
        check_currency(currency)
        if not 0 < amount_minor <= AMOUNT_MINOR_MAX:
            raise InvalidAmountError()
        payment_id = uuid4()
        digest = request_digest("start_checkout", amount=amount_minor, currency=currency)
        record = partial(self._record, caller, payment_id, amount_minor, currency, digest)
        if amount_minor > self.rules.fraud_threshold_minor(currency):
            self.runner.run(partial(record, "", FRAUD_SUSPECTED), presenters.payment)
            raise CheckoutRefusedError(f"The payment failed a rule: {FRAUD_SUSPECTED}.")
        urls = return_urls(payment_id)
        session = self.gateway.create_checkout_session(
            amount_minor, currency, urls.success, urls.cancel, attempt_key(payment_id)
        )
        written = self.runner.run(partial(record, session.id, ""), presenters.payment)
        return StartedCheckout(written.value, session.url)

    def _record(
        self,
        caller: Principal,
        payment_id: UUID,
        amount_minor: int,
        currency: str,
        digest: str,
        session_id: str,
        failure: str,
        uow: UnitOfWork,
    ) -> Payment:
        payment = Payment.create(
            payment_id,
            "" if caller.is_admin else caller.subject,  # a customer pays as themself
            CHECKOUT_RECIPIENT,
            amount_minor,
            currency,
            PaymentMethod.CHECKOUT,
            CHECKOUT_DESCRIPTION,
            (),
            digest,
            uow.now,
            card_token=session_id,
            owner_id=caller.subject,
        )
        if failure:
            payment.reject(failure, uow.now)
        else:
            payment.start_processing(attempt_key(payment_id), uow.now, "checkout opened")
        uow.save(payment)
        return payment

    def checkout_payment(self, caller: Principal, reference: str | None) -> results.Payment | None:
        """The checkout payment a return URL names (None: it names none), after asking the
        gateway once more if its outcome is not known yet."""
        payment = self._find(reference)
        if payment is None:
            return None
        if payment.status == PaymentStatus.PROCESSING:
            self.settlement.advance(payment.id)
        return presenters.payment(self.runner.read(Payment, payment.id, PaymentNotFoundError))

    def cancel_checkout(self, caller: Principal, reference: str | None) -> results.Payment | None:
        """The payer came back through the cancel link: an unsettled checkout is closed at
        the gateway and settled as it then stands (None: the reference names no checkout)."""
        payment = self._find(reference)
        if payment is None:
            return None
        self.settlement.cancel_checkout(payment.id)
        return presenters.payment(self.runner.read(Payment, payment.id, PaymentNotFoundError))

    def _find(self, reference: str | None) -> Payment | None:
        try:
            payment_id = UUID(reference or "")
            payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        except (ValueError, PaymentNotFoundError):
            return None
        return payment if payment.method == PaymentMethod.CHECKOUT else None


def attempt_key(payment_id: UUID) -> str:
    """The first (and only) attempt of a checkout payment: the gateway's idempotency key."""
    return f"{payment_id}:1"
