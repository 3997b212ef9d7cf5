"""Hold use cases: reserve wallet money, then post (capture) it or void it."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from uuid import UUID

from application import presenters, results
from application.errors import HoldNotFoundError, WalletNotFoundError
from application.idempotency import keyed_request
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from domain import posting_rules
from domain.errors import InvalidExpiryError
from domain.hold import Hold
from domain.ids import wallet_id
from domain.journal import JournalTransaction
from domain.money import Money

HOLD_TTL_MAX = timedelta(days=30)


class HoldService:
    """Two-phase movements of wallet money."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def place_hold(
        self,
        caller: Principal,
        customer_id: str,
        amount_minor: int,
        currency: str,
        expires_in_s: int | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Hold]:
        """Reserve wallet money; it stays unavailable until posted, voided or expired."""
        if expires_in_s is not None and not 0 < expires_in_s <= HOLD_TTL_MAX.total_seconds():
            raise InvalidExpiryError(
                f"expires_in_s must be between 1 and {int(HOLD_TTL_MAX.total_seconds())}."
            )
        caller.require_acts_for(customer_id, WalletNotFoundError)
        amount = Money.positive(amount_minor, currency)
        request = keyed_request(
            caller,
            idempotency_key,
            "place_hold",
            customer_id=customer_id,
            amount=amount_minor,
            currency=currency,
            expires_in_s=expires_in_s,
            description=description,
        )
        command = partial(
            self._place, customer_id, amount, expires_in_s, description, request.digest
        )
        # A replay answers what the placing request saw: the hold as placed, PENDING.
        return self.runner.run(
            command, presenters.placed_hold, request, [wallet_id(customer_id, currency)]
        )

    def _place(
        self,
        customer_id: str,
        amount: Money,
        expires_in_s: int | None,
        description: str,
        digest: str,
        uow: UnitOfWork,
    ) -> Hold:
        wallet = uow.wallet(customer_id, amount.currency)
        expires_at = uow.now + timedelta(seconds=expires_in_s) if expires_in_s else None
        hold_id = uow.command_id
        wallet.place_hold(hold_id, amount.amount_minor, amount.currency, expires_at, uow.now)
        hold = Hold.place(
            hold_id,
            wallet.id,
            customer_id,
            amount.amount_minor,
            amount.currency,
            expires_at,
            description,
            digest,
        )
        uow.save(hold, wallet)
        return hold

    def get_hold(self, caller: Principal, hold_id: UUID) -> results.Hold:
        hold = self.runner.read(Hold, hold_id, HoldNotFoundError)
        caller.require_reads(hold.customer_id, HoldNotFoundError)
        return presenters.hold(hold, self.runner.clock.now())

    def post_hold(
        self,
        caller: Principal,
        hold_id: UUID,
        amount_minor: int | None = None,
        to_customer_id: str | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Transaction]:
        """Capture a pending hold, in full or in part, to another wallet or out of the
        ledger (external payouts); the rest of the reservation is released."""
        request = keyed_request(
            caller,
            idempotency_key,
            "post_hold",
            hold_id=str(hold_id),
            amount=amount_minor,
            to_customer_id=to_customer_id,
            description=description,
        )
        command = partial(
            self._post, caller, hold_id, amount_minor, to_customer_id, description, request.digest
        )
        return self.runner.run(command, presenters.transaction, request, [hold_id])

    def _post(
        self,
        caller: Principal,
        hold_id: UUID,
        amount_minor: int | None,
        to_customer_id: str | None,
        description: str,
        digest: str,
        uow: UnitOfWork,
    ) -> JournalTransaction:
        hold = uow.get(Hold, hold_id, HoldNotFoundError)
        caller.require_acts_for(hold.customer_id, HoldNotFoundError)
        holder = uow.wallet(hold.customer_id, hold.currency)
        amount = hold.amount_minor if amount_minor is None else amount_minor
        hold.require_postable(amount, uow.now)  # the hold answers before the target wallet
        target = None
        if to_customer_id is not None:
            target = uow.wallet(to_customer_id, hold.currency)
        journal = posting_rules.post_hold(
            uow.command_id, hold, holder, amount, target, description, uow.now, digest
        )
        uow.save(journal, hold, holder, *([target] if target else []))
        return journal

    def void_hold(
        self,
        caller: Principal,
        hold_id: UUID,
        reason: str = "voided",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Hold]:
        """Release a pending (or expired) hold without moving money."""
        request = keyed_request(
            caller, idempotency_key, "void_hold", hold_id=str(hold_id), reason=reason
        )
        return self.runner.run(
            partial(self._void, caller, hold_id, reason, request.digest),
            self._present,
            request,
            [hold_id],
        )

    def _void(
        self, caller: Principal, hold_id: UUID, reason: str, digest: str, uow: UnitOfWork
    ) -> Hold:
        hold = uow.get(Hold, hold_id, HoldNotFoundError)
        caller.require_acts_for(hold.customer_id, HoldNotFoundError)
        hold.void(reason, digest, uow.now)
        wallet = uow.wallet(hold.customer_id, hold.currency)
        wallet.void_hold(hold_id, reason)
        uow.save(hold, wallet)
        return hold

    def _present(self, hold: Hold) -> results.Hold:
        return presenters.hold(hold, self.runner.clock.now())
