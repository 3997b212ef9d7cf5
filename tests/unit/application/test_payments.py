"""PaymentService: the failure rules, processing, retries, refunds and gateway webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.errors import (
    GatewayRefundFailedError,
    IdempotencyKeyReusedError,
    PaymentNotFoundError,
)
from application.payments import PaymentRequest, PaymentRules
from application.ports.gateway import (
    CARD_DECLINED,
    EXPIRED_CARD,
    GATEWAY_UNAVAILABLE,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    PROCESSING_ERROR,
    Card,
    ChargeRequest,
    GatewayNotice,
    Outcome,
    RefundRequest,
    RefundResult,
)
from application.results import Payment as PaymentOut
from domain.errors import (
    InvalidAmountError,
    InvalidPaymentMethodError,
    InvalidPaymentTransitionError,
    InvalidSplitError,
    PaymentNotRetryableError,
    RefundExceedsCapturedError,
    RetryLimitReachedError,
)
from domain.ids import idempotent_id, wallet_id
from domain.payment import (
    CREATED,
    FAILED,
    PARTIALLY_REFUNDED,
    PROCESSING,
    REFUNDED,
    SUCCESS,
    Payment,
)
from domain.payment_terms import FRAUD_SUSPECTED, INVALID_AMOUNT, INVALID_REQUEST, PaymentMethod
from domain.splits import Split
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    BAD_NUMBER_CARD,
    DECLINED_CARD,
    EXPIRED_AT_BANK_CARD,
    GOOD_CARD,
    NO_FUNDS_CARD,
    PROCESSING_ERROR_CARD,
    SUCCEED,
    UNKNOWN,
    UNKNOWN_BUT_CHARGED,
    CountingGateway,
    assert_money_conserved,
    card,
    fail,
    journals,
    payee_balance,
    token_of,
)
from tests.unit.application.support import (
    CALLER,
    POPO_ENV,
    App,
    count_events,
    ledger_state,
    log_position,
    make_app,
    make_ledger,
    read_log,
    wallet_state,
)

pytestmark = pytest.mark.unit

ALICE = ("alice", "USD")
SPLITS = (Split("school", bps=9000), Split("platform", bps=1000))


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def service(app: App) -> App:
    return app


@pytest.fixture
def funded(app: App) -> App:
    """Alice holds 1000.00 USD in her wallet."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 100_000, "USD")
    return app


@pytest.fixture(autouse=True)
def money_is_conserved(app: App) -> Iterator[None]:
    """After every scenario, all postings of each currency still add up to zero."""
    yield
    assert_money_conserved(app)


def wallet_request(
    amount_minor: int = 25_000, splits: tuple[Split, ...] = SPLITS, **changes: Any
) -> PaymentRequest:
    fields: dict[str, Any] = {
        "payer_id": "alice",
        "recipient": "school",
        "amount_minor": amount_minor,
        "currency": "USD",
        "method": PaymentMethod.WALLET,
        "description": "term fees",
        "splits": splits,
    }
    return PaymentRequest(**{**fields, **changes})


def card_request(
    number: str = GOOD_CARD, amount_minor: int = 5_000, **changes: Any
) -> PaymentRequest:
    fields: dict[str, Any] = {
        "payer_id": "",
        "recipient": "merchant",
        "amount_minor": amount_minor,
        "currency": "USD",
        "method": PaymentMethod.CARD,
        "description": "order 7",
        "card": card(number),
    }
    return PaymentRequest(**{**fields, **changes})


def create(service: App, request: PaymentRequest, key: str | None = None) -> PaymentOut:
    return service.payments.create_payment(CALLER, request, key).value


def processed(service: App, request: PaymentRequest) -> PaymentOut:
    payment = create(service, request)
    service.settlement.advance(payment.id)
    return service.payments.get_payment(CALLER, payment.id)


def postings_of(app: App, kind: str, payment_id: UUID) -> list[list[tuple[str, int]]]:
    return [
        [(p.account_code, p.amount_minor) for p in journal.postings]
        for journal in journals(app, kind, str(payment_id))
    ]


def gateway_state(gateway: CountingGateway) -> tuple[int, int, int]:
    return len(gateway.charge_calls), len(gateway.refund_calls), len(gateway.captured)


# The failure rules: every request is recorded; a broken rule makes it FAILED at once.

