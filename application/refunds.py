"""Refunds: all or part of what a payment captured, never more than that in total.

Two saves around one gateway call: the refund is reserved in the payment first (so
concurrent refunds can never add up to more than the capture, whatever the gateway does
meanwhile), the card's part is refunded at the gateway with the refund's id as its
idempotency key, then the refund is completed with its journal transaction, or released
when the gateway refused. A refund resent with its key picks up where the first one is.
"""

from __future__ import annotations

from functools import partial
from uuid import UUID, uuid4

from application import presenters, results
from application.errors import GatewayRefundFailedError, PaymentNotFoundError
from application.idempotency import keyed_request
from application.payments import require_visible
from application.ports.gateway import LegacyGateway, PaymentGateway, RefundRequest
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from application.settlement import gateway_of
from domain import posting_rules
from domain.errors import InvalidPaymentTransitionError, RefundExceedsCapturedError
from domain.payment import Payment
from domain.payment_terms import REFUNDABLE


def _aggregate(payment: Payment) -> Payment:
    return payment


class RefundService:
    """Refunds of payments (charges included: they are wallet-first payments)."""

    def __init__(
        self, runner: CommandRunner, gateway: PaymentGateway, legacy: LegacyGateway
    ) -> None:
        self.runner = runner
        self.gateway = gateway
        self.legacy = legacy

    def refund_payment(
        self,
        caller: Principal,
        payment_id: UUID,
        amount_minor: int | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Payment]:
        """Refund `amount_minor` (None: all that is left) of a payment (admins: a refund is
        the merchant's decision; the payer sees it on their payment)."""
        request = keyed_request(
            caller,
            idempotency_key,
            "refund",
            payment_id=str(payment_id),
            amount=amount_minor,
            reason=reason,
        )
        refund_id = request.command_id or uuid4()
        reserve = partial(
            self._reserve, caller, payment_id, refund_id, amount_minor, reason, request.digest
        )
        reserved = self.runner.run(reserve, _aggregate, request, [payment_id])
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        if str(refund_id) in payment.refunds.done:  # done (a resent request)
            return results.Written(presenters.payment(payment), None, True)
        if str(refund_id) in payment.refunds.failed:
            code = payment.refunds.failed[str(refund_id)]
            raise GatewayRefundFailedError(f"The gateway refused this refund: {code}.")
        finished = self._finish(payment, refund_id, reason, reserved.position)
        if reserved.replayed:  # a duplicate that found the refund still going: it finished it
            return results.Written(finished.value, None, True)
        return finished

    def _finish(
        self, payment: Payment, refund_id: UUID, reason: str, position: int | None
    ) -> results.Written[results.Payment]:
        """Refund the card's part at the gateway (if any), then complete or release."""
        split = payment.refund_split(refund_id)
        reference = ""
        if split.card_minor:
            outcome = gateway_of(payment, self.gateway, self.legacy).refund(
                RefundRequest(
                    payment.gateway_reference, split.card_minor, payment.currency, str(refund_id)
                )
            )
            if outcome.outcome == "failed":
                release = partial(self._release, payment.id, refund_id, outcome.failure_code)
                self.runner.run(release, _aggregate, None, [payment.id])
                raise GatewayRefundFailedError(
                    f"The gateway refused the refund: {outcome.failure_code}."
                )
            if outcome.outcome == "unknown":  # stays reserved: a resend asks again
                current = self.runner.read(Payment, payment.id, PaymentNotFoundError)
                return results.Written(presenters.payment(current), position)
            reference = outcome.reference
        complete = partial(self._complete, payment.id, refund_id, reason, reference)
        return self.runner.run(complete, presenters.payment, None, [payment.id])

    def _reserve(
        self,
        caller: Principal,
        payment_id: UUID,
        refund_id: UUID,
        amount_minor: int | None,
        reason: str,
        digest: str,
        uow: UnitOfWork,
    ) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        require_visible(caller, payment)
        caller.require_admin()  # a refund is the merchant's decision, never the payer's
        if str(refund_id) in payment.refunds.digests:
            # The same key again (its claim answers): this refund was requested already.
            raise InvalidPaymentTransitionError("This refund was already requested.")
        if amount_minor is None and payment.refundable_minor == 0 and payment.status in REFUNDABLE:
            raise RefundExceedsCapturedError("Nothing is left to refund.")
        amount = payment.refundable_minor if amount_minor is None else amount_minor
        payment.request_refund(refund_id, amount, reason, digest, uow.now)
        uow.save(payment)
        return payment

    def _release(self, payment_id: UUID, refund_id: UUID, code: str, uow: UnitOfWork) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if str(refund_id) in payment.refunds.pending:  # a resend may have released it
            payment.fail_refund(refund_id, code or "REFUND_FAILED", uow.now)
            uow.save(payment)
        return payment

    def _complete(
        self, payment_id: UUID, refund_id: UUID, reason: str, reference: str, uow: UnitOfWork
    ) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if str(refund_id) not in payment.refunds.pending:
            return payment  # completed meanwhile by a resent request: that is the answer
        split = payment.refund_split(refund_id)
        wallet = uow.wallet(payment.payer_id, payment.currency) if split.wallet_minor else None
        journal = posting_rules.refund_payment(
            uuid4(), payment, refund_id, reason, uow.now, reference, wallet
        )
        uow.save(payment, journal, *([wallet] if wallet is not None else []))
        return payment
