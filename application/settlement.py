"""Settlement: moving a payment from CREATED to its outcome, once, whoever asks.

The payment processor (a follower of the log) calls `advance` for every new or retried
payment, the reconciler calls it again for payments whose outcome was unknown, and a
charge's own request calls it at once. Every call is safe to repeat: a finished payment is
left alone, an attempt is recorded (with its gateway idempotency key `<payment id>:<attempt>`)
before the gateway is called, and a repeated gateway call reuses that key, so a card is never
charged twice. The gateway is never called inside a database transaction.

Payments with method `legacy` (seed 001's) go to the legacy processor (`LegacyGateway`),
every other payment to the card gateway, whatever that is (`gateway_of`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from application.errors import ConcurrencyConflictError, PaymentNotFoundError
from application.idempotency import Request, request_digest
from application.ports.gateway import (
    LEGACY_ACCOUNT_TOKEN,
    RETRYABLE_FAILURES,
    ChargeRequest,
    ChargeResult,
    GatewayNotice,
    LegacyGateway,
    PaymentGateway,
    RefundRequest,
)
from application.ports.metrics import NO_METRICS, Metrics
from application.results import Written
from application.runner import CommandRunner, UnitOfWork
from application.wallet_settlement import (
    UNSETTLED,
    WALLET_BATCH_MAX,
    Settled,
    is_unsettled_wallet_payment,
    locks_of,
    settle_from_wallet,
    settle_wallet_batch,
)
from domain import posting_rules
from domain.errors import InsufficientFundsError
from domain.hold import Hold, HoldStatus
from domain.ids import wallet_id
from domain.payment import Payment
from domain.payment_terms import (
    WALLET_HOLD_LAPSED,
    PaymentMethod,
    PaymentStatus,
)

log = logging.getLogger(__name__)

GATEWAY_EVENT_SCOPE = "gateway-event"


def payment_id_of(attempt_key: str) -> UUID | None:
    """The payment an attempt key names (`<payment id>:<attempt>`), if it names one."""
    head, _, attempt = attempt_key.partition(":")
    try:
        return UUID(head) if attempt.isdigit() else None
    except ValueError:
        return None


def gateway_of(payment: Payment, card: PaymentGateway, legacy: LegacyGateway) -> PaymentGateway:
    """The gateway that charges (and refunds) this payment: the legacy processor for
    seed 001's legacy payments, the card gateway for the rest."""
    return legacy if payment.method == PaymentMethod.LEGACY else card


def _status(payment: Payment) -> PaymentStatus:
    return payment.status


def _as_is(settled: list[Settled]) -> list[Settled]:
    return settled


def _locks(payment: Payment) -> list[UUID]:
    """The payment, and the wallet it takes money from: commands on one wallet queue in this
    process instead of colliding in the database."""
    if payment.wallet_minor:
        return [payment.id, wallet_id(payment.payer_id, payment.currency)]
    return [payment.id]


