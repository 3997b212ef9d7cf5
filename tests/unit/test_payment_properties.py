"""Payment invariants under random sequences of requests (hypothesis stateful testing).

Wallet and card payments with splits, processed by the payment processor against a gateway
scripted to succeed, fail, or lose its answers; retries, gateway webhooks, partial refunds
(some refused or lost by the gateway) and wallet-first charges (payments settled by the
same processor). Each command's outcome is predicted from the state before it, and a refused
command must change nothing. After every
step: money is conserved per currency, refunds never exceed captures (per payment and per
payee), each payment's status agrees with its journal entries and with what the gateway
really took, wallets stay above their overdraft limit, finished charges hold no money.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

import pytest
from eventsourcing.popo import POPOTrackingRecorder
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.charges import ChargeRequest
from application.errors import CardRejectedError, GatewayRefundFailedError, PaymentNotFoundError
from application.payment_processor import PaymentProcessor
from application.payments import PaymentRequest, PaymentRules
from application.ports.gateway import (
    CARD_DECLINED,
    GATEWAY_UNAVAILABLE,
    INVALID_CARD,
    PROCESSING_ERROR,
    RETRYABLE_FAILURES,
    GatewayNotice,
)
from application.projection_runner import ProjectionRunner
from domain.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    InvalidPaymentTransitionError,
    PaymentNotRetryableError,
    RefundExceedsCapturedError,
    RetryLimitReachedError,
)
from domain.hold import HoldStatus
from domain.ids import idempotent_id, wallet_id
from domain.journal import PLATFORM_FEES
from domain.money import Money
from domain.payment import (
    CREATED,
    FAILED,
    PARTIALLY_REFUNDED,
    PROCESSING,
    REFUNDED,
    SUCCESS,
    Payment,
)
from domain.payment_terms import FRAUD_SUSPECTED, INVALID_AMOUNT, PaymentMethod
from domain.splits import Split
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    BAD_NUMBER_CARD,
    DECLINED_CARD,
    GOOD_CARD,
    NO_FUNDS_CARD,
    PROCESSING_ERROR_CARD,
    SUCCEED,
    UNKNOWN,
    UNKNOWN_BUT_CHARGED,
    CountingGateway,
    Step,
    card,
    fail,
    journals,
)
from tests.unit.application.support import CALLER, log_position, make_app

pytestmark = pytest.mark.unit

CUSTOMERS = ("alice", "bob")
CURRENCIES = ("USD", "JPY")
OVERDRAFTS = {"alice": 0, "bob": 500}
FRAUD_THRESHOLDS = {"USD": 1_000_000, "JPY": 10_000}  # 10000.00 USD, 10000 JPY
RETRIES_MAX = 1
REFUNDABLE = (SUCCESS, PARTIALLY_REFUNDED)
CAPTURED = (SUCCESS, PARTIALLY_REFUNDED, REFUNDED)

split_choices = st.sampled_from(
    [
        (),
        (Split("school", bps=9000), Split("platform", bps=1000)),
        (Split("platform", amount_minor=1), Split("school", bps=7000), Split("club", bps=3000)),
    ]
)
amounts = st.one_of(
    st.integers(min_value=1, max_value=3_000),
    st.sampled_from([0, -1, 10_000, 10_001, 1_000_000, 1_000_001]),
)
numbers = st.sampled_from(
    [
        GOOD_CARD,
        GOOD_CARD,
        PROCESSING_ERROR_CARD,
        PROCESSING_ERROR_CARD,
        DECLINED_CARD,
        NO_FUNDS_CARD,
        BAD_NUMBER_CARD,
    ]
)
# What the gateway answers for an attempt: () follows the card's usual behaviour.
scripts = st.sampled_from(
    [
        (),
        (),
        (SUCCEED,),
        (fail(PROCESSING_ERROR),),
        (fail(GATEWAY_UNAVAILABLE),),
        (fail(CARD_DECLINED),),
        (UNKNOWN,),
        (UNKNOWN, UNKNOWN),
        (UNKNOWN_BUT_CHARGED,),
        (UNKNOWN_BUT_CHARGED, UNKNOWN, UNKNOWN),
        (UNKNOWN_BUT_CHARGED, UNKNOWN, UNKNOWN, UNKNOWN),
        (UNKNOWN, UNKNOWN, fail(PROCESSING_ERROR)),
    ]
)
refund_scripts = st.sampled_from([(), (), (), (fail("REFUND_DECLINED"),), (UNKNOWN,)])
picks = st.integers(min_value=0, max_value=10_000)


@dataclass(frozen=True)
class PaymentSpec:
    payer: str
    currency: str
    amount: int
    by_card: bool
    splits: tuple[Split, ...]
    number: str
    script: tuple[Step, ...]


payment_specs = st.builds(
    PaymentSpec,
    payer=st.sampled_from(CUSTOMERS),
    currency=st.sampled_from(CURRENCIES),
    amount=amounts,
    by_card=st.booleans(),
    splits=split_choices,
    number=numbers,
    script=scripts,
)


def rule_broken(method: str, amount: int, currency: str, number: str | None) -> str:
    """The failure rule a request breaks in this machine's world ('' if none)."""
    if amount <= 0:
        return INVALID_AMOUNT
    if amount > FRAUD_THRESHOLDS[currency]:
        return FRAUD_SUSPECTED
    if method == PaymentMethod.CARD and number == BAD_NUMBER_CARD:
        return INVALID_CARD
    return ""


class PaymentsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.gateway = CountingGateway()
        self.app = make_app(self.clock, self.gateway, PaymentRules(retries_max=RETRIES_MAX))
        self.ledger = self.service = self.charges = self.app
        self.processor = PaymentProcessor(POPOTrackingRecorder(), self.app.settlement, self.clock)
        self.processor.reconcile_interval_s = 0.0
        self.runner = ProjectionRunner(self.app.ledger, self.processor)
        self.payments: list[UUID] = []
        self.charge_requests: dict[UUID, tuple[ChargeRequest, str]] = {}
        self.events_sent: list[tuple[str, str, str, str, str]] = []
        self.keys = 0

    def key(self, kind: str) -> str:
        self.keys += 1
        return f"{kind}-{self.keys}"

    def payment(self, payment_id: UUID) -> Payment:
        return self.app.runner.read(Payment, payment_id, PaymentNotFoundError)

    def choose(self, pick: int, prefer: bool, wanted: Callable[[Payment], bool]) -> UUID:
        """A payment: when `prefer`, one that is `wanted` (if there is one), else any."""
        candidates = [p for p in self.payments if wanted(self.payment(p))] if prefer else []
        pool = candidates or self.payments
        return pool[pick % len(pool)]

    @initialize(first=st.lists(payment_specs, min_size=2, max_size=5))
    def open_wallets_and_pay(self, first: list[PaymentSpec]) -> None:
        for customer in CUSTOMERS:
            for currency in CURRENCIES:
                self.ledger.wallets.open_wallet(CALLER, customer, currency, OVERDRAFTS[customer])
                self.ledger.wallets.credit_wallet(CALLER, customer, 5_000, currency)
        for spec in first:
            self.create(spec)
        self.runner.catch_up()

    def create(self, spec: PaymentSpec) -> None:
        method = PaymentMethod.CARD if spec.by_card else PaymentMethod.WALLET
        request = PaymentRequest(
            spec.payer if method == PaymentMethod.WALLET else "",
            "school",
            spec.amount,
            spec.currency,
            method,
            "fees",
            spec.splits,
            card(spec.number) if method == PaymentMethod.CARD else None,
        )
        key = self.key("pay")
        payment_id = idempotent_id("", key)
        self.gateway.script(f"{payment_id}:1", *spec.script)

        created = self.service.payments.create_payment(CALLER, request, key).value

        broken = rule_broken(method, spec.amount, spec.currency, spec.number)
        assert created.id == payment_id
        assert (created.status, created.failure_reason) == (
            (FAILED, broken) if broken else (CREATED, None)
        )
        self.payments.append(payment_id)

    # Commands.

    @rule(spec=payment_specs, process_now=st.booleans())
    def create_payment(self, spec: PaymentSpec, process_now: bool) -> None:
        self.create(spec)
        if process_now:
            self.runner.catch_up()

    @rule(reconcile=st.booleans(), seconds=st.sampled_from([0, 1, 60, 901]))
    def process(self, reconcile: bool, seconds: int) -> None:
        """The processor catches up (and maybe reconciles) while time passes."""
        self.clock.advance(seconds)
        self.runner.catch_up()
        if reconcile:
            self.processor.reconcile()

    @precondition(lambda self: self.payments)
    @rule(
        pick=picks,
        prefer=st.booleans(),
        script=scripts,
        times=st.integers(min_value=1, max_value=RETRIES_MAX + 2),
    )
    def retry(self, pick: int, prefer: bool, script: tuple[Any, ...], times: int) -> None:
        """The client retries a payment, maybe again and again after each new failure."""
        payment_id = self.choose(pick, prefer, lambda p: p.status == FAILED and p.retryable)
        for _ in range(times):
            if not self.retry_once(payment_id, script):
                return
            self.runner.catch_up()

    def retry_once(self, payment_id: UUID, script: tuple[Any, ...]) -> bool:
        before = self.payment(payment_id)
        position = log_position(self.ledger)
        expected: type[Exception] | None = None
        if before.status != FAILED:
            expected = InvalidPaymentTransitionError
        elif not before.retryable:
            expected = PaymentNotRetryableError
        elif before.attempts - 1 >= RETRIES_MAX:  # the model counts; it trusts no helper
            expected = RetryLimitReachedError
        if expected is not None:
            event(f"retry refused: {expected.__name__}")
            with pytest.raises(expected):
                self.service.payments.retry_payment(CALLER, payment_id)
            assert log_position(self.ledger) == position
            return False
        assert before.failure_reason in RETRYABLE_FAILURES
        self.gateway.script(f"{payment_id}:{before.attempts + 1}", *script)
        event("retry made")
        retried = self.service.payments.retry_payment(CALLER, payment_id).value
        assert (retried.status, retried.attempts) == (PROCESSING, before.attempts + 1)
        return True

    @precondition(lambda self: self.payments)
    @rule(
        pick=picks,
        prefer=st.booleans(),
        refunds=st.lists(
            st.tuples(
                st.one_of(
                    st.none(),
                    st.integers(min_value=1, max_value=300),
                    st.integers(min_value=1, max_value=3_000),
                ),
                refund_scripts,
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def refund(
        self, pick: int, prefer: bool, refunds: list[tuple[int | None, tuple[Any, ...]]]
    ) -> None:
        """One or more refunds of a payment, in a row (some refused or lost by the gateway)."""
        payment_id = self.choose(pick, prefer, lambda p: p.status in REFUNDABLE)
        for amount, script in refunds:
            self.refund_once(payment_id, amount, script)

    def refund_once(self, payment_id: UUID, amount: int | None, script: tuple[Any, ...]) -> None:
        before = self.payment(payment_id)
        position = log_position(self.ledger)
        key = self.key("refund")
        refund_id = idempotent_id("", key)
        self.gateway.script_refund(str(refund_id), *script)
        # What is left, as the model counts it: captured - refunded - reserved.
        refundable = (
            before.captured_minor - before.refunded_minor - sum(before.refunds.pending.values())
        )
        wanted = refundable if amount is None else amount
        expected: tuple[type[Exception], ...] = ()
        if before.status not in REFUNDABLE:
            # A full refund of nothing says invalid_amount (reported as a bug; see
            # test_refuses_a_full_refund_of_a_failed_payment_as_an_invalid_transition).
            expected = (InvalidPaymentTransitionError, InvalidAmountError)
        elif wanted == 0:
            # Nothing left (all reserved): reported as a bug; see
            # test_a_full_refund_with_everything_already_reserved_says_nothing_is_left.
            expected = (RefundExceedsCapturedError, InvalidAmountError)
        elif wanted > refundable:
            expected = (RefundExceedsCapturedError,)
        if expected:
            event(f"refund refused: {expected[0].__name__}")
            with pytest.raises(expected):
                self.service.refunds.refund_payment(CALLER, payment_id, amount, "r", key)
            assert log_position(self.ledger) == position
            assert all(c.idempotency_key != str(refund_id) for c in self.gateway.refund_calls)
            return
        refused = before.method == PaymentMethod.CARD and script == (fail("REFUND_DECLINED"),)
        lost = before.method == PaymentMethod.CARD and script == (UNKNOWN,)
        event(f"refund {'refused by gateway' if refused else 'lost' if lost else 'made'}")
        if refused:
            with pytest.raises(GatewayRefundFailedError):
                self.service.refunds.refund_payment(CALLER, payment_id, amount, "r", key)
            after = self.payment(payment_id)
            assert (after.refunded_minor, after.refundable_minor) == (
                before.refunded_minor,
                refundable,
            )
            return
        result = self.service.refunds.refund_payment(CALLER, payment_id, amount, "r", key).value
        if lost:
            assert result.pending_refunds == sum(before.refunds.pending.values()) + wanted
            assert result.refunded == before.refunded_minor
        else:
            assert result.refunded == before.refunded_minor + wanted
            assert result.status == (
                REFUNDED if result.refunded == result.captured else PARTIALLY_REFUNDED
            )

    @precondition(lambda self: self.payments)
    @rule(
        pick=picks,
        which=st.sampled_from(["current", "old", "any", "again"]),
        attempt_pick=picks,
    )
    def gateway_webhook(self, pick: int, which: str, attempt_pick: int) -> None:
        """The gateway tells what really happened to one attempt (maybe an old one)."""
        if which == "again" and self.events_sent:
            self.deliver_again(self.events_sent[pick % len(self.events_sent)])
            return
        wanted: dict[str, Callable[[Payment], bool]] = {
            "current": lambda p: (
                p.status == PROCESSING and p.gateway_key in self.gateway.charge_results
            ),
            "old": lambda p: p.status == PROCESSING and p.attempts > 1,
        }
        payment_id = self.choose(pick, which in wanted, wanted.get(which, bool))
        before = self.payment(payment_id)
        if before.method != PaymentMethod.CARD or before.attempts == 0:
            return
        attempt = {
            "current": before.attempts,
            "old": attempt_pick % max(1, before.attempts - 1) + 1,
        }.get(which, attempt_pick % before.attempts + 1)
        key = f"{payment_id}:{attempt}"
        truth = self.gateway.charge_results.get(key)
        if truth is None:
            return  # the gateway knows no outcome yet: it sends nothing
        kind = (
            "payment_intent.succeeded"
            if truth.outcome == "succeeded"
            else ("payment_intent.payment_failed")
        )
        sent = (self.key("evt"), kind, key, truth.reference, truth.failure_code)

        status = self.apply_event(sent)

        self.events_sent.append(sent)
        event(f"webhook -> {status}")
        after = self.payment(payment_id)
        if before.status == PROCESSING and before.gateway_key == key:
            assert status == after.status == (SUCCESS if truth.outcome == "succeeded" else FAILED)
        else:
            assert status == before.status
            assert (after.status, after.version) == (before.status, before.version)

    def apply_event(self, sent: tuple[str, str, str, str, str]) -> str:
        """A webhook as the gateway adapter hands it over (in the application's words)."""
        event_id, kind, key, reference, code = sent
        outcome = "succeeded" if kind == "payment_intent.succeeded" else "failed"
        notice = GatewayNotice(event_id, key, outcome, reference, code)
        return self.app.settlement.apply_gateway_notice(notice)

    def deliver_again(self, sent: tuple[str, str, str, str, str]) -> None:
        position = log_position(self.ledger)
        assert self.apply_event(sent) == "duplicate"
        assert log_position(self.ledger) == position

    @rule(
        customer=st.sampled_from([*CUSTOMERS, "carol"]),
        currency=st.sampled_from(CURRENCIES),
        amount=st.one_of(
            st.integers(min_value=1, max_value=3_000), st.integers(min_value=4_000, max_value=9_000)
        ),
        number=st.one_of(st.none(), numbers),
        script=scripts,
    )
    def charge(
        self, customer: str, currency: str, amount: int, number: str | None, script: Any
    ) -> None:
        key = self.key("charge")
        charge_id = idempotent_id("", key)
        self.gateway.script(f"{charge_id}:1", *script)
        available = 0
        if customer in CUSTOMERS:
            # A charge takes the wallet's own money only, never its overdraft.
            wallet = self.ledger.wallets.get_wallet(CALLER, customer, currency)
            available = max(0, wallet.balance - wallet.held)
        position = log_position(self.ledger)
        expected: type[Exception] | None = None
        if number == BAD_NUMBER_CARD:
            expected = CardRejectedError
        elif number is None and available < amount:
            expected = InsufficientFundsError
        request = ChargeRequest(
            customer, "shop", Money(amount, currency), card=card(number) if number else None
        )
        if expected is not None:
            with pytest.raises(expected):
                self.app.charges.create_charge(CALLER, request, key)
            assert log_position(self.ledger) == position
            return

        result = self.app.charges.create_charge(CALLER, request, key).value

        assert result.wallet_amount == min(available, amount)
        assert result.wallet_amount + result.card_amount == amount
        if result.card_amount == 0:
            assert result.status == SUCCESS
        sources = [
            n for n, a in (("wallet", result.wallet_amount), ("card", result.card_amount)) if a
        ]
        event(f"charge {result.status} by {'+'.join(sources)}")
        self.charge_requests[charge_id] = (request, key)

    @rule(pick=picks, prefer=st.booleans())
    def replay_charge(self, pick: int, prefer: bool) -> None:
        """The client sends a charge again with its key: a pending one asks the card again."""
        pool = list(self.charge_requests)
        if not pool:
            return
        if prefer:
            pool = [
                c for c in pool if self.app.charges.get_charge(CALLER, c).status == PROCESSING
            ] or pool
        charge_id = pool[pick % len(pool)]
        request, key = self.charge_requests[charge_id]
        before = self.app.charges.get_charge(CALLER, charge_id)
        position = log_position(self.ledger)

        again = self.app.charges.create_charge(CALLER, request, key)

        if before.status != PROCESSING:
            assert (again.replayed, again.value) == (True, before)
            assert log_position(self.ledger) == position
        else:
            event(f"pending charge asked again: {again.value.status}")
            assert (again.value.wallet_amount, again.value.card_amount) == (
                before.wallet_amount,
                before.card_amount,
            )

    # Invariants.

    @invariant()
    def money_is_conserved_and_every_account_within_its_limits(self) -> None:
        recorded = journals(self.ledger)
        totals: dict[str, int] = defaultdict(int)
        balances: dict[UUID, int] = defaultdict(int)
        for journal in recorded:
            in_journal: dict[str, int] = defaultdict(int)
            for posting in journal.postings:
                in_journal[posting.currency] += posting.amount_minor
                totals[posting.currency] += posting.amount_minor
                balances[posting.account_id] += posting.amount_minor
            assert set(in_journal.values()) == {0}
        assert set(totals.values()) <= {0}
        for journal in recorded:
            for posting in journal.postings:
                if posting.account_code.startswith("payable:") or posting.account_code == (
                    f"system:{PLATFORM_FEES}"
                ):
                    # A payee never gives back more than it was paid.
                    assert balances[posting.account_id] >= 0, posting.account_code
        for customer in CUSTOMERS:
            for currency in CURRENCIES:
                wallet = self.ledger.wallets.get_wallet(CALLER, customer, currency)
                assert wallet.balance >= -OVERDRAFTS[customer]
                assert wallet.balance == balances[wallet_id(customer, currency)]

    @invariant()
    def every_payment_agrees_with_its_journal_and_the_gateway(self) -> None:
        recorded = journals(self.ledger)
        for payment_id in self.payments:
            payment = self.payment(payment_id)
            ref = str(payment_id)
            captures = [j for j in recorded if (j.kind, j.reference) == ("payment", ref)]
            refunds = [j for j in recorded if (j.kind, j.reference) == ("refund", ref)]
            taken = self.gateway.captured_for(f"{payment_id}:")
            assert len(taken) <= 1  # never charged twice, whatever happened
            if payment.status in CAPTURED:
                (capture,) = captures
                assert capture.originator_id == payment.transaction_id
                assert payment.captured_minor == payment.amount_minor
                payees = {a.payee: a.amount_minor for a in payment.allocations}
                assert sum(p.amount_minor for p in capture.postings if p.amount_minor > 0) == (
                    payment.amount_minor
                )
                if payment.method == PaymentMethod.CARD:
                    (charged,) = taken
                    assert charged.amount_minor == payment.amount_minor
                    assert self.gateway.reference_of(charged.idempotency_key) == (
                        payment.gateway_reference
                    )
            else:
                assert captures == refunds == []
                assert payment.captured_minor == 0
                payees = {}
                if payment.status in (CREATED, FAILED):
                    assert taken == []
            refunded = sum(
                p.amount_minor for j in refunds for p in j.postings if p.amount_minor > 0
            )
            pending = sum(payment.refunds.pending.values())
            assert refunded == payment.refunded_minor
            assert len(refunds) == len(payment.refunds.done)
            assert payment.refunded_minor + pending <= payment.captured_minor
            for payee, amount in payment.refunds.by_payee.items():
                assert amount <= payees[payee]
            assert (payment.status == REFUNDED) == (
                payment.captured_minor > 0 and payment.refunded_minor == payment.captured_minor
            )
            if payment.method == PaymentMethod.CARD and payment.status in CAPTURED:
                at_gateway = self.gateway.refunded_for(payment.gateway_reference)
                assert payment.refunded_minor <= at_gateway <= payment.refunded_minor + pending

    @invariant()
    def finished_charges_hold_no_money_and_match_their_journal(self) -> None:
        recorded = journals(self.ledger)
        now = self.clock.now()
        held: dict[tuple[str, str], int] = defaultdict(int)
        for charge_id in self.charge_requests:
            charge = self.app.charges.get_charge(CALLER, charge_id)
            entries = [j for j in recorded if (j.kind, j.reference) == ("payment", str(charge_id))]
            assert len(entries) == (1 if charge.status == SUCCESS else 0)
            card_taken = self.gateway.captured_for(f"{charge_id}:")
            assert len(card_taken) <= 1  # never charged twice
            if charge.status == SUCCESS:
                assert len(card_taken) == (1 if charge.card_amount else 0)
            elif charge.status == FAILED and card_taken:
                # The card paid but the wallet part could not be taken: the card got it back.
                reference = self.gateway.reference_of(f"{charge_id}:1")
                assert self.gateway.refunded_for(reference) == charge.card_amount
            if not (charge.wallet_amount and charge.card_amount):
                continue
            hold = self.ledger.holds.get_hold(CALLER, uuid5(charge_id, "hold"))
            if charge.status in (CREATED, PROCESSING):
                assert hold.status == HoldStatus.PENDING  # held until the card's answer
                held[(charge.customer_id, charge.currency)] += hold.amount
            else:  # a finished charge captured or released its reservation
                assert hold.status in (HoldStatus.POSTED, HoldStatus.VOIDED)
        # Only charges reserve money here: each wallet holds exactly what pending charges hold.
        for customer in CUSTOMERS:
            for currency in CURRENCIES:
                wallet = self.app.runner.read_wallet(customer, currency)
                assert wallet.held_minor(now) == held[(customer, currency)]


PaymentsMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_payment_invariants_hold_under_any_sequence_of_requests = PaymentsMachine.TestCase
