"""Wallet use cases: open, read, credit, debit, transfer, and read a journal transaction.

Opening a wallet also lists its currency in the customer's `WalletDirectory`, in the same
save, so a customer's wallets are always found from the log (`LedgerQueries.wallets_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from uuid import UUID

from application import presenters, results
from application.errors import ForbiddenError, TransactionNotFoundError, WalletNotFoundError
from application.idempotency import keyed_request
from application.principal import Principal
from application.runner import CommandRunner, UnitOfWork
from domain import posting_rules
from domain.account import Account
from domain.errors import SameWalletTransferError, WalletExistsError
from domain.ids import wallet_directory_id, wallet_id
from domain.journal import JournalTransaction
from domain.money import Money, check_currency, check_customer_id
from domain.wallet_directory import WalletDirectory

DEFAULT_CURRENCY = "USD"  # of a wallet opened without one (PAYLEDGER_DEFAULT_CURRENCY)

# A posting rule that moves money into or out of one wallet (top-up, payout).
OneWalletRule = Callable[[UUID, Account, Money, str, datetime, str], JournalTransaction]


@dataclass(frozen=True)
class Movement:
    """Money into or out of one customer's wallet, as requested."""

    operation: str  # the request's name for idempotency: credit, debit
    customer_id: str
    amount: Money
    description: str


class WalletService:
    """Wallets and the money that moves between them and the outside world."""

    def __init__(self, runner: CommandRunner, default_currency: str = DEFAULT_CURRENCY) -> None:
        self.runner = runner
        self.default_currency = check_currency(default_currency)

    def open_wallet(
        self,
        caller: Principal,
        customer_id: str,
        currency: str | None = None,
        overdraft_limit_minor: int = 0,
        idempotency_key: str | None = None,
    ) -> results.Written[results.Wallet]:
        """Open the customer's wallet in a currency (at most one per currency); without a
        currency, in the default one (seed 003 opens wallets that way)."""
        check_customer_id(customer_id)
        if not caller.may_act_for(customer_id):
            raise ForbiddenError("A customer opens wallets of their own only.")
        currency = check_currency(self.default_currency if currency is None else currency)
        request = keyed_request(
            caller,
            idempotency_key,
            "open_wallet",
            customer_id=customer_id,
            currency=currency,
            overdraft_limit_minor=overdraft_limit_minor,
        )
        return self.runner.run(
            partial(self._open, customer_id, currency, overdraft_limit_minor),
            self._present_wallet,
            request,
            locks=[wallet_id(customer_id, currency), wallet_directory_id(customer_id)],
        )

    def _open(
        self, customer_id: str, currency: str, overdraft_limit_minor: int, uow: UnitOfWork
    ) -> Account:
        if uow.find(Account, wallet_id(customer_id, currency)) is not None:
            raise WalletExistsError(f"{customer_id} already has a {currency} wallet.")
        account = Account.open(customer_id, currency, overdraft_limit_minor)
        directory = uow.find(WalletDirectory, wallet_directory_id(customer_id))
        directory = directory or WalletDirectory.start(customer_id)
        directory.list_wallet(currency)
        uow.save(account, directory)
        return account

    def get_wallet(self, caller: Principal, customer_id: str, currency: str) -> results.Wallet:
        """The wallet straight from the event store (strongly consistent)."""
        caller.require_reads(customer_id, WalletNotFoundError)
        return self._present_wallet(self.runner.read_wallet(customer_id, currency, shared=True))

    def credit_wallet(
        self,
        caller: Principal,
        customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Transaction]:
        """Top up a wallet with money from outside: external funding -> wallet. Only an
        admin records a top-up (the money arrived by a channel the ledger does not see); a
        customer cannot credit themself from nowhere."""
        caller.require_admin()
        move = Movement("credit", customer_id, Money.positive(amount_minor, currency), description)
        return self._move_one(caller, move, posting_rules.top_up, idempotency_key)

    def debit_wallet(
        self,
        caller: Principal,
        customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Transaction]:
        """Pay money out of a wallet: wallet -> external payouts."""
        move = Movement("debit", customer_id, Money.positive(amount_minor, currency), description)
        return self._move_one(caller, move, posting_rules.payout, idempotency_key)

    def _move_one(
        self,
        caller: Principal,
        move: Movement,
        rule: OneWalletRule,
        idempotency_key: str | None,
    ) -> results.Written[results.Transaction]:
        """Money in or out of one wallet, by `rule` (a posting rule of one wallet)."""
        caller.require_acts_for(move.customer_id, WalletNotFoundError)
        request = keyed_request(
            caller,
            idempotency_key,
            move.operation,
            customer_id=move.customer_id,
            amount=move.amount.amount_minor,
            currency=move.amount.currency,
            description=move.description,
        )
        # A busy wallet's credits and debits queue on its lock: they run as one batch with
        # one commit (see `CommandRunner.run_combined`).
        return self.runner.run_combined(
            partial(self._post_one, move, rule, request.digest),
            presenters.transaction,
            request,
            wallet_id(move.customer_id, move.amount.currency),
        )

    def _post_one(
        self, move: Movement, rule: OneWalletRule, digest: str, uow: UnitOfWork
    ) -> JournalTransaction:
        wallet = uow.wallet(move.customer_id, move.amount.currency)
        journal = rule(uow.command_id, wallet, move.amount, move.description, uow.now, digest)
        uow.save(journal, wallet)
        return journal

    def transfer(
        self,
        caller: Principal,
        from_customer_id: str,
        to_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> results.Written[results.Transaction]:
        """Move money between two wallets of the same currency, atomically."""
        caller.require_acts_for(from_customer_id, WalletNotFoundError)
        if from_customer_id == to_customer_id:
            raise SameWalletTransferError()
        amount = Money.positive(amount_minor, currency)
        request = keyed_request(
            caller,
            idempotency_key,
            "transfer",
            source=from_customer_id,
            target=to_customer_id,
            amount=amount_minor,
            currency=currency,
            description=description,
        )
        command = partial(
            self._transfer, from_customer_id, to_customer_id, amount, description, request.digest
        )
        locks = [wallet_id(from_customer_id, currency), wallet_id(to_customer_id, currency)]
        return self.runner.run(command, presenters.transaction, request, locks)

    def _transfer(
        self,
        source_id: str,
        target_id: str,
        amount: Money,
        description: str,
        digest: str,
        uow: UnitOfWork,
    ) -> JournalTransaction:
        source = uow.wallet(source_id, amount.currency)
        target = uow.wallet(target_id, amount.currency)
        journal = posting_rules.transfer(
            uow.command_id, source, target, amount, description, uow.now, digest
        )
        uow.save(journal, source, target)
        return journal

    def get_transaction(self, caller: Principal, transaction_id: UUID) -> results.Transaction:
        """A journal transaction with its postings, from the log: a customer sees those
        that touch one of their wallets."""
        journal = self.runner.read(JournalTransaction, transaction_id, TransactionNotFoundError)
        if not caller.may_read_everything and not any(
            posting.account_id == wallet_id(caller.subject, posting.currency)
            for posting in journal.postings
        ):
            raise TransactionNotFoundError()
        return presenters.transaction(journal)

    def _present_wallet(self, account: Account) -> results.Wallet:
        return presenters.wallet(account, self.runner.clock.now())
