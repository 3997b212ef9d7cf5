"""Ledger invariants under random sequences of commands (hypothesis stateful testing).

A small model predicts each command's outcome (success or which error). After every step:
money is conserved per currency, every journal entry balances, no wallet goes below minus its
overdraft limit, each wallet's balance equals the sum of its journal postings and the model,
and the projected read model equals a replay of the log and the aggregates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.errors import ApplicationError, WalletNotFoundError
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from application.results import Written
from domain.errors import (
    DomainError,
    HoldAmountExceededError,
    HoldExpiredError,
    HoldNotPendingError,
    InsufficientFundsError,
    SameWalletTransferError,
    WalletExistsError,
)
from domain.ids import wallet_id
from domain.journal import JournalTransaction, Posting
from tests.support.views import memory_ledger_view
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import CALLER, log_position, make_app, read_log

pytestmark = pytest.mark.unit

CUSTOMERS = ("alice", "bob", "carol")
CURRENCIES = ("USD", "JPY")  # JPY has no minor unit (exponent 0)
Wallet = tuple[str, str]

customers = st.sampled_from(CUSTOMERS)
currencies = st.sampled_from(CURRENCIES)
amounts = st.integers(min_value=1, max_value=1500)
overdrafts = st.sampled_from((0, 0, 500))
expiries = st.sampled_from((None, 30, 60, 120))


@dataclass
class WalletModel:
    overdraft_limit: int
    balance: int = 0


@dataclass
class HoldModel:
    wallet: Wallet
    amount: int
    expires_at: datetime | None
    state: str = "pending"

    def reserves(self, now: datetime) -> bool:
        return self.state == "pending" and not self.is_expired(now)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.ledger = make_app(self.clock)
        self.view = memory_ledger_view()
        self.runner = ProjectionRunner(self.ledger.ledger, LedgerProjection(view=self.view))
        self.wallets: dict[Wallet, WalletModel] = {}
        self.holds: dict[UUID, HoldModel] = {}
        self.keyed: list[tuple[Callable[[], Written[Any]], Written[Any]]] = []
        self.keys_used = 0
        self.position = 0
        self.journals: list[tuple[Posting, ...]] = []

    # The model.

    def held(self, wallet: Wallet) -> int:
        now = self.clock.now()
        return sum(h.amount for h in self.holds.values() if h.wallet == wallet and h.reserves(now))

    def available(self, wallet: Wallet) -> int:
        model = self.wallets[wallet]
        return model.balance - self.held(wallet) + model.overdraft_limit

    def next_key(self, keyed: bool) -> str | None:
        if not keyed:
            return None
        self.keys_used += 1
        return f"key-{self.keys_used}"

    def attempt(
        self, expected: type[Exception] | None, call: Callable[[], Written[Any]]
    ) -> Written[Any] | None:
        """Run a command; it must fail with exactly the expected error, or succeed."""
        refusal: Exception | None = None
        try:
            written = call()
        except (DomainError, ApplicationError) as error:
            refusal = error
        if refusal is not None:
            assert expected is not None, f"unexpected {refusal!r}"
            assert type(refusal) is expected, f"{refusal!r} where {expected.__name__} was expected"
            return None
        assert expected is None, f"succeeded where {expected.__name__} was expected"
        assert written.replayed is False
        return written

    def remember(self, key: str | None, call: Callable[[], Written[Any]], written: Any) -> None:
        if key is not None and written is not None:
            self.keyed.append((call, written))

    # Rules.

    @initialize()
    def open_and_fund_starting_wallets(self) -> None:
        # Carol has no JPY wallet yet: opening one (or failing to find it) stays possible.
        starting = {
            ("alice", "USD"): (0, 1000),
            ("bob", "USD"): (500, 0),
            ("carol", "USD"): (0, 300),
            ("alice", "JPY"): (500, 2000),
            ("bob", "JPY"): (0, 100),
        }
        for (customer, currency), (limit, funds) in starting.items():
            self.ledger.wallets.open_wallet(CALLER, customer, currency, overdraft_limit_minor=limit)
            if funds:
                self.ledger.wallets.credit_wallet(CALLER, customer, funds, currency)
            self.wallets[(customer, currency)] = WalletModel(limit, funds)

    @rule(customer=customers, currency=currencies, limit=overdrafts)
    def open_wallet(self, customer: str, currency: str, limit: int) -> None:
        wallet = (customer, currency)
        expected = WalletExistsError if wallet in self.wallets else None
        if self.attempt(
            expected, lambda: self.ledger.wallets.open_wallet(CALLER, customer, currency, limit)
        ):
            self.wallets[wallet] = WalletModel(limit)

    @rule(customer=customers, currency=currencies, amount=amounts, keyed=st.booleans())
    def credit(self, customer: str, currency: str, amount: int, keyed: bool) -> None:
        wallet, key = (customer, currency), self.next_key(keyed)
        expected = None if wallet in self.wallets else WalletNotFoundError

        def call() -> Written[Any]:
            return self.ledger.wallets.credit_wallet(
                CALLER, customer, amount, currency, idempotency_key=key
            )

        written = self.attempt(expected, call)
        if written:
            self.wallets[wallet].balance += amount
        self.remember(key, call, written)

    @rule(customer=customers, currency=currencies, amount=amounts, keyed=st.booleans())
    def debit(self, customer: str, currency: str, amount: int, keyed: bool) -> None:
        wallet, key = (customer, currency), self.next_key(keyed)
        expected: type[DomainError] | None = None
        if wallet not in self.wallets:
            expected = WalletNotFoundError
        elif amount > self.available(wallet):
            expected = InsufficientFundsError

        def call() -> Written[Any]:
            return self.ledger.wallets.debit_wallet(
                CALLER, customer, amount, currency, idempotency_key=key
            )

        written = self.attempt(expected, call)
        if written:
            self.wallets[wallet].balance -= amount
        self.remember(key, call, written)

    @rule(
        payer=customers, payee=customers, currency=currencies, amount=amounts, keyed=st.booleans()
    )
    def transfer(self, payer: str, payee: str, currency: str, amount: int, keyed: bool) -> None:
        origin, destination, key = (payer, currency), (payee, currency), self.next_key(keyed)
        expected: type[DomainError] | None = None
        if payer == payee:
            expected = SameWalletTransferError
        elif origin not in self.wallets or destination not in self.wallets:
            expected = WalletNotFoundError
        elif amount > self.available(origin):
            expected = InsufficientFundsError

        def call() -> Written[Any]:
            return self.ledger.wallets.transfer(
                CALLER, payer, payee, amount, currency, idempotency_key=key
            )

        written = self.attempt(expected, call)
        if written:
            self.wallets[origin].balance -= amount
            self.wallets[destination].balance += amount
        self.remember(key, call, written)

    @rule(customer=customers, currency=currencies, amount=amounts, expires_in_s=expiries)
    def place_hold(
        self, customer: str, currency: str, amount: int, expires_in_s: int | None
    ) -> None:
        wallet = (customer, currency)
        expected: type[DomainError] | None = None
        if wallet not in self.wallets:
            expected = WalletNotFoundError
        elif amount > self.available(wallet):
            expected = InsufficientFundsError
        written = self.attempt(
            expected,
            lambda: self.ledger.holds.place_hold(CALLER, customer, amount, currency, expires_in_s),
        )
        if written:
            now = self.clock.now()
            expires_at = now + timedelta(seconds=expires_in_s) if expires_in_s else None
            self.holds[written.value.id] = HoldModel(wallet, amount, expires_at)

    @rule(
        index=st.integers(min_value=0, max_value=99),
        extra=st.integers(min_value=-1500, max_value=50),
        full=st.booleans(),
        to=st.one_of(st.none(), customers),
    )
    def post_hold(self, index: int, extra: int, full: bool, to: str | None) -> None:
        if not self.holds:
            return
        hold_id = list(self.holds)[index % len(self.holds)]
        hold = self.holds[hold_id]
        # `extra` > 0 asks for more than was held; otherwise a part (at least 1) of it.
        amount = hold.amount if full else max(1, hold.amount + extra)
        customer, currency = hold.wallet
        expected: type[DomainError] | None = None
        if hold.state == "pending" and hold.is_expired(self.clock.now()):
            expected = HoldExpiredError
        elif hold.state != "pending":
            expected = HoldNotPendingError
        elif amount > hold.amount:
            expected = HoldAmountExceededError
        elif to == customer:
            expected = SameWalletTransferError
        elif to is not None and (to, currency) not in self.wallets:
            expected = WalletNotFoundError
        written = self.attempt(
            expected,
            lambda: self.ledger.holds.post_hold(CALLER, hold_id, None if full else amount, to),
        )
        if written:
            hold.state = "posted"
            self.wallets[hold.wallet].balance -= amount
            if to is not None:
                self.wallets[(to, currency)].balance += amount

    @rule(index=st.integers(min_value=0, max_value=99))
    def void_hold(self, index: int) -> None:
        if not self.holds:
            return
        hold_id = list(self.holds)[index % len(self.holds)]
        hold = self.holds[hold_id]
        expected = None if hold.state == "pending" else HoldNotPendingError
        if self.attempt(expected, lambda: self.ledger.holds.void_hold(CALLER, hold_id)):
            hold.state = "voided"

    @rule(seconds=st.integers(min_value=1, max_value=90))
    def advance_time(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(index=st.integers(min_value=0, max_value=99))
    def replay_a_keyed_command(self, index: int) -> None:
        if not self.keyed:
            return
        call, original = self.keyed[index % len(self.keyed)]
        position = log_position(self.ledger)

        again = call()

        assert again.replayed is True
        assert again.value == original.value
        assert log_position(self.ledger) == position

    # Invariants.

    def read_new_journal_entries(self) -> None:
        for position, event in read_log(self.ledger, after=self.position):
            if isinstance(event, JournalTransaction.Recorded):
                self.journals.append(event.postings)
            self.position = position

    def posted_balances(self) -> dict[UUID, int]:
        totals: dict[UUID, int] = defaultdict(int)
        for postings in self.journals:
            for posting in postings:
                totals[posting.account_id] += posting.amount_minor
        return totals

    @invariant()
    def every_journal_entry_balances_and_money_is_conserved(self) -> None:
        self.read_new_journal_entries()
        per_currency: dict[str, int] = defaultdict(int)
        for postings in self.journals:
            entry: dict[str, int] = defaultdict(int)
            for posting in postings:
                entry[posting.currency] += posting.amount_minor
                per_currency[posting.currency] += posting.amount_minor
            assert all(total == 0 for total in entry.values()), postings
        assert all(total == 0 for total in per_currency.values()), per_currency

    @invariant()
    def wallets_equal_their_postings_the_model_and_respect_their_limits(self) -> None:
        self.read_new_journal_entries()
        posted = self.posted_balances()
        for (customer, currency), model in self.wallets.items():
            wallet = self.ledger.wallets.get_wallet(CALLER, customer, currency)
            assert wallet.balance >= -wallet.overdraft_limit
            assert wallet.balance == posted[wallet.id] == model.balance
            assert wallet.held == self.held((customer, currency))
            assert wallet.available == self.available((customer, currency))

    @invariant()
    def the_projection_equals_the_replayed_log_and_the_aggregates(self) -> None:
        self.read_new_journal_entries()
        self.runner.catch_up()
        assert self.view.position() == (log_position(self.ledger) or None)
        expected = self.posted_balances()
        for customer, currency in self.wallets:
            expected.setdefault(wallet_id(customer, currency), 0)
        projected = {b.account_id: b.balance for b in self.view.balances()}
        assert projected == dict(expected)
        for customer, currency in self.wallets:
            wallet = self.ledger.wallets.get_wallet(CALLER, customer, currency)
            assert projected[wallet.id] == wallet.balance

    def teardown(self) -> None:
        # A view rebuilt from scratch must agree with the one that followed step by step.
        fresh = memory_ledger_view()
        ProjectionRunner(self.ledger.ledger, LedgerProjection(view=fresh)).catch_up()
        assert sorted(fresh.balances(), key=repr) == sorted(self.view.balances(), key=repr)


LedgerMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
TestLedgerProperties = LedgerMachine.TestCase
