"""Charges (seed 003): the customer's wallet pays what it can, a card pays the rest.

A charge is a payment with method `wallet_first`: one aggregate, one state machine, one
status vocabulary, refundable like any payment. Creating it decides the wallet's share and
reserves it with a hold (a wallet that covers everything pays at once, in the same save);
the card's part is then settled by the same machinery as every card payment
(`PaymentSettlement.advance`), called here at once and again by the payment processor and
its reconciler, so a charge whose gateway answer was lost still settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from uuid import UUID, uuid4, uuid5

from application import presenters, results
from application.errors import ChargeNotFoundError, PaymentNotFoundError, WalletNotFoundError
from application.idempotency import keyed_request
from application.payments import card_fingerprint, require_visible
from application.ports.fingerprint import Fingerprinter
from application.ports.gateway import Card, PaymentGateway
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from application.settlement import PaymentSettlement
from domain import posting_rules
from domain.account import Account
from domain.errors import InsufficientFundsError, InvalidPaymentMethodError, InvalidRecipientError
from domain.hold import Hold
from domain.ids import wallet_id
from domain.money import Money, check_customer_id
from domain.payment import Payment
from domain.payment_terms import UNSETTLED, PaymentMethod
from domain.splits import Split, check_splits
from domain.text import PARTY_LENGTH_MAX, TOKEN_LENGTH_MAX, has_control_characters


@dataclass(frozen=True)
class ChargeRequest:
    """A charge as a client asked for it."""

    customer_id: str
    recipient: str
    amount: Money
    card: Card | None = None
    payment_method: str | None = None  # a gateway token instead of raw card details
    description: str = ""
    splits: tuple[Split, ...] = ()

    def fields(self, card_print: str | None) -> dict[str, object]:
        """The request as its digest covers it (the card by its keyed fingerprint)."""
        return {
            "customer": self.customer_id,
            "recipient": self.recipient,
            "amount": self.amount.amount_minor,
            "currency": self.amount.currency,
            "card": card_print,
            "payment_method": self.payment_method,
            "description": self.description,
            "splits": [(s.payee, s.bps, s.amount_minor) for s in self.splits],
        }


@dataclass(frozen=True)
class Tokenized:
    token: str = ""
    brand: str = ""
    last4: str = ""


class ChargeService:
    """Wallet-first charges with a card for the rest."""

    def __init__(
        self,
        runner: CommandRunner,
        gateway: PaymentGateway,
        settlement: PaymentSettlement,
        fingerprinter: Fingerprinter,
    ) -> None:
        self.runner = runner
        self.gateway = gateway
        self.settlement = settlement
        self.fingerprinter = fingerprinter

    def create_charge(
        self, caller: Principal, charge: ChargeRequest, idempotency_key: str | None = None
    ) -> results.Written[results.Charge]:
        """Charge the customer; answers once the charge has settled (or its card's answer
        is unknown: then it is PROCESSING and settles later)."""
        self._check(charge)
        caller.require_acts_for(charge.customer_id, WalletNotFoundError)
        card_print = card_fingerprint(self.fingerprinter, charge.card) if charge.card else None
        fields = charge.fields(card_print)
        request = keyed_request(caller, idempotency_key, "create_charge", **fields)
        card = self._tokenize(charge)
        command = partial(self._create, charge, card, request.digest, caller.subject)
        locks = [wallet_id(charge.customer_id, charge.amount.currency)]
        created = self.runner.run(command, presenters.charge, request, locks)
        if created.value.status not in UNSETTLED:
            return created
        self.settlement.advance(created.value.id)
        settled = self.get_charge(caller, created.value.id)
        return results.Written(settled, created.position, created.replayed)

    @staticmethod
    def _check(charge: ChargeRequest) -> None:
        """Refuse what no charge can be (nothing is recorded)."""
        check_customer_id(charge.customer_id)
        recipient, method = charge.recipient, charge.payment_method or ""
        if not 0 < len(recipient) <= PARTY_LENGTH_MAX or has_control_characters(recipient):
            raise InvalidRecipientError()
        if len(method) > TOKEN_LENGTH_MAX or has_control_characters(method):
            raise InvalidPaymentMethodError()
        Payment.check_request_text(
            charge.customer_id,
            recipient,
            charge.amount.currency,
            charge.description,
            charge.splits,
            method,
        )
        check_splits(charge.splits, charge.amount.amount_minor)

    def _create(
        self, charge: ChargeRequest, card: Tokenized, digest: str, owner_id: str, uow: UnitOfWork
    ) -> Payment:
        return add_charge(uow, uow.command_id, charge, card, digest, owner_id)

    def get_charge(self, caller: Principal, charge_id: UUID) -> results.Charge:
        """A charge, from the log (strongly consistent)."""
        try:
            payment = self.runner.read(Payment, charge_id, PaymentNotFoundError)
        except PaymentNotFoundError:
            raise ChargeNotFoundError() from None
        if payment.method != PaymentMethod.WALLET_FIRST:
            raise ChargeNotFoundError()
        try:
            require_visible(caller, payment)
        except PaymentNotFoundError:
            raise ChargeNotFoundError() from None
        return presenters.charge(payment)

    def _tokenize(self, charge: ChargeRequest) -> Tokenized:
        if charge.card is not None:
            token = self.gateway.tokenize(charge.card)  # may raise CardRejectedError
            return Tokenized(token.token, token.brand, token.last4)
        if charge.payment_method:
            return Tokenized(charge.payment_method)  # checked as text by create_charge
        return Tokenized()


def add_charge(
    uow: UnitOfWork,
    payment_id: UUID,
    charge: ChargeRequest,
    card: Tokenized,
    digest: str,
    owner_id: str,
    reference: str = "",
) -> Payment:
    """Add the charge `payment_id` to the command `uow` (saved with the command's other
    changes): the wallet's share reserved, or paid at once when it covers everything.
    Raises `InsufficientFundsError` when the wallet falls short and there is no card.
    The card's part is settled afterwards (`PaymentSettlement.advance`)."""
    minor, currency = charge.amount.amount_minor, charge.amount.currency
    wallet = uow.find(Account, wallet_id(charge.customer_id, currency))
    # The wallet pays from its own money only: the card pays the rest before any
    # overdraft would be used.
    own = max(0, wallet.balance_minor - wallet.held_minor(uow.now)) if wallet else 0
    wallet_share = min(own, minor)
    if wallet_share < minor and not card.token:
        raise InsufficientFundsError(
            f"The wallet covers {wallet_share} of {minor} and no card was given."
        )
    card_part = minor - wallet_share
    hold_id = uuid5(payment_id, "hold") if wallet_share and card_part else None
    payment = Payment.create(
        payment_id,
        charge.customer_id,
        charge.recipient,
        minor,
        currency,
        PaymentMethod.WALLET_FIRST,
        charge.description,
        charge.splits,
        digest,
        uow.now,
        card_token=card.token,
        card_brand=card.brand,
        card_last4=card.last4,
        wallet_share_minor=wallet_share,
        hold_id=hold_id,
        owner_id=owner_id,
        reference=reference,
    )
    if card_part == 0 and wallet is not None:  # the wallet pays it all, now
        payment.start_processing(f"{payment.id}:1", uow.now)
        journal = posting_rules.capture_payment(uuid4(), payment, "", uow.now, wallet)
        uow.save(payment, wallet, journal)
    elif hold_id is not None and wallet is not None:  # reserved until the card has paid
        wallet.place_hold(hold_id, wallet_share, currency, None, uow.now)
        hold = Hold.place(
            hold_id,
            wallet.id,
            charge.customer_id,
            wallet_share,
            currency,
            None,
            f"payment {payment.id}",
            digest,
        )
        uow.save(payment, wallet, hold)
    else:
        uow.save(payment)
    return payment