RULE_BREAKERS = [
    ("no recipient", wallet_request(recipient=""), INVALID_REQUEST),
    ("no currency", wallet_request(currency=""), INVALID_REQUEST),
    ("unknown currency", wallet_request(currency="XYZ"), INVALID_REQUEST),
    ("lower-case currency", wallet_request(currency="usd"), INVALID_REQUEST),
    ("wallet without payer", wallet_request(payer_id=""), INVALID_REQUEST),
    ("payer without wallet", wallet_request(payer_id="nobody"), INVALID_REQUEST),
    ("payer without wallet in currency", wallet_request(currency="EUR"), INVALID_REQUEST),
    ("card without card details", card_request(card=None), INVALID_REQUEST),
    ("zero amount", wallet_request(0), INVALID_AMOUNT),
    ("negative amount", wallet_request(-100, splits=()), INVALID_AMOUNT),
    ("negative amount with splits", wallet_request(-1), INVALID_AMOUNT),
    ("just above 10000.00 USD", wallet_request(1_000_001), FRAUD_SUSPECTED),
    ("card above 10000.00 USD", card_request(amount_minor=5_000_000), FRAUD_SUSPECTED),
    ("above 10000 JPY (no minor unit)", wallet_request(10_001, currency="JPY"), FRAUD_SUSPECTED),
    ("above 10000.000 KWD", card_request(amount_minor=10_000_001, currency="KWD"), FRAUD_SUSPECTED),
    ("bad card number", card_request(BAD_NUMBER_CARD), INVALID_CARD),
    ("letters in card number", card_request("4242abcd42424242"), INVALID_CARD),
    ("card past its expiry", card_request(card=Card(GOOD_CARD, 12, 2025)), EXPIRED_CARD),
]


@pytest.mark.parametrize(
    ("request_", "reason"),
    [(r, reason) for _, r, reason in RULE_BREAKERS],
    ids=[name for name, _, _ in RULE_BREAKERS],
)
def test_a_request_breaking_a_rule_is_recorded_as_failed_with_the_rule(
    funded: App,
    service: App,
    gateway: CountingGateway,
    clock: FakeClock,
    request_: PaymentRequest,
    reason: str,
) -> None:
    funded.wallets.open_wallet(CALLER, "alice", "JPY")
    before = log_position(funded)

    written = service.payments.create_payment(CALLER, request_)

    payment = written.value
    assert (payment.status, payment.failure_reason, payment.retryable) == (FAILED, reason, False)
    assert [(s.status, s.reason) for s in payment.history] == [
        (CREATED, "requested"),
        (FAILED, reason),
    ]
    assert payment.history[-1].at == clock.now()
    assert (payment.attempts, payment.captured, payment.transaction_id) == (0, 0, None)
    # Auditors see the attempt: it is in the log, and read back the same.
    assert written.position == log_position(funded) > before
    assert service.payments.get_payment(CALLER, payment.id) == payment
    assert count_events(funded, Payment.Created) == 1
    # Nothing moves, now or when the processor comes by.
    assert service.settlement.advance(payment.id) == FAILED
    assert service.payments.get_payment(CALLER, payment.id) == payment
    assert journals(funded, "payment") == []
    assert wallet_state(funded, *ALICE)[:3] == (100_000, 0, 100_000)
    assert gateway.charge_calls == []


@pytest.mark.parametrize(
    ("amount", "currency"), [(1_000_000, "USD"), (10_000, "JPY"), (10_000_000, "KWD")]
)
def test_an_amount_of_exactly_the_fraud_threshold_is_accepted(
    service: App, amount: int, currency: str
) -> None:
    payment = create(service, card_request(amount_minor=amount, currency=currency))

    assert (payment.status, payment.failure_reason) == (CREATED, None)


def test_the_fraud_threshold_comes_from_the_rules(app: App, gateway: CountingGateway) -> None:
    strict = make_app(
        app.clock, gateway, PaymentRules(fraud_threshold=Decimal("50.00")), ledger=app.ledger
    )

    assert create(strict, card_request(amount_minor=5_000)).status == CREATED
    flagged = create(strict, card_request(amount_minor=5_001))
    assert (flagged.status, flagged.failure_reason) == (FAILED, FRAUD_SUSPECTED)


def test_a_card_refused_at_tokenization_keeps_only_its_last_four_digits(
    app: App, service: App
) -> None:
    payment = create(service, card_request(BAD_NUMBER_CARD))

    assert payment.card is not None
    assert payment.card.last4 == BAD_NUMBER_CARD[-4:]
    assert all(BAD_NUMBER_CARD.encode() not in n.state for n in notifications(app))


def test_refuses_an_unknown_payment_method_and_records_nothing(funded: App, service: App) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidPaymentMethodError):
        service.payments.create_payment(CALLER, card_request(method="cheque"))

    assert ledger_state(funded, ALICE) == before


@pytest.mark.parametrize(
    "splits",
    [
        (Split("school", bps=9000), Split("platform", bps=999)),
        (Split("school", amount_minor=30_000), Split("platform", bps=10_000)),
        (Split("school", bps=5000), Split("school", bps=5000)),
    ],
)
def test_refuses_invalid_splits_and_records_nothing(
    funded: App, service: App, splits: tuple[Split, ...]
) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidSplitError):
        service.payments.create_payment(CALLER, wallet_request(splits=splits), "pay-1")

    assert ledger_state(funded, ALICE) == before


def test_the_card_number_never_enters_the_log(app: App, service: App) -> None:
    payment = processed(service, card_request())

    assert payment.status == SUCCESS
    assert payment.card is not None
    assert (payment.card.brand, payment.card.last4) == ("visa", "4242")
    assert all(GOOD_CARD.encode() not in n.state for n in notifications(app))


