"""Payments: requests checked against the rules, processed asynchronously, refunded.

Every transition is saved together with the journal transaction it implies, in one save.
The gateway is called outside any database transaction, with an idempotency key fixed per
attempt (`<payment id>:<attempt>`), so a call repeated after a crash or a timeout can never
charge twice; refunds reserve their amount before the gateway is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from application import results
from application.gateway import (
    RETRYABLE_FAILURES,
    Card,
    CardRejectedError,
    ChargeRequest,
    ChargeResult,
    PaymentGateway,
    RefundRequest,
)
from application.idempotency import check_same_request, command_id, request_digest
from application.ledger import Ledger
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
    GatewayRefundFailedError,
    InsufficientFundsError,
    InvalidPaymentMethodError,
    PaymentNotFoundError,
    RefundExceedsCapturedError,
    UnknownCurrencyError,
)
from domain.ids import idempotent_id, wallet_id
from domain.journal import (
    GATEWAY_CLEARING,
    JournalTransaction,
    Posting,
    payee_posting,
    system_posting,
    wallet_posting,
)
from domain.money import CURRENCY_EXPONENTS, check_currency
from domain.payment import (
    CARD,
    CREATED,
    FAILED,
    FRAUD_SUSPECTED,
    INSUFFICIENT_FUNDS,
    INVALID_AMOUNT,
    INVALID_REQUEST,
    PARTIALLY_REFUNDED,
    PROCESSING,
    SUCCESS,
    WALLET,
    Payment,
)
from domain.request_claim import RequestClaim
from domain.splits import Allocation, Split, check_splits


@dataclass(frozen=True)
class PaymentRules:
    """The failure rules' knobs (PAYLEDGER_FRAUD_THRESHOLD, PAYLEDGER_MAX_RETRIES)."""

    fraud_threshold: Decimal = Decimal("10000.00")  # major units, in the payment's currency
    retries_max: int = 3

    def fraud_threshold_minor(self, currency: str) -> int:
        return int(self.fraud_threshold * 10 ** CURRENCY_EXPONENTS[currency])


@dataclass(frozen=True)
class PaymentRequest:
    """A payment as a client asked for it (already parsed; rules not yet applied)."""

    payer_id: str
    recipient: str
    amount_minor: int
    currency: str
    method: str
    description: str = ""
    splits: tuple[Split, ...] = ()
    card: Card | None = None
    payment_method: str | None = None  # a gateway token instead of raw card details

    def digest(self) -> str:
        card = None
        if self.card is not None:  # a fingerprint of the card, never the number itself
            card = request_digest("card", number=self.card.number, exp=self.card.exp_year)
        return request_digest(
            "payment",
            payer=self.payer_id,
            recipient=self.recipient,
            amount=self.amount_minor,
            currency=self.currency,
            method=self.method,
            description=self.description,
            splits=[(s.payee, s.bps, s.amount_minor) for s in self.splits],
            card=card,
            payment_method=self.payment_method,
        )


def _payment_id_of(key: str) -> UUID | None:
    """The payment an attempt key names (`<payment id>:<attempt>`), if it names one."""
    head, _, attempt = key.partition(":")
    try:
        return UUID(head) if attempt.isdigit() else None
    except ValueError:
        return None


REFUNDABLE = (SUCCESS, PARTIALLY_REFUNDED)


