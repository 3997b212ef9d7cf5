"""Payment use cases: requests checked against the rules, read, and retried.

A payment is recorded CREATED (the payment processor then moves it on, see
`application/settlement.py`) or, when it breaks a rule, FAILED with the reason: auditors see
every attempt. Text that cannot be recorded (control characters, a card number in a
description...) is refused before anything is recorded. Card numbers never enter the log: a
card is tokenized here and only its token, brand and last four digits are kept; the request
digest covers it through a keyed fingerprint (`Fingerprinter`), never a plain hash.

A payment with method `legacy` (seed 001's body names no method) names no card: the legacy
processor settles it by its own rules (`LegacyGateway`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from uuid import UUID

from application import presenters, results
from application.errors import (
    CardRejectedError,
    ForbiddenError,
    PaymentNotFoundError,
    WalletNotFoundError,
)
from application.idempotency import keyed_request
from application.ports.fingerprint import Fingerprinter
from application.ports.gateway import Card, PaymentGateway
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from domain.account import Account
from domain.errors import InvalidPaymentMethodError
from domain.ids import wallet_id
from domain.money import CURRENCY_EXPONENTS
from domain.payment import Payment
from domain.payment_terms import (
    FRAUD_SUSPECTED,
    INVALID_AMOUNT,
    INVALID_REQUEST,
    PaymentMethod,
)
from domain.splits import Split, check_splits

# Methods `create_payment` takes (wallet-first payments are charges: `/charges`).
_DIRECT_METHODS = frozenset({PaymentMethod.WALLET, PaymentMethod.CARD, PaymentMethod.LEGACY})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentRules:
    """The failure rules' knobs (PAYLEDGER_FRAUD_THRESHOLD, PAYLEDGER_MAX_RETRIES)."""

    fraud_threshold: Decimal = Decimal("10000.00")  # major units, in the payment's currency
    retries_max: int = 3

    def fraud_threshold_minor(self, currency: str) -> int:
        return int(self.fraud_threshold * 10 ** CURRENCY_EXPONENTS[currency])


def card_fingerprint(fingerprinter: Fingerprinter, card: Card) -> str:
    """What a request digest holds of a card: a keyed fingerprint of the number (spaces and
    dashes aside) and the expiry, never the number itself nor a plain hash of it."""
    digits = card.number.replace(" ", "").replace("-", "")
    return fingerprinter.fingerprint("card", f"{digits}:{card.exp_month}:{card.exp_year}")


def last4_of(number: str) -> str:
    """The last four ASCII digits of a card number as typed (for a refused card)."""
    return "".join(char for char in number if char in "0123456789")[-4:]


@dataclass(frozen=True)
class PaymentRequest:
    """A payment as a client asked for it (already parsed; rules not yet applied)."""

    payer_id: str
    recipient: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    description: str = ""
    splits: tuple[Split, ...] = ()
    card: Card | None = None
    payment_method: str | None = None  # a gateway token instead of raw card details

    def fields(self, card_print: str | None) -> dict[str, object]:
        """The request as its digest covers it (the card by its keyed fingerprint)."""
        return {
            "payer": self.payer_id,
            "recipient": self.recipient,
            "amount": self.amount_minor,
            "currency": self.currency,
            "method": str(self.method),
            "description": self.description,
            "splits": [(s.payee, s.bps, s.amount_minor) for s in self.splits],
            "card": card_print,
            "payment_method": self.payment_method,
        }

    def check_text(self) -> None:
        """Refuse text that cannot be recorded (before any rule or gateway is consulted)."""
        Payment.check_request_text(
            self.payer_id,
            self.recipient,
            self.currency,
            self.description,
            self.splits,
            self.payment_method or "",
        )


@dataclass(frozen=True)
class Screening:
    """What the rules say of a request, and the card as the gateway tokenized it."""

    failure: str = ""
    token: str = ""
    brand: str = ""
    last4: str = ""


def require_visible(caller: Principal, payment: Payment) -> None:
    """A payment is its payer's and its creator's to see (and an admin's or auditor's);
    to anyone else it does not exist."""
    if not caller.may_read_everything and caller.subject not in (
        payment.payer_id,
        payment.owner_id,
    ):
        raise PaymentNotFoundError()


def require_party(caller: Principal, payment: Payment) -> None:
    """Only the payer, the creator or an admin act on a payment."""
    require_visible(caller, payment)
    if not caller.is_admin and caller.subject not in (payment.payer_id, payment.owner_id):
        raise ForbiddenError("Auditors read payments; they do not act on them.")


def _as_payer(caller: Principal, request: PaymentRequest) -> PaymentRequest:
    """A customer pays as themself: the payer is the caller, whatever the body says (an
    admin pays for anyone). Another customer's wallet does not exist for them."""
    if caller.is_admin:
        return request
    if request.payer_id and request.payer_id != caller.subject:
        raise WalletNotFoundError(f"{request.payer_id} has no wallet you can pay from.")
    return replace(request, payer_id=caller.subject)


