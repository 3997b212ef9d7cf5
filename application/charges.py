"""Charges (seed 003): the wallet pays what it can, a card pays the rest.

Two saves around one gateway call. The first records the charge and reserves the wallet part
with a hold; the gateway is called with a key fixed by the charge id; the second save either
captures the hold and records the whole journal transaction, or voids the hold. A charge the
wallet covers alone is one save with a plain debit.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4, uuid5

from application import results
from application.gateway import (
    Card,
    CardRejectedError,
    ChargeRequest,
    PaymentGateway,
    RefundRequest,
)
from application.idempotency import command_id, request_digest
from application.ledger import Ledger
from domain.account import Account
from domain.charge import FAILED, PENDING, Charge
from domain.errors import (
    CardRejectedError as CardRefusedError,
)
from domain.errors import (
    ChargeNotFoundError,
    GatewayRefundFailedError,
    InsufficientFundsError,
    InvalidPaymentMethodError,
    InvalidRecipientError,
)
from domain.hold import PENDING as PENDING_HOLD
from domain.hold import Hold
from domain.ids import wallet_id
from domain.journal import (
    GATEWAY_CLEARING,
    JournalTransaction,
    Posting,
    payee_posting,
    system_posting,
    wallet_posting,
)
from domain.money import check_amount, check_currency, check_customer_id
from domain.splits import PAYEE_LENGTH_MAX, Split, check_splits

# Long enough for any gateway call; a charge interrupted by a crash frees the wallet then.
CHARGE_HOLD_TTL = timedelta(minutes=15)
WALLET_HOLD_LAPSED = "WALLET_HOLD_LAPSED"


class ChargeService:
    """Wallet-first charges with a card fallback."""

    def __init__(self, ledger: Ledger, gateway: PaymentGateway) -> None:
        self.ledger = ledger
        self.gateway = gateway

    def create_charge(
        self,
        customer_id: str,
        recipient: str,
        amount_minor: int,
        currency: str,
        card: Card | None = None,
        payment_method: str | None = None,
        description: str = "",
        splits: tuple[Split, ...] = (),
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Charge]:
        check_customer_id(customer_id)
        if not 0 < len(recipient) <= PAYEE_LENGTH_MAX or not recipient.isprintable():
            raise InvalidRecipientError()
        check_amount(amount_minor)
        check_currency(currency)
        check_splits(splits, amount_minor)
        card_fingerprint = request_digest("card", number=card.number) if card else None
        digest = request_digest(
            "charge",
            customer=customer_id,
            recipient=recipient,
            amount=amount_minor,
            currency=currency,
            card=card_fingerprint,
            payment_method=payment_method,
            description=description,
            splits=[(s.payee, s.bps, s.amount_minor) for s in splits],
        )
        charge_id = command_id(scope, idempotency_key)

        def replay() -> results.Written[results.Charge] | None:
            return self.ledger.replay_of(Charge, charge_id, digest, self._result)

        if idempotency_key and (found := replay()) is not None:
            if found.value.status == PENDING:  # the card's answer was unknown: ask again
                return self._settle(charge_id, found)
            return found
        token, brand, last4 = self._tokenize(card, payment_method)

        def reserve() -> results.Written[results.Charge]:
            account = self.ledger.find(Account, wallet_id(customer_id, currency))
            now = self.ledger.clock.now()
            # The wallet pays from its own money only: a card pays the rest before any
            # overdraft would be used.
            available = max(0, account.balance_minor - account.held_minor(now)) if account else 0
            wallet_minor = min(available, amount_minor)
            if wallet_minor < amount_minor and not token:
                raise InsufficientFundsError(
                    f"The wallet covers {wallet_minor} of {amount_minor} and no card was given."
                )
            card_minor = amount_minor - wallet_minor
            hold_id = uuid5(charge_id, "hold") if wallet_minor and card_minor else None
            charge = Charge.create(
                charge_id,
                customer_id,
                recipient,
                amount_minor,
                currency,
                wallet_minor,
                hold_id,
                token,
                brand,
                last4,
                description,
                splits,
                digest,
            )
            touched: list[object] = [charge]
            if card_minor == 0 and account is not None:
                touched += self._capture(charge, account, None, "")
            elif hold_id is not None and account is not None:
                account.place_hold(hold_id, wallet_minor, currency, now + CHARGE_HOLD_TTL, now)
                touched += [
                    account,
                    Hold.place(
                        hold_id,
                        account.id,
                        customer_id,
                        wallet_minor,
                        currency,
                        now + CHARGE_HOLD_TTL,
                        f"charge {charge_id}",
                        digest,
                    ),
                ]
            position = self.ledger.record(*touched)  # type: ignore[arg-type]
            return results.Written(self._result(charge), position)

        locked = wallet_id(customer_id, currency)
        reserved = self.ledger.execute(reserve, replay if idempotency_key else None, locked)
        if reserved.value.status != PENDING:
            return reserved
        return self._settle(charge_id, reserved)

    def _settle(
        self, charge_id: UUID, reserved: results.Written[results.Charge]
    ) -> results.Written[results.Charge]:
        """Charge the card part (the key is fixed by the charge, so asking again after an
        unknown answer never charges twice), then capture or release the wallet part."""
        pending = self._charge(charge_id, fresh=True)
        currency, customer_id = pending.currency, pending.customer_id
        outcome = self.gateway.charge(
            ChargeRequest(
                pending.card_minor,
                currency,
                pending.card_token,
                f"charge:{charge_id}",
                pending.description,
            )
        )
        if outcome.outcome == "unknown":
            return reserved  # stays PENDING: a replay asks again; the hold lapses otherwise

        def settle() -> results.Written[results.Charge]:
            charge = self._charge(charge_id)
            if charge.status != PENDING:
                return results.Written(self._result(charge), None)
            account = self.ledger.find(Account, wallet_id(customer_id, currency))
            hold = self.ledger.find(Hold, charge.hold_id) if charge.hold_id else None
            touched: list[object] = [charge]
            if outcome.outcome == "succeeded":
                try:
                    touched += self._capture(charge, account, hold, outcome.reference)
                except InsufficientFundsError:
                    lapsed.append(outcome.reference)
                    charge = self._charge(charge_id)
                    charge.fail(WALLET_HOLD_LAPSED, outcome.reference)
                    touched = [charge]
            else:
                charge.fail(outcome.failure_code or "PROCESSING_ERROR", outcome.reference)
                if hold is not None and account is not None:
                    hold.void("charge_failed", "", self.ledger.clock.now())
                    account.void_hold(hold.id, "charge_failed")
                    touched += [hold, account]
            position = self.ledger.record(*touched)  # type: ignore[arg-type]
            return results.Written(self._result(charge), position)

        lapsed: list[str] = []
        settled = self.ledger.execute(settle, None, wallet_id(customer_id, currency))
        if lapsed:
            # The card paid but the wallet part can no longer be taken: give the card back.
            refund = self.gateway.refund(
                RefundRequest(
                    lapsed[-1], settled.value.card_amount, currency, f"charge-refund:{charge_id}"
                )
            )
            if refund.outcome != "succeeded":
                # Never keep a card's money silently: the caller must hear about it.
                raise GatewayRefundFailedError(
                    f"Charge {charge_id} failed ({WALLET_HOLD_LAPSED}) after the card paid "
                    f"{settled.value.card_amount}; giving it back was {refund.outcome} "
                    f"({refund.failure_code or 'no code'}): it needs a manual refund."
                )
        return settled

    def get_charge(self, charge_id: UUID) -> results.Charge:
        return self._result(self._charge(charge_id, fresh=True))

    def _capture(
        self, charge: Charge, account: Account | None, hold: Hold | None, reference: str
    ) -> list[object]:
        """Journal the whole amount: wallet part (captured hold or debit) + card part."""
        transaction_id = uuid4()
        now = self.ledger.clock.now()
        legs: list[Posting] = []
        touched: list[object] = []
        if charge.wallet_minor and account is not None:
            if hold is not None and (
                hold.status(now) != PENDING_HOLD or str(hold.id) not in account.holds
            ):
                # The reservation lapsed while the card was charged (a slow gateway): let it
                # go and take the wallet part as a plain debit, if the wallet still can.
                if hold.state == PENDING_HOLD:
                    hold.void("lapsed", "", now)
                    account.void_hold(hold.id, "lapsed")
                    touched.append(hold)
                hold = None
            if hold is not None:
                hold.post(charge.wallet_minor, transaction_id, now)
                after = account.capture_hold(
                    hold.id, charge.wallet_minor, transaction_id, f"charge {charge.id}"
                )
                touched.append(hold)
            else:
                after = account.debit(
                    charge.wallet_minor,
                    charge.currency,
                    transaction_id,
                    "charge",
                    f"charge {charge.id}",
                    now,
                )
            legs.append(
                wallet_posting(
                    account.id, charge.customer_id, -charge.wallet_minor, charge.currency, after
                )
            )
            touched.append(account)
        if charge.card_minor:
            legs.append(system_posting(GATEWAY_CLEARING, -charge.card_minor, charge.currency))
        legs += [
            payee_posting(a.payee, a.amount_minor, charge.currency) for a in charge.plan_capture()
        ]
        charge.succeed(transaction_id, reference)
        touched.append(
            JournalTransaction.record(
                transaction_id, "charge", tuple(legs), charge.description, "", str(charge.id)
            )
        )
        return touched

    def _tokenize(self, card: Card | None, payment_method: str | None) -> tuple[str, str, str]:
        if card is not None:
            try:
                token = self.gateway.tokenize(card)
            except CardRejectedError as rejected:
                raise CardRefusedError(f"{rejected.code}: {rejected}") from None
            return token.token, token.brand, token.last4
        if payment_method:
            if not payment_method.isprintable() or len(payment_method) > 255:
                raise InvalidPaymentMethodError()
            return payment_method, "", ""
        return "", "", ""

    def _charge(self, charge_id: UUID, fresh: bool = False) -> Charge:
        charge = self.ledger.find(Charge, charge_id, fresh=fresh)
        if charge is None:
            raise ChargeNotFoundError()
        return charge

    @staticmethod
    def _result(charge: Charge) -> results.Charge:
        return results.Charge(
            id=charge.id,
            status=charge.status,
            customer_id=charge.customer_id,
            recipient=charge.recipient,
            amount=charge.amount_minor,
            currency=charge.currency,
            wallet_amount=charge.wallet_minor,
            card_amount=charge.card_minor,
            card=results.CardOut(charge.card_brand, charge.card_last4)
            if charge.card_last4
            else None,
            description=charge.description,
            failure_reason=charge.failure_reason or None if charge.status == FAILED else None,
            allocations=[results.PayeeAmount(a.payee, a.amount_minor) for a in charge.allocations],
            transaction_id=charge.transaction_id,
            created_at=charge.created_on,
            updated_at=charge.modified_on,
        )