class PaymentService:
    """Use cases of payments, on the ledger's event store (one log for all money)."""

    def __init__(self, ledger: Ledger, gateway: PaymentGateway, rules: PaymentRules) -> None:
        self.ledger = ledger
        self.gateway = gateway
        self.rules = rules

    # Requests.

    def create_payment(
        self, request: PaymentRequest, idempotency_key: str | None = None, scope: str = ""
    ) -> results.Written[results.Payment]:
        """Record a payment: CREATED (to be processed) or FAILED with the rule it broke."""
        digest = request.digest()
        payment_id = command_id(scope, idempotency_key)
        if request.splits and request.amount_minor > 0:
            check_splits(request.splits, request.amount_minor)

        def replay() -> results.Written[results.Payment] | None:
            return self.ledger.replay_of(
                Payment, payment_id, digest, lambda p: self._result(self._as_created(p))
            )

        def run() -> results.Written[results.Payment]:
            reason, token, brand, last4 = self._screen(request)
            payment = Payment.create(
                payment_id,
                request.payer_id,
                request.recipient,
                request.amount_minor,
                request.currency,
                request.method,
                request.description,
                request.splits,
                digest,
                self.ledger.clock.now(),
                card_token=token,
                card_brand=brand,
                card_last4=last4,
            )
            if reason:
                payment.reject(reason, self.ledger.clock.now())
            position = self.ledger.record(payment)
            return results.Written(self._result(payment), position)

        return self.ledger.execute(run, replay if idempotency_key else None)

    def get_payment(self, payment_id: UUID) -> results.Payment:
        return self._result(self._payment(payment_id, fresh=True))

    def retry_payment(
        self, payment_id: UUID, idempotency_key: str | None = None, scope: str = ""
    ) -> results.Written[results.Payment]:
        """FAILED (transient) -> PROCESSING; the processor makes the next attempt."""
        claim_id = idempotent_id(scope, idempotency_key) if idempotency_key else None
        digest = request_digest("retry_payment", payment_id=str(payment_id))

        def replay() -> results.Written[results.Payment] | None:
            return self.ledger.replay_claimed(claim_id, digest, self._result)

        def run() -> results.Written[results.Payment]:
            payment = self._payment(payment_id)
            attempt = payment.attempts + 1
            payment.retry(
                f"{payment.id}:{attempt}", self.rules.retries_max, self.ledger.clock.now()
            )
            claims = []
            if claim_id is not None:
                claims.append(
                    RequestClaim.claim(
                        claim_id, "retry_payment", digest, payment.id, payment.version
                    )
                )
            position = self.ledger.record(payment, *claims)
            return results.Written(self._result(payment), position)

        return self.ledger.execute(run, replay, payment_id)

    # Processing (the payment processor worker calls this for every payment it sees).

    def advance(self, payment_id: UUID) -> str:
        """Move a payment on: CREATED -> PROCESSING, then make the attempt. Safe to call
        again for the same payment (after a crash, or by two workers): a finished payment is
        left alone and a repeated gateway call reuses the attempt's idempotency key."""
        payment = self._payment(payment_id, fresh=True)
        if payment.status == CREATED and payment.method == WALLET:
            return self._settle_from_wallet(payment_id)  # start and settle in one save
        if payment.status == CREATED:
            # A card attempt is recorded (with its key) before the gateway is called.
            self.ledger.execute(lambda: self._start(payment_id), None, payment_id)
            payment = self._payment(payment_id, fresh=True)
        if payment.status != PROCESSING:
            return payment.status
        if payment.method == WALLET:
            return self._settle_from_wallet(payment_id)
        return self._charge_card(payment)

    def _start(self, payment_id: UUID) -> results.Written[None]:
        payment = self._payment(payment_id)
        if payment.status == CREATED:
            payment.start_processing(f"{payment.id}:1", self.ledger.clock.now())
            return results.Written(None, self.ledger.record(payment))
        return results.Written(None, None)

    def _settle_from_wallet(self, payment_id: UUID) -> str:
        def run() -> results.Written[str]:
            payment = self._payment(payment_id)
            now = self.ledger.clock.now()
            if payment.status == CREATED:
                payment.start_processing(f"{payment.id}:1", now)
            if payment.status != PROCESSING:
                return results.Written(payment.status, None)
            transaction_id = uuid4()
            account = self.ledger.wallet_account(payment.payer_id, payment.currency)
            if account.available_minor(now) < payment.amount_minor:
                # A cached wallet may be stale (credited by another process): failing a
                # payment is final, so decide on the wallet as the log has it.
                self.ledger.evict(account.id)
                account = self.ledger.wallet_account(payment.payer_id, payment.currency)
            try:
                after = account.debit(
                    payment.amount_minor,
                    payment.currency,
                    transaction_id,
                    "payment",
                    f"payment {payment.id}",
                    now,
                )
            except InsufficientFundsError:
                payment.fail(INSUFFICIENT_FUNDS, False, now)
                return results.Written(payment.status, self.ledger.record(payment))
            legs = [
                wallet_posting(
                    account.id, payment.payer_id, -payment.amount_minor, payment.currency, after
                )
            ]
            legs += self._payee_legs(payment.plan_capture(), payment.currency, 1)
            payment.succeed(transaction_id, "", now)
            journal = JournalTransaction.record(
                transaction_id, "payment", tuple(legs), payment.description, "", str(payment.id)
            )
            return results.Written(payment.status, self.ledger.record(payment, account, journal))

        payment = self._payment(payment_id)
        locked = (payment_id, wallet_id(payment.payer_id, payment.currency))
        return self.ledger.execute(run, None, *locked).value

    def _charge_card(self, payment: Payment) -> str:
        charge = self.gateway.charge(
            ChargeRequest(
                payment.amount_minor,
                payment.currency,
                payment.card_token,
                payment.gateway_key,
                payment.description,
            )
        )
        if charge.outcome == "unknown":
            return PROCESSING  # the reconciler calls again with the same key
        return self._settle_card(payment.id, payment.gateway_key, charge)

    def _settle_card(
        self, payment_id: UUID, key: str, charge: ChargeResult, *also: Aggregate
    ) -> str:
        """Record a definite gateway outcome for the attempt `key` (ignored if the payment
        has moved on); `also` are saved with it (e.g. the claim of a webhook event)."""

        def run() -> results.Written[str]:
            current = self._payment(payment_id)
            if current.status != PROCESSING or current.gateway_key != key:
                return results.Written(current.status, self.ledger.record(*also) if also else None)
            now = self.ledger.clock.now()
            if charge.outcome == "failed":
                code = charge.failure_code or "PROCESSING_ERROR"
                current.fail(code, code in RETRYABLE_FAILURES, now, charge.reference)
                return results.Written(current.status, self.ledger.record(current, *also))
            transaction_id = uuid4()
            legs = [system_posting(GATEWAY_CLEARING, -current.amount_minor, current.currency)]
            legs += self._payee_legs(current.plan_capture(), current.currency, 1)
            current.succeed(transaction_id, charge.reference, now)
            journal = JournalTransaction.record(
                transaction_id, "payment", tuple(legs), current.description, "", str(current.id)
            )
            return results.Written(current.status, self.ledger.record(current, journal, *also))

        return self.ledger.execute(run, None, payment_id).value

    def apply_gateway_event(
        self, event_id: str, event_type: str, key: str, reference: str, failure_code: str = ""
    ) -> str:
        """Settle a payment from the gateway's own word (an inbound webhook).

        Events are deduplicated by the gateway's event id (a claim saved with the outcome),
        matched to the attempt by our idempotency key (`<payment id>:<attempt>`), and only
        ever settle a payment still waiting on that very attempt. Returns what happened:
        `duplicate`, `ignored`, or the payment's status."""
        outcomes = {
            "payment_intent.succeeded": "succeeded",
            "payment_intent.payment_failed": "failed",
        }
        claim_id = idempotent_id("gateway-event", event_id)
        if self.ledger.find(RequestClaim, claim_id, fresh=True) is not None:
            return "duplicate"
        payment_id = _payment_id_of(key)
        if event_type not in outcomes or payment_id is None:
            return "ignored"
        if self.ledger.find(Payment, payment_id, fresh=True) is None:
            return "ignored"
        digest = request_digest("gateway_event", event_id=event_id)
        claim = RequestClaim.claim(claim_id, "gateway_event", digest, payment_id, 0)
        result = ChargeResult(outcomes[event_type], reference, failure_code)  # type: ignore[arg-type]
        try:
            return self._settle_card(payment_id, key, result, claim)
        except ConcurrencyConflictError:
            # The same event delivered twice at once: the other delivery saved the claim.
            if self.ledger.find(RequestClaim, claim_id, fresh=True) is not None:
                return "duplicate"
            raise

    # Refunds.

    def refund_payment(
        self,
        payment_id: UUID,
        amount_minor: int | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Payment]:
        """Refund all or part of what was captured; never more than that in total."""
        refund_id = command_id(scope, idempotency_key)
        digest = request_digest(
            "refund", payment_id=str(payment_id), amount=amount_minor, reason=reason
        )

        def reserve() -> results.Written[Payment]:
            payment = self._payment(payment_id)
            stored = payment.refund_digests.get(str(refund_id))
            if stored is not None:  # the same key again: this refund exists already
                check_same_request(stored, digest)
                return results.Written(payment, None, True)
            nothing_left = payment.refundable_minor == 0
            if amount_minor is None and nothing_left and payment.status in REFUNDABLE:
                raise RefundExceedsCapturedError("Nothing is left to refund.")
            amount = payment.refundable_minor if amount_minor is None else amount_minor
            payment.request_refund(refund_id, amount, reason, digest, self.ledger.clock.now())
            return results.Written(payment, self.ledger.record(payment))

        reserved = self.ledger.execute(reserve, None, payment_id)
        payment = reserved.value
        if reserved.replayed:
            if str(refund_id) in payment.refund_ids:
                return results.Written(self._result(payment), None, True)
            if str(refund_id) in payment.failed_refunds:
                raise GatewayRefundFailedError(
                    f"The gateway refused this refund: {payment.failed_refunds[str(refund_id)]}."
                )
            # Still pending (the gateway's answer was unknown): ask again with the same key.
        amount = payment.pending_refunds[str(refund_id)]
        reference = ""
        if payment.method == CARD:
            outcome = self.gateway.refund(
                RefundRequest(payment.gateway_reference, amount, payment.currency, str(refund_id))
            )
            if outcome.outcome == "failed":
                self.ledger.execute(
                    lambda: self._release(payment_id, refund_id, outcome.failure_code),
                    None,
                    payment_id,
                )
                raise GatewayRefundFailedError(
                    f"The gateway refused the refund: {outcome.failure_code}."
                )
            if outcome.outcome == "unknown":
                return results.Written(self.get_payment(payment_id), reserved.position)
            reference = outcome.reference
        return self.ledger.execute(
            lambda: self._complete_refund(payment_id, refund_id, amount, reason, reference),
            None,
            payment_id,
        )

    def _release(self, payment_id: UUID, refund_id: UUID, code: str) -> results.Written[None]:
        payment = self._payment(payment_id)
        if str(refund_id) in payment.failed_refunds:
            # A resent request already recorded the refusal: nothing more to release.
            return results.Written(None, None)
        payment.fail_refund(refund_id, code or "REFUND_FAILED", self.ledger.clock.now())
        return results.Written(None, self.ledger.record(payment))

    def _complete_refund(
        self, payment_id: UUID, refund_id: UUID, amount: int, reason: str, reference: str
    ) -> results.Written[results.Payment]:
        payment = self._payment(payment_id)
        if str(refund_id) in payment.refund_ids:
            # The same refund completed meanwhile (a resent request): that is the answer.
            return results.Written(self._result(payment), None)
        now = self.ledger.clock.now()
        transaction_id = uuid4()
        touched = []
        if payment.method == WALLET:
            account = self.ledger.wallet_account(payment.payer_id, payment.currency)
            after = account.credit(
                amount,
                payment.currency,
                transaction_id,
                "refund",
                f"refund of payment {payment.id}",
            )
            legs: list[Posting] = [
                wallet_posting(account.id, payment.payer_id, amount, payment.currency, after)
            ]
            touched.append(account)
        else:
            legs = [system_posting(GATEWAY_CLEARING, amount, payment.currency)]
        allocations = payment.refund(refund_id, amount, transaction_id, reason, now, reference)
        legs += self._payee_legs(allocations, payment.currency, -1)
        journal = JournalTransaction.record(
            transaction_id, "refund", tuple(legs), reason, "", str(payment.id)
        )
        position = self.ledger.record(payment, journal, *touched)
        return results.Written(self._result(payment), position)

    # Helpers.

    def _screen(self, request: PaymentRequest) -> tuple[str, str, str, str]:
        """The failure rule the request breaks (or ''), and the card token, brand, last 4."""
        if not request.recipient or not request.currency:
            return INVALID_REQUEST, "", "", ""
        try:
            check_currency(request.currency)
        except UnknownCurrencyError:
            return INVALID_REQUEST, "", "", ""
        if request.amount_minor <= 0:
            return INVALID_AMOUNT, "", "", ""
        if request.amount_minor > self.rules.fraud_threshold_minor(request.currency):
            return FRAUD_SUSPECTED, "", "", ""
        if request.method == WALLET:
            if not request.payer_id:
                return INVALID_REQUEST, "", "", ""
            try:
                self.ledger.wallet_account(request.payer_id, request.currency)
            except DomainError:
                return INVALID_REQUEST, "", "", ""
            return "", "", "", ""
        if request.method != CARD:
            raise InvalidPaymentMethodError(f"Unknown method {request.method!r}.")
        if request.card is not None:
            try:
                token = self.gateway.tokenize(request.card)
            except CardRejectedError as rejected:
                return rejected.code, "", "", request.card.number[-4:]
            return "", token.token, token.brand, token.last4
        if request.payment_method:
            return "", request.payment_method, "", ""
        return INVALID_REQUEST, "", "", ""

    @staticmethod
    def _payee_legs(allocations: tuple[Allocation, ...], currency: str, sign: int) -> list[Posting]:
        return [payee_posting(a.payee, sign * a.amount_minor, currency) for a in allocations]

    def _payment(self, payment_id: UUID, fresh: bool = False) -> Payment:
        payment = self.ledger.find(Payment, payment_id, fresh=fresh)
        if payment is None:
            raise PaymentNotFoundError()
        return payment

    def _as_created(self, payment: Payment) -> Payment:
        """The payment as the creating request left it (for idempotent replays)."""
        # A request that broke a rule was rejected in the same save: its second event.
        rejected_at_once = payment.attempts == 0 and payment.status == FAILED
        created_version = 2 if rejected_at_once else 1
        original: Payment = self.ledger.repository.get(payment.id, version=created_version)
        return original

    @staticmethod
    def _result(payment: Payment) -> results.Payment:
        return results.Payment(
            id=payment.id,
            status=payment.status,
            amount=payment.amount_minor,
            currency=payment.currency,
            payer_id=payment.payer_id,
            recipient=payment.recipient,
            method=payment.method,
            card=results.CardOut(payment.card_brand, payment.card_last4)
            if payment.card_last4
            else None,
            description=payment.description,
            failure_reason=payment.failure_reason or None,
            retryable=payment.retryable,
            attempts=payment.attempts,
            captured=payment.captured_minor,
            refunded=payment.refunded_minor,
            refundable=payment.refundable_minor,
            pending_refunds=sum(payment.pending_refunds.values()),
            splits=[results.SplitOut(s.payee, s.bps, s.amount_minor) for s in payment.splits],
            allocations=[results.PayeeAmount(a.payee, a.amount_minor) for a in payment.allocations],
            transaction_id=payment.transaction_id,
            history=[results.PaymentStep(t.status, t.reason, t.at) for t in payment.history],
            created_at=payment.created_on,
            updated_at=payment.modified_on,
        )