class PaymentService:
    """Payments on the ledger's log (one log for all money)."""

    def __init__(
        self,
        runner: CommandRunner,
        gateway: PaymentGateway,
        rules: PaymentRules,
        fingerprinter: Fingerprinter,
    ) -> None:
        self.runner = runner
        self.gateway = gateway
        self.rules = rules
        self.fingerprinter = fingerprinter

    def create_payment(
        self, caller: Principal, request: PaymentRequest, idempotency_key: str | None = None
    ) -> results.Written[results.Payment]:
        """Record a payment: CREATED (to be processed) or FAILED with the rule it broke."""
        if request.method == PaymentMethod.WALLET_FIRST:
            raise InvalidPaymentMethodError("Charge wallet first through /charges.")
        if request.method not in _DIRECT_METHODS:
            raise InvalidPaymentMethodError(f"Unknown method {request.method!r}.")
        if request.method == PaymentMethod.LEGACY and (request.card or request.payment_method):
            raise InvalidPaymentMethodError(
                "The legacy processor takes no card: send `method: card` with a card."
            )
        request.check_text()
        request = _as_payer(caller, request)
        if request.splits and request.amount_minor > 0:
            check_splits(request.splits, request.amount_minor)
        card_print = card_fingerprint(self.fingerprinter, request.card) if request.card else None
        fields = request.fields(card_print)
        keyed = keyed_request(caller, idempotency_key, "create_payment", **fields)
        command = partial(self._create, request, keyed.digest, caller.subject)
        # A replay answers what the creating request saw (the claim keeps that version).
        written = self.runner.run(command, presenters.payment, keyed)
        # The line that ties the request (its id is on every record it logs) to the payment
        # the processor's lines name.
        log.info(
            "payment %s recorded %s",
            written.value.id,
            written.value.status,
            extra={
                "payment_id": str(written.value.id),
                "status": str(written.value.status),
                "replayed": written.replayed,
            },
        )
        return written

    def _create(
        self, request: PaymentRequest, digest: str, owner_id: str, uow: UnitOfWork
    ) -> Payment:
        payment = self.add_payment(uow, uow.command_id, request, digest, owner_id)
        uow.save(payment)
        return payment

    def add_payment(
        self,
        uow: UnitOfWork,
        payment_id: UUID,
        request: PaymentRequest,
        digest: str,
        owner_id: str = "",
        reference: str = "",
    ) -> Payment:
        """A new payment, screened by the rules, for a command that saves it with its other
        changes (a registration saves its seat, itself and its payment at once)."""
        screening = self._screen(request, uow)
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
            uow.now,
            card_token=screening.token,
            card_brand=screening.brand,
            card_last4=screening.last4,
            owner_id=owner_id,
            reference=reference,
        )
        if screening.failure:
            payment.reject(screening.failure, uow.now)
        return payment

    def get_payment(self, caller: Principal, payment_id: UUID) -> results.Payment:
        """A payment and its history, from the log (strongly consistent)."""
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError, shared=True)
        require_visible(caller, payment)
        return presenters.payment(payment)

    def retry_payment(
        self, caller: Principal, payment_id: UUID, idempotency_key: str | None = None
    ) -> results.Written[results.Payment]:
        """FAILED (transient) -> PROCESSING; the processor makes the next attempt."""
        keyed = keyed_request(caller, idempotency_key, "retry_payment", payment_id=str(payment_id))
        command = partial(self._retry, caller, payment_id)
        return self.runner.run(command, presenters.payment, keyed, [payment_id])

    def _retry(self, caller: Principal, payment_id: UUID, uow: UnitOfWork) -> Payment:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        require_party(caller, payment)
        attempt = payment.attempts + 1
        payment.retry(f"{payment.id}:{attempt}", self.rules.retries_max, uow.now)
        uow.save(payment)
        return payment

    def _screen(self, request: PaymentRequest, uow: UnitOfWork) -> Screening:
        """The failure rule the request breaks (if any), and its card tokenized."""
        if not request.recipient or request.currency not in CURRENCY_EXPONENTS:
            return Screening(INVALID_REQUEST)
        if request.amount_minor <= 0:
            return Screening(INVALID_AMOUNT)
        if request.amount_minor > self.rules.fraud_threshold_minor(request.currency):
            return Screening(FRAUD_SUSPECTED)
        if request.method == PaymentMethod.WALLET:
            wallet = wallet_id(request.payer_id, request.currency)
            if not request.payer_id or uow.find(Account, wallet) is None:
                return Screening(INVALID_REQUEST)
            return Screening()
        if request.method == PaymentMethod.LEGACY:
            return Screening()  # the legacy processor decides when it settles
        if request.card is not None:
            try:
                token = self.gateway.tokenize(request.card)
            except CardRejectedError as rejected:
                return Screening(rejected.reason, last4=last4_of(request.card.number))
            return Screening("", token.token, token.brand, token.last4)
        if request.payment_method:
            return Screening("", request.payment_method)
        return Screening(INVALID_REQUEST)