class PaymentSettlement:
    """Advances payments: wallet debits, card charges, and wallet-first charges."""

    def __init__(
        self,
        runner: CommandRunner,
        gateway: PaymentGateway,
        legacy: LegacyGateway,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.runner = runner
        self.gateway = gateway
        self.legacy = legacy
        self.metrics = metrics

    def advance(self, payment_id: UUID) -> PaymentStatus:
        """Move a payment on as far as it can go now; returns where it stands."""
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        if payment.method == PaymentMethod.WALLET and payment.status in (
            PaymentStatus.CREATED,
            PaymentStatus.PROCESSING,
        ):
            return self._run(payment, self._settle_from_wallet)  # starts and settles at once
        if payment.status == PaymentStatus.CREATED:
            # The attempt (and its gateway key) is in the log before the gateway is asked.
            payment = self.runner.run(
                partial(self._start, payment_id), lambda p: p, None, [payment_id]
            ).value
        if payment.status != PaymentStatus.PROCESSING:
            return payment.status
        outcome = self._ask_gateway(payment)
        if outcome.outcome == "unknown":
            return PaymentStatus.PROCESSING  # the reconciler asks again with the same key
        settle = partial(self._settle_card, key=payment.gateway_key, outcome=outcome)
        status = self._run(payment, settle)
        if status == PaymentStatus.FAILED and outcome.outcome == "succeeded":
            self._give_card_back(payment_id, outcome)
        return status

    def settle_batch(self, versions: Mapping[UUID, int]) -> dict[UUID, PaymentStatus]:
        """Settle what a batch of the log asks for without asking each payment's gateway:
        `versions` maps each payment to the version of its event in the batch (its
        creation, or an attempt starting). Returns where those it dealt with stand; the rest
        are left for `advance`. It deals with:

        - payments this process already holds at or past that version in a final state
          (for instance the processor's own `ProcessingStarted`, written with the outcome):
          `advance` would find them settled; a later retry brings a new event of its own;
        - unsettled wallet payments, settled together (see `wallet_settlement`), one command
          and one commit per `WALLET_BATCH_MAX`. A chunk that keeps conflicting is left out:
          `advance` then takes its payments one by one.
        """
        statuses: dict[UUID, PaymentStatus] = {}
        wallet_payments: list[Payment] = []
        for payment_id, version in versions.items():
            payment = self._peek(payment_id)
            if payment is None or payment.version < version:
                continue  # unknown here, or behind the log: `advance` reads the log
            if is_unsettled_wallet_payment(payment):
                wallet_payments.append(payment)
            elif payment.status not in UNSETTLED:
                statuses[payment_id] = payment.status
        for start in range(0, len(wallet_payments), WALLET_BATCH_MAX):
            chunk = wallet_payments[start : start + WALLET_BATCH_MAX]
            command = partial(settle_wallet_batch, [p.id for p in chunk])
            try:
                written = self.runner.run(command, _as_is, None, locks_of(chunk))
            except ConcurrencyConflictError:
                log.warning("a batch of %d wallet payments kept conflicting", len(chunk))
                continue
            for settled in written.value:
                statuses[settled.payment.id] = settled.payment.status
                if settled.moved and written.position is not None:
                    self._observe_settled(settled.payment)
        return statuses

    def _peek(self, payment_id: UUID) -> Payment | None:
        """The payment as this process holds it (cached, else read once), not to be changed:
        not copied. None if there is no such payment."""
        try:
            found: object = self.runner.ledger.repository.get(payment_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Payment) else None

    def cancel_checkout(self, payment_id: UUID) -> PaymentStatus:
        """The payer left a hosted checkout through its cancel link: close the session at
        the gateway, then settle the payment as the gateway then says (cancelled, or paid
        if it was paid meanwhile). Anything but an unsettled checkout is left alone."""
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        if payment.method != PaymentMethod.CHECKOUT or payment.status != PaymentStatus.PROCESSING:
            return payment.status
        outcome = self.gateway.cancel_checkout(payment.checkout_session_id)
        if outcome.outcome == "unknown":
            return PaymentStatus.PROCESSING
        return self._run(
            payment, partial(self._settle_card, key=payment.gateway_key, outcome=outcome)
        )

    def _ask_gateway(self, payment: Payment) -> ChargeResult:
        """Charge the card with the attempt's key (a repeat is the same charge), or, for a
        hosted checkout, ask where its session stands (the payer pays on the gateway's page)."""
        if payment.method == PaymentMethod.CHECKOUT:
            return self.gateway.checkout_status(payment.checkout_session_id)
        legacy = payment.method == PaymentMethod.LEGACY
        return gateway_of(payment, self.gateway, self.legacy).charge(
            ChargeRequest(
                payment.card_minor,
                payment.currency,
                LEGACY_ACCOUNT_TOKEN if legacy else payment.card_token,
                payment.gateway_key,
                payment.description,
            )
        )

    def apply_gateway_notice(self, notice: GatewayNotice) -> str:
        """Settle a payment from the gateway's own word (an inbound webhook).

        Notices are deduplicated by the gateway's event id (a claim saved with the outcome),
        matched to the attempt by our key, and only ever settle a payment still waiting on
        that very attempt. Returns `duplicate`, `ignored`, or the payment's status."""
        payment_id = payment_id_of(notice.attempt_key)
        if notice.outcome == "unknown" or payment_id is None:
            return "ignored"
        try:
            payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        except PaymentNotFoundError:
            return "ignored"
        request = Request(
            "gateway_event",
            request_digest("gateway_event", event_id=notice.event_id),
            GATEWAY_EVENT_SCOPE,
            notice.event_id,
        )
        result = ChargeResult(notice.outcome, notice.reference, notice.failure_code)
        command = partial(self._settle_card, payment_id, key=notice.attempt_key, outcome=result)
        written = self.runner.run(command, _status, request, _locks(payment))
        self._observe(payment, written)
        return "duplicate" if written.replayed else str(written.value)

    def _run(
        self, payment: Payment, command: Callable[[UUID, UnitOfWork], Payment]
    ) -> PaymentStatus:
        written = self.runner.run(partial(command, payment.id), _status, None, _locks(payment))
        self._observe(payment, written)
        return written.value

    def _observe(self, payment: Payment, written: Written[PaymentStatus]) -> None:
        """Report an outcome this very call recorded (it saved something: a replay or a
        payment that had already moved on saves nothing), with the time since the request."""
        if written.replayed or written.position is None:
            return
        if written.value in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            lag_s = (self.runner.clock.now() - payment.requested_at).total_seconds()
            self.metrics.payment_settled(str(written.value), lag_s)

    def _observe_settled(self, payment: Payment) -> None:
        """`_observe` for a payment a batch moved (and saved)."""
        if payment.status in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            lag_s = (self.runner.clock.now() - payment.requested_at).total_seconds()
            self.metrics.payment_settled(str(payment.status), lag_s)

    def _start(self, payment_id: UUID, uow: UnitOfWork) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if payment.status == PaymentStatus.CREATED:
            payment.start_processing(f"{payment.id}:1", uow.now)
            uow.save(payment)
        return payment

    def _settle_from_wallet(self, payment_id: UUID, uow: UnitOfWork) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if payment.status not in (PaymentStatus.CREATED, PaymentStatus.PROCESSING):
            return payment
        wallet = uow.wallet(payment.payer_id, payment.currency)
        journal = settle_from_wallet(uow, payment, wallet)
        if journal is None:
            uow.save(payment)
        else:
            uow.save(payment, wallet, journal)
        return payment

    def _settle_card(
        self, payment_id: UUID, uow: UnitOfWork, *, key: str, outcome: ChargeResult
    ) -> Payment:
        """Record a definite gateway outcome for the attempt `key` (nothing changes if the
        payment has moved on)."""
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if payment.status != PaymentStatus.PROCESSING or payment.gateway_key != key:
            return payment
        hold = uow.find(Hold, payment.hold_id) if payment.hold_id else None
        wallet = uow.wallet(payment.payer_id, payment.currency) if payment.wallet_minor else None
        if outcome.outcome == "failed":
            code = outcome.failure_code or "PROCESSING_ERROR"
            payment.fail(code, code in RETRYABLE_FAILURES, uow.now, outcome.reference)
            if hold is not None and wallet is not None and hold.state == HoldStatus.PENDING:
                hold.void("payment_failed", "", uow.now)
                wallet.void_hold(hold.id, "payment_failed")
            uow.save(payment, *(a for a in (hold, wallet) if a is not None))
            return payment
        if hold is not None and hold.status(uow.now) != HoldStatus.PENDING:
            hold = None  # voided by hand meanwhile: take the wallet part as a plain debit
        try:
            journal = posting_rules.capture_payment(
                uuid4(), payment, outcome.reference, uow.now, wallet, hold
            )
        except InsufficientFundsError:
            if not uow.fresh:
                raise
            payment.fail(WALLET_HOLD_LAPSED, False, uow.now, outcome.reference)
            uow.save(payment)
            return payment
        uow.save(payment, journal, *(a for a in (hold, wallet) if a is not None))
        return payment

    def _give_card_back(self, payment_id: UUID, charged: ChargeResult) -> None:
        """The card paid but the wallet part could not be taken: refund the card (a fixed
        key, so asking again never refunds twice). A failure here needs a person."""
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        if payment.failure_reason != WALLET_HOLD_LAPSED:
            return
        refund = self.gateway.refund(
            RefundRequest(
                charged.reference, payment.card_minor, payment.currency, f"{payment_id}:give-back"
            )
        )
        if refund.outcome != "succeeded":
            log.error(
                "payment %s failed (%s) after its card paid %s; giving it back was %s (%s): "
                "it needs a manual refund",
                payment_id,
                WALLET_HOLD_LAPSED,
                payment.card_minor,
                refund.outcome,
                refund.failure_code or "no code",
            )