def notifications(app: App) -> list[Any]:
    return list(app.ledger.recorder.select_notifications(start=1, limit=10_000))


# Idempotent requests.


def test_the_same_key_and_request_replays_the_payment_as_it_was_created(
    funded: App, service: App
) -> None:
    first = service.payments.create_payment(CALLER, wallet_request(), "pay-1")
    service.settlement.advance(first.value.id)
    before = ledger_state(funded, ALICE)

    again = service.payments.create_payment(CALLER, wallet_request(), "pay-1")

    assert again.replayed
    assert again.value == first.value
    assert again.value.status == CREATED
    assert ledger_state(funded, ALICE) == before


def test_a_replayed_rejection_returns_the_same_failure(funded: App, service: App) -> None:
    first = service.payments.create_payment(CALLER, wallet_request(0), "pay-1")
    before = log_position(funded)

    again = service.payments.create_payment(CALLER, wallet_request(0), "pay-1")

    assert again.replayed
    assert again.value == first.value
    assert log_position(funded) == before


def test_refuses_a_key_reused_for_another_request_and_records_nothing(
    funded: App, service: App
) -> None:
    service.payments.create_payment(CALLER, wallet_request(), "pay-1")
    before = ledger_state(funded, ALICE)

    with pytest.raises(IdempotencyKeyReusedError):
        service.payments.create_payment(CALLER, wallet_request(25_001), "pay-1")

    assert ledger_state(funded, ALICE) == before


def test_unknown_payments_are_not_found(service: App) -> None:
    with pytest.raises(PaymentNotFoundError):
        service.payments.get_payment(CALLER, uuid4())
    with pytest.raises(PaymentNotFoundError):
        service.settlement.advance(uuid4())
    with pytest.raises(PaymentNotFoundError):
        service.refunds.refund_payment(CALLER, uuid4(), 1)


# Wallet payments.


def test_a_wallet_payment_posts_one_balanced_journal_from_the_payer_to_the_payees(
    funded: App, service: App, gateway: CountingGateway, clock: FakeClock
) -> None:
    created = create(service, wallet_request())

    assert service.settlement.advance(created.id) == SUCCESS

    payment = service.payments.get_payment(CALLER, created.id)
    assert (payment.status, payment.captured, payment.refundable) == (SUCCESS, 25_000, 25_000)
    assert [(a.payee, a.amount) for a in payment.allocations] == [
        ("school", 22_500),
        ("platform", 2_500),
    ]
    assert [(s.status, s.reason) for s in payment.history] == [
        (CREATED, "requested"),
        (PROCESSING, "accepted"),
        (SUCCESS, "captured"),
    ]
    assert [s.at for s in payment.history[1:]] == [clock.now(), clock.now()]
    (journal,) = journals(funded, "payment", str(payment.id))
    assert journal.originator_id == payment.transaction_id
    assert postings_of(funded, "payment", payment.id) == [
        [("wallet:alice", -25_000), ("payable:school", 22_500), ("system:platform_fees", 2_500)]
    ]
    assert journal.postings[0].balance_after_minor == 75_000
    assert wallet_state(funded, *ALICE)[:3] == (75_000, 0, 75_000)
    assert payee_balance(funded, "school", "USD") == 22_500
    assert payee_balance(funded, "platform", "USD") == 2_500
    assert gateway.charge_calls == []


def test_advancing_a_finished_payment_again_moves_nothing(funded: App, service: App) -> None:
    payment = processed(service, wallet_request())
    before = ledger_state(funded, ALICE)

    assert service.settlement.advance(payment.id) == SUCCESS

    assert ledger_state(funded, ALICE) == before


def test_a_wallet_without_enough_money_fails_the_payment_and_moves_nothing(
    funded: App, service: App
) -> None:
    created = create(service, wallet_request(100_001))
    wallet_before = wallet_state(funded, *ALICE)

    assert service.settlement.advance(created.id) == FAILED

    payment = service.payments.get_payment(CALLER, created.id)
    assert (payment.failure_reason, payment.retryable) == (INSUFFICIENT_FUNDS, False)
    assert wallet_state(funded, *ALICE) == wallet_before
    assert journals(funded, "payment") == []
    assert payee_balance(funded, "school", "USD") == 0
    before = ledger_state(funded, ALICE)
    with pytest.raises(PaymentNotRetryableError):
        service.payments.retry_payment(CALLER, payment.id)
    assert ledger_state(funded, ALICE) == before


def test_a_wallet_payment_may_use_the_overdraft_down_to_its_limit(app: App, service: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD", overdraft_limit_minor=5_000)
    app.wallets.credit_wallet(CALLER, "alice", 20_000, "USD")

    assert processed(service, wallet_request(25_000)).status == SUCCESS
    assert processed(service, wallet_request(1)).status == FAILED
    assert wallet_state(app, *ALICE)[:3] == (-5_000, 0, 0)


def test_a_stale_cached_wallet_never_fails_a_payment_the_wallet_can_pay(
    clock: FakeClock, gateway: CountingGateway
) -> None:
    cached = make_app(
        clock,
        gateway,
        ledger=make_ledger(
            {**POPO_ENV, "AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "n"}
        ),
    )
    service = cached
    cached.wallets.open_wallet(CALLER, "alice", "USD")
    cached.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    wallet = wallet_id("alice", "USD")
    # Another process tops the wallet up; this process's cache still holds the old wallet.
    repository = cached.ledger.repository
    stale = repository.get(wallet, version=repository.get(wallet).version)
    cached.wallets.credit_wallet(CALLER, "alice", 100_000, "USD")
    assert repository.cache is not None
    repository.cache.put(wallet, stale)

    payment = create(service, wallet_request())
    service.settlement.advance(payment.id)

    assert service.payments.get_payment(CALLER, payment.id).status == SUCCESS
    assert cached.wallets.get_wallet(CALLER, "alice", "USD").balance == 100_100 - 25_000


def test_every_history_step_is_stamped_by_the_ledger_clock(
    funded: App, service: App, clock: FakeClock
) -> None:
    requested_at = clock.now()
    created = create(service, wallet_request())
    clock.advance(5)
    service.settlement.advance(created.id)
    clock.advance(60)
    service.refunds.refund_payment(CALLER, created.id, 1_000)

    steps = service.payments.get_payment(CALLER, created.id).history
    assert [step.at for step in steps] == [
        requested_at,
        requested_at + timedelta(seconds=5),
        requested_at + timedelta(seconds=5),
        requested_at + timedelta(seconds=65),
    ]


# Card payments.


def test_a_card_payment_is_charged_once_with_the_attempt_key_and_journaled(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request(amount_minor=5_000))
    assert gateway.tokenized == ["4242"]

    assert service.settlement.advance(created.id) == SUCCESS

    key = f"{created.id}:1"
    assert gateway.charge_calls == [
        ChargeRequest(5_000, "USD", token_of(GOOD_CARD), key, "order 7")
    ]
    payment = service.payments.get_payment(CALLER, created.id)
    assert (payment.status, payment.attempts, payment.captured) == (SUCCESS, 1, 5_000)
    assert postings_of(app, "payment", payment.id) == [
        [("system:gateway_clearing", -5_000), ("payable:merchant", 5_000)]
    ]
    assert payee_balance(app, "merchant", "USD") == 5_000
    assert gateway.captured_for(str(payment.id)) == [gateway.charge_calls[0]]


def test_a_card_payment_may_use_a_gateway_token_instead_of_card_details(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = processed(service, card_request(card=None, payment_method="pm_saved"))

    assert payment.status == SUCCESS
    assert payment.card is None
    assert gateway.charge_calls[0].token == "pm_saved"
    assert gateway.tokenized == []


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (DECLINED_CARD, CARD_DECLINED),
        (NO_FUNDS_CARD, INSUFFICIENT_FUNDS),
        (EXPIRED_AT_BANK_CARD, EXPIRED_CARD),
    ],
)
def test_a_card_the_gateway_refuses_fails_for_good_and_moves_nothing(
    app: App, service: App, gateway: CountingGateway, number: str, reason: str
) -> None:
    created = create(service, card_request(number))

    assert service.settlement.advance(created.id) == FAILED

    payment = service.payments.get_payment(CALLER, created.id)
    assert (payment.failure_reason, payment.retryable, payment.captured) == (reason, False, 0)
    assert payment.history[-1].reason == reason
    assert journals(app, "payment") == []
    assert gateway.captured == {}
    before = (log_position(app), gateway_state(gateway))
    with pytest.raises(PaymentNotRetryableError):
        service.payments.retry_payment(CALLER, payment.id)
    assert service.settlement.advance(payment.id) == FAILED
    assert (log_position(app), gateway_state(gateway)) == before


@pytest.mark.parametrize("code", [PROCESSING_ERROR, GATEWAY_UNAVAILABLE])
def test_a_transient_failure_is_retried_with_a_new_key_and_may_then_succeed(
    app: App, service: App, gateway: CountingGateway, code: str
) -> None:
    created = create(service, card_request())
    gateway.script(f"{created.id}:1", fail(code))
    service.settlement.advance(created.id)
    failed = service.payments.get_payment(CALLER, created.id)
    assert (failed.status, failed.failure_reason, failed.retryable) == (FAILED, code, True)

    retried = service.payments.retry_payment(CALLER, created.id).value

    assert (retried.status, retried.attempts) == (PROCESSING, 2)
    assert retried.history[-1].reason == "retry"
    assert service.settlement.advance(created.id) == SUCCESS
    assert gateway.keys_called() == [f"{created.id}:1", f"{created.id}:2"]
    assert len(journals(app, "payment", str(created.id))) == 1
    assert len(gateway.captured_for(str(created.id))) == 1


def test_retries_stop_at_the_limit_and_the_refusal_changes_nothing(
    app: App, gateway: CountingGateway
) -> None:
    service = make_app(app.clock, gateway, PaymentRules(retries_max=3), ledger=app.ledger)
    created = create(service, card_request(PROCESSING_ERROR_CARD))
    service.settlement.advance(created.id)
    for _ in range(3):
        service.payments.retry_payment(CALLER, created.id)
        assert service.settlement.advance(created.id) == FAILED
    before = (
        log_position(app),
        gateway_state(gateway),
        service.payments.get_payment(CALLER, created.id),
    )

    with pytest.raises(RetryLimitReachedError) as refused:
        service.payments.retry_payment(CALLER, created.id)

    assert refused.value.code == "retry_limit_reached"
    assert (
        log_position(app),
        gateway_state(gateway),
        service.payments.get_payment(CALLER, created.id),
    ) == before
    assert gateway.keys_called() == [f"{created.id}:{n}" for n in (1, 2, 3, 4)]
    assert count_events(app, Payment.ProcessingStarted) == 4
    assert journals(app, "payment") == []


def test_a_retry_with_the_same_key_is_made_once(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request(PROCESSING_ERROR_CARD))
    service.settlement.advance(created.id)
    first = service.payments.retry_payment(CALLER, created.id, "retry-1")
    before = log_position(app)

    again = service.payments.retry_payment(CALLER, created.id, "retry-1")

    assert again.replayed
    assert again.value == first.value
    assert again.value.attempts == 2
    assert log_position(app) == before


def test_refuses_to_retry_a_payment_that_did_not_fail(funded: App, service: App) -> None:
    payment = processed(service, wallet_request())
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidPaymentTransitionError):
        service.payments.retry_payment(CALLER, payment.id)

    assert ledger_state(funded, ALICE) == before


# An unknown gateway outcome is never charged twice.


def test_an_unknown_outcome_leaves_the_payment_processing_and_moves_nothing(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request())
    gateway.script(f"{created.id}:1", UNKNOWN)

    assert service.settlement.advance(created.id) == PROCESSING

    payment = service.payments.get_payment(CALLER, created.id)
    assert (payment.status, payment.attempts, payment.captured) == (PROCESSING, 1, 0)
    assert journals(app, "payment") == []


def test_asking_again_after_an_unknown_outcome_reuses_the_key_and_charges_once(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request())
    key = f"{created.id}:1"
    gateway.script(key, UNKNOWN_BUT_CHARGED, UNKNOWN)  # the money moved; two answers lost

    assert service.settlement.advance(created.id) == PROCESSING
    assert service.settlement.advance(created.id) == PROCESSING
    assert service.settlement.advance(created.id) == SUCCESS

    assert gateway.keys_called() == [key]
    assert gateway.calls_for(key) == 3
    assert list(gateway.captured) == [key]
    payment = service.payments.get_payment(CALLER, created.id)
    assert payment.attempts == 1
    (journal,) = journals(app, "payment", str(created.id))
    assert journal.originator_id == payment.transaction_id
    assert service.settlement.advance(created.id) == SUCCESS
    assert gateway.calls_for(key) == 3


def test_an_unknown_outcome_that_charged_nothing_is_charged_once_when_asked_again(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request())
    gateway.script(f"{created.id}:1", UNKNOWN, UNKNOWN, SUCCEED)

    statuses = [service.settlement.advance(created.id) for _ in range(4)]

    assert statuses == [PROCESSING, PROCESSING, SUCCESS, SUCCESS]
    assert len(gateway.captured) == 1
    assert len(journals(app, "payment")) == 1


# Refunds.


def paid_by_wallet(service: App, amount: int = 25_000) -> PaymentOut:
    payment = processed(service, wallet_request(amount))
    assert payment.status == SUCCESS
    return payment


def paid_by_card(service: App, amount: int = 10_000) -> PaymentOut:
    payment = processed(service, card_request(amount_minor=amount, splits=SPLITS))
    assert payment.status == SUCCESS
    return payment


def test_a_wallet_refund_credits_the_wallet_back_and_reverses_the_splits(
    funded: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_wallet(service)

    refunded = service.refunds.refund_payment(CALLER, payment.id, 10_001, "partial").value

    assert (refunded.status, refunded.refunded, refunded.refundable) == (
        PARTIALLY_REFUNDED,
        10_001,
        14_999,
    )
    assert refunded.history[-1].reason == "partial"
    assert postings_of(funded, "refund", payment.id) == [
        [("wallet:alice", 10_001), ("payable:school", -9_001), ("system:platform_fees", -1_000)]
    ]
    assert wallet_state(funded, *ALICE)[:3] == (85_001, 0, 85_001)
    assert gateway.refund_calls == []

    rest = service.refunds.refund_payment(CALLER, payment.id).value

    assert (rest.status, rest.refunded, rest.refundable) == (REFUNDED, 25_000, 0)
    assert wallet_state(funded, *ALICE)[:3] == (100_000, 0, 100_000)
    assert payee_balance(funded, "school", "USD") == 0
    assert payee_balance(funded, "platform", "USD") == 0


def test_a_card_refund_goes_through_the_gateway_with_the_refund_id_as_key(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    reference = gateway.reference_of(f"{payment.id}:1")

    refunded = service.refunds.refund_payment(
        CALLER, payment.id, 4_000, "damaged", "refund-1"
    ).value

    refund_id = idempotent_id("", "refund-1")
    assert gateway.refund_calls == [RefundRequest(reference, 4_000, "USD", str(refund_id))]
    assert (refunded.status, refunded.refunded) == (PARTIALLY_REFUNDED, 4_000)
    assert postings_of(app, "refund", payment.id) == [
        [
            ("system:gateway_clearing", 4_000),
            ("payable:school", -3_600),
            ("system:platform_fees", -400),
        ]
    ]
    assert gateway.refunded_for(reference) == 4_000


def test_refuses_a_refund_beyond_the_capture_and_changes_nothing(
    funded: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_wallet(service)
    service.refunds.refund_payment(CALLER, payment.id, 20_000)
    before = (ledger_state(funded, ALICE), service.payments.get_payment(CALLER, payment.id))

    with pytest.raises(RefundExceedsCapturedError):
        service.refunds.refund_payment(CALLER, payment.id, 5_001)

    assert (ledger_state(funded, ALICE), service.payments.get_payment(CALLER, payment.id)) == before
    service.refunds.refund_payment(CALLER, payment.id, 5_000)
    for amount in (1, None):
        with pytest.raises((InvalidPaymentTransitionError, InvalidAmountError)):
            service.refunds.refund_payment(CALLER, payment.id, amount)


def test_refuses_to_refund_a_payment_that_captured_nothing_and_changes_nothing(
    funded: App, service: App
) -> None:
    payment = processed(service, wallet_request(100_001))
    assert payment.status == FAILED
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidPaymentTransitionError):
        service.refunds.refund_payment(CALLER, payment.id, 1)

    assert ledger_state(funded, ALICE) == before


def test_refuses_a_full_refund_of_a_failed_payment_as_an_invalid_transition(
    funded: App, service: App
) -> None:
    payment = processed(service, wallet_request(100_001))
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidPaymentTransitionError):
        service.refunds.refund_payment(CALLER, payment.id)

    assert ledger_state(funded, ALICE) == before


def test_a_gateway_refusal_raises_releases_the_reservation_and_refunds_nothing(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    gateway.script_refund(str(idempotent_id("", "refund-1")), fail("REFUND_DECLINED"))
    before = (journals(app), payee_balance(app, "school", "USD"))

    with pytest.raises(GatewayRefundFailedError) as refused:
        service.refunds.refund_payment(CALLER, payment.id, 4_000, "damaged", "refund-1")

    assert "REFUND_DECLINED" in str(refused.value)
    after = service.payments.get_payment(CALLER, payment.id)
    assert (after.status, after.refunded, after.refundable, after.pending_refunds) == (
        SUCCESS,
        0,
        10_000,
        0,
    )
    assert (journals(app), payee_balance(app, "school", "USD")) == before
    assert count_events(app, Payment.RefundRequested) == 1
    assert count_events(app, Payment.RefundFailed) == 1
    # The whole capture can still be refunded (with another key).
    assert (
        service.refunds.refund_payment(CALLER, payment.id, None, "again", "refund-2").value.status
        == REFUNDED
    )


def test_an_unknown_refund_outcome_keeps_the_amount_reserved(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    gateway.script_refund(str(idempotent_id("", "refund-1")), UNKNOWN)

    pending = service.refunds.refund_payment(CALLER, payment.id, 6_000, "r", "refund-1").value

    assert (pending.status, pending.refunded, pending.pending_refunds, pending.refundable) == (
        SUCCESS,
        0,
        6_000,
        4_000,
    )
    assert journals(app, "refund") == []
    before = service.payments.get_payment(CALLER, payment.id)
    with pytest.raises(RefundExceedsCapturedError):
        service.refunds.refund_payment(CALLER, payment.id, 4_001)
    assert service.payments.get_payment(CALLER, payment.id) == before


class ImpatientClientGateway(CountingGateway):
    """While the first refund call is at the gateway, the client sends it again."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: Callable[[], object] | None = None

    def refund(self, request: RefundRequest) -> RefundResult:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            self.resent = meanwhile()
        return super().refund(request)


def test_a_refund_resent_while_the_first_is_at_the_gateway_answers_both_with_the_refund(
    app: App,
) -> None:
    gateway = ImpatientClientGateway()
    service = make_app(app.clock, gateway, PaymentRules(), ledger=app.ledger)
    payment = paid_by_card(service)
    gateway.meanwhile = lambda: service.refunds.refund_payment(
        CALLER, payment.id, 4_000, "r", "refund-1"
    )

    first = service.refunds.refund_payment(CALLER, payment.id, 4_000, "r", "refund-1")

    assert first.value.refunded == gateway.resent.value.refunded == 4_000
    assert len(journals(app, "refund")) == 1
    # The resent request finished the refund, yet it is the replay: only the first is not.
    assert (first.replayed, gateway.resent.replayed) == (False, True)
    assert gateway.resent.position is None


def test_a_refused_refund_resent_while_the_first_is_at_the_gateway_reports_the_refusal_twice(
    app: App,
) -> None:
    gateway = ImpatientClientGateway()
    service = make_app(app.clock, gateway, PaymentRules(), ledger=app.ledger)
    payment = paid_by_card(service)
    gateway.script_refund(str(idempotent_id("", "refund-1")), fail("REFUND_DECLINED"))

    def resend() -> object:
        with pytest.raises(GatewayRefundFailedError):
            service.refunds.refund_payment(CALLER, payment.id, 4_000, "r", "refund-1")
        return None

    gateway.meanwhile = resend

    with pytest.raises(GatewayRefundFailedError):
        service.refunds.refund_payment(CALLER, payment.id, 4_000, "r", "refund-1")

    after = service.payments.get_payment(CALLER, payment.id)
    assert (after.refunded, after.pending_refunds, after.refundable) == (0, 0, 10_000)
    assert count_events(app, Payment.RefundFailed) == 1


def test_a_full_refund_with_everything_already_reserved_says_nothing_is_left(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    gateway.script_refund(str(idempotent_id("", "refund-1")), UNKNOWN)
    service.refunds.refund_payment(CALLER, payment.id, None, "r", "refund-1")
    before = (log_position(app), gateway_state(gateway))

    with pytest.raises(RefundExceedsCapturedError):
        service.refunds.refund_payment(CALLER, payment.id)

    assert (log_position(app), gateway_state(gateway)) == before


def test_a_refund_replayed_with_its_key_is_made_once(
    funded: App, service: App, gateway: CountingGateway
) -> None:
    wallet_paid = paid_by_wallet(service)
    card_paid = paid_by_card(service)
    first = service.refunds.refund_payment(CALLER, wallet_paid.id, 5_000, "r", "refund-1")
    service.refunds.refund_payment(CALLER, card_paid.id, 5_000, "r", "refund-2")
    before = (ledger_state(funded, ALICE), gateway_state(gateway))

    again = service.refunds.refund_payment(CALLER, wallet_paid.id, 5_000, "r", "refund-1")
    service.refunds.refund_payment(CALLER, card_paid.id, 5_000, "r", "refund-2")

    assert again.replayed
    assert again.value.refunded == first.value.refunded == 5_000
    assert (ledger_state(funded, ALICE), gateway_state(gateway)) == before
    with pytest.raises(IdempotencyKeyReusedError):
        service.refunds.refund_payment(CALLER, wallet_paid.id, 5_001, "r", "refund-1")
    assert (ledger_state(funded, ALICE), gateway_state(gateway)) == before


def test_replaying_a_refund_with_an_unknown_outcome_asks_the_gateway_again(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    key = str(idempotent_id("", "refund-1"))
    gateway.script_refund(key, UNKNOWN_BUT_CHARGED)  # the gateway refunded; the answer got lost
    service.refunds.refund_payment(CALLER, payment.id, 6_000, "r", "refund-1")

    replayed = service.refunds.refund_payment(CALLER, payment.id, 6_000, "r", "refund-1").value

    assert [call.idempotency_key for call in gateway.refund_calls] == [key, key]
    assert (replayed.refunded, replayed.pending_refunds) == (6_000, 0)
    assert len(journals(app, "refund")) == 1
    assert gateway.refunded_for(gateway.reference_of(f"{payment.id}:1")) == 6_000
    before = (log_position(app), gateway_state(gateway))
    assert service.refunds.refund_payment(CALLER, payment.id, 6_000, "r", "refund-1").replayed
    assert (log_position(app), gateway_state(gateway)) == before


def test_replaying_a_refused_refund_reports_the_refusal_again_and_changes_nothing(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = paid_by_card(service)
    gateway.script_refund(str(idempotent_id("", "refund-1")), fail("REFUND_DECLINED"))
    with pytest.raises(GatewayRefundFailedError):
        service.refunds.refund_payment(CALLER, payment.id, 4_000, "r", "refund-1")
    before = (
        log_position(app),
        gateway_state(gateway),
        service.payments.get_payment(CALLER, payment.id),
    )

    with pytest.raises(GatewayRefundFailedError) as again:
        service.refunds.refund_payment(CALLER, payment.id, 4_000, "r", "refund-1")

    assert "REFUND_DECLINED" in str(again.value)
    assert (
        log_position(app),
        gateway_state(gateway),
        service.payments.get_payment(CALLER, payment.id),
    ) == before
    assert before[2].refunded == 0


# Gateway webhooks.

OUTCOMES: dict[str, Outcome] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
}


def apply_event(
    service: App, event_id: str, event_type: str, key: str, reference: str, code: str = ""
) -> str:
    """A gateway webhook as the gateway adapter hands it over (an outcome in our words)."""
    outcome = OUTCOMES.get(event_type, "unknown")
    notice = GatewayNotice(event_id, key, outcome, reference, code)
    return service.settlement.apply_gateway_notice(notice)


def unsettled(service: App, gateway: CountingGateway) -> PaymentOut:
    payment = create(service, card_request())
    gateway.script(f"{payment.id}:1", UNKNOWN)
    assert service.settlement.advance(payment.id) == PROCESSING
    return payment


def test_a_webhook_settles_a_payment_whose_outcome_was_unknown(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = unsettled(service, gateway)
    key = f"{payment.id}:1"

    status = apply_event(service, "evt_1", "payment_intent.succeeded", key, "ch_hook")

    assert status == SUCCESS
    assert service.payments.get_payment(CALLER, payment.id).status == SUCCESS
    (journal,) = journals(app, "payment", str(payment.id))
    assert journal.originator_id == service.payments.get_payment(CALLER, payment.id).transaction_id
    calls = len(gateway.charge_calls)
    assert service.settlement.advance(payment.id) == SUCCESS
    assert len(gateway.charge_calls) == calls


def test_a_failure_webhook_fails_the_payment_with_its_code(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = unsettled(service, gateway)

    status = apply_event(
        service, "evt_1", "payment_intent.payment_failed", f"{payment.id}:1", "ch_x", CARD_DECLINED
    )

    after = service.payments.get_payment(CALLER, payment.id)
    assert (status, after.failure_reason, after.retryable) == (FAILED, CARD_DECLINED, False)
    assert journals(app, "payment") == []


def test_a_webhook_delivered_twice_is_applied_once(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = unsettled(service, gateway)
    key = f"{payment.id}:1"
    apply_event(service, "evt_1", "payment_intent.succeeded", key, "ch_hook")
    before = (log_position(app), service.payments.get_payment(CALLER, payment.id))

    again = apply_event(service, "evt_1", "payment_intent.succeeded", key, "ch_hook")
    contrary = apply_event(service, "evt_1", "payment_intent.payment_failed", key, "")

    assert (again, contrary) == ("duplicate", "duplicate")
    assert (log_position(app), service.payments.get_payment(CALLER, payment.id)) == before


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("payment_intent.succeeded", f"{uuid4()}:1"),
        ("payment_intent.succeeded", "not-our-key"),
        ("payment_intent.succeeded", "charge:123"),
        ("charge.refunded", "PAYMENT:1"),
    ],
)
def test_a_webhook_for_no_payment_of_ours_is_ignored_and_records_nothing(
    app: App, service: App, gateway: CountingGateway, event_type: str, key: str
) -> None:
    payment = unsettled(service, gateway)
    key = key.replace("PAYMENT", str(payment.id))
    before = (log_position(app), service.payments.get_payment(CALLER, payment.id))

    assert apply_event(service, "evt_9", event_type, key, "ch_9") == "ignored"

    assert (log_position(app), service.payments.get_payment(CALLER, payment.id)) == before


def test_a_webhook_for_an_old_attempt_does_not_settle_the_current_one(
    app: App, service: App, gateway: CountingGateway
) -> None:
    created = create(service, card_request(PROCESSING_ERROR_CARD))
    service.settlement.advance(created.id)
    service.payments.retry_payment(CALLER, created.id)
    gateway.script(f"{created.id}:2", UNKNOWN)
    assert service.settlement.advance(created.id) == PROCESSING
    before = service.payments.get_payment(CALLER, created.id)

    status = apply_event(
        service, "evt_old", "payment_intent.succeeded", f"{created.id}:1", "ch_old"
    )

    assert status == PROCESSING
    assert service.payments.get_payment(CALLER, created.id) == before
    assert journals(app, "payment") == []
    # The current attempt's own event settles it; the old event stays applied once.
    assert (
        apply_event(service, "evt_new", "payment_intent.succeeded", f"{created.id}:2", "ch_new")
        == SUCCESS
    )
    assert (
        apply_event(service, "evt_old", "payment_intent.succeeded", f"{created.id}:1", "")
        == "duplicate"
    )
    assert len(journals(app, "payment", str(created.id))) == 1


def test_a_webhook_for_a_settled_payment_changes_nothing(app: App, service: App) -> None:
    payment = processed(service, card_request())
    before = (journals(app), service.payments.get_payment(CALLER, payment.id))

    status = apply_event(
        service, "evt_late", "payment_intent.payment_failed", f"{payment.id}:1", "", CARD_DECLINED
    )

    assert status == SUCCESS
    assert (journals(app), service.payments.get_payment(CALLER, payment.id)) == before


def test_every_request_and_attempt_is_in_the_log_for_auditors(funded: App, service: App) -> None:
    processed(service, wallet_request())
    processed(service, wallet_request(0))
    processed(service, wallet_request(200_000))
    processed(service, card_request(DECLINED_CARD))

    kinds = [
        type(event).__qualname__
        for _, event in read_log(funded)
        if type(event).__qualname__.startswith("Payment.")
    ]

    assert kinds.count("Payment.Created") == 4
    assert kinds.count("Payment.Rejected") == 1
    assert kinds.count("Payment.ProcessingStarted") == 3
    assert kinds.count("Payment.Succeeded") == 1
    assert kinds.count("Payment.Failed") == 2
