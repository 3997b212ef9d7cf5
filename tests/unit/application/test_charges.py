"""Charges: wallet-first payments. The wallet pays first, a card pays the rest, a failed card
frees the wallet, an unknown answer is settled by the payment machinery, and a charge is
refunded like any payment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest
from eventsourcing.popo import POPOTrackingRecorder

from application.charges import ChargeRequest
from application.errors import CardRejectedError, ChargeNotFoundError, IdempotencyKeyReusedError
from application.payment_processor import PaymentProcessor
from application.ports.gateway import CARD_DECLINED, INSUFFICIENT_FUNDS, ChargeResult, RefundRequest
from application.ports.gateway import ChargeRequest as GatewayCharge
from application.projection_runner import ProjectionRunner
from application.results import Charge as ChargeOut
from domain.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    InvalidCustomerIdError,
    InvalidPaymentMethodError,
    InvalidRecipientError,
    InvalidSplitError,
    UnknownCurrencyError,
)
from domain.hold import Hold, HoldStatus
from domain.ids import idempotent_id
from domain.money import Money
from domain.payment_terms import WALLET_HOLD_LAPSED, PaymentMethod, PaymentStatus
from domain.splits import Split
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    BAD_NUMBER_CARD,
    DECLINED_CARD,
    GOOD_CARD,
    NO_FUNDS_CARD,
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
    App,
    count_events,
    ledger_state,
    make_app,
    wallet_state,
)

pytestmark = pytest.mark.unit

BOB = ("bob", "USD")
SPLITS = (Split("shop", bps=9000), Split("platform", bps=1000))
SUCCESS, FAILED, PROCESSING = PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.PROCESSING


@pytest.fixture
def bob(app: App) -> App:
    """Bob holds 30.00 USD in his wallet."""
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "bob", 3_000, "USD")
    return app


@pytest.fixture(autouse=True)
def money_is_conserved(app: App) -> Iterator[None]:
    yield
    assert_money_conserved(app)


def request(
    amount: int = 5_000,
    customer_id: str = "bob",
    currency: str = "USD",
    splits: tuple[Split, ...] = SPLITS,
    **options: Any,
) -> ChargeRequest:
    return ChargeRequest(customer_id, "shop", Money(amount, currency), splits=splits, **options)


def charge(app: App, amount: int = 5_000, key: str | None = None, **options: Any) -> ChargeOut:
    return app.charges.create_charge(CALLER, request(amount, **options), key).value


def postings(app: App, charge_id: UUID) -> list[list[tuple[str, int]]]:
    return [
        [(p.account_code, p.amount_minor) for p in journal.postings]
        for journal in journals(app, "payment", str(charge_id))
    ]


def hold_status(app: App, charge_id: UUID) -> HoldStatus:
    return app.holds.get_hold(CALLER, uuid5(charge_id, "hold")).status


def test_a_wallet_that_covers_the_charge_pays_it_in_one_debit(
    bob: App, gateway: CountingGateway
) -> None:
    result = charge(bob, 2_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCESS, 2_000, 0)
    assert [(a.payee, a.amount) for a in result.allocations] == [("shop", 1_800), ("platform", 200)]
    (journal,) = journals(bob, "payment", str(result.id))
    assert journal.originator_id == result.transaction_id
    assert postings(bob, result.id) == [
        [("wallet:bob", -2_000), ("payable:shop", 1_800), ("system:platform_fees", 200)]
    ]
    assert wallet_state(bob, *BOB)[:3] == (1_000, 0, 1_000)
    assert count_events(bob, Hold.Placed) == 0
    assert gateway.charge_calls == []  # the card was never charged


def test_a_wallet_short_of_the_amount_pays_its_part_through_a_captured_hold_and_the_card_the_rest(
    bob: App, gateway: CountingGateway
) -> None:
    result = charge(bob, 5_000, card=card(), description="lunch")

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCESS, 3_000, 2_000)
    assert result.card is not None
    assert result.card.last4 == "4242"
    assert gateway.charge_calls == [
        GatewayCharge(2_000, "USD", token_of(GOOD_CARD), f"{result.id}:1", "lunch")
    ]
    hold = bob.holds.get_hold(CALLER, uuid5(result.id, "hold"))
    assert (hold.status, hold.amount, hold.posted_amount) == (HoldStatus.POSTED, 3_000, 3_000)
    assert hold.transaction_id == result.transaction_id
    assert postings(bob, result.id) == [
        [
            ("wallet:bob", -3_000),
            ("system:gateway_clearing", -2_000),
            ("payable:shop", 4_500),
            ("system:platform_fees", 500),
        ]
    ]
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)
    assert bob.charges.get_charge(CALLER, result.id) == result


def test_a_charge_is_a_payment_with_the_payment_statuses(bob: App) -> None:
    result = charge(bob, 5_000, card=card())

    payment = bob.payments.get_payment(CALLER, result.id)

    assert (payment.method, payment.status, payment.captured) == (
        PaymentMethod.WALLET_FIRST,
        SUCCESS,
        5_000,
    )
    assert [step.status for step in payment.history] == ["CREATED", "PROCESSING", "SUCCESS"]


@pytest.mark.parametrize(
    ("number", "reason"), [(DECLINED_CARD, CARD_DECLINED), (NO_FUNDS_CARD, INSUFFICIENT_FUNDS)]
)
def test_a_failed_card_voids_the_hold_and_leaves_the_wallet_as_it_was(
    bob: App, number: str, reason: str
) -> None:
    before = wallet_state(bob, *BOB)[:3]

    result = charge(bob, 5_000, card=card(number))

    assert (result.status, result.failure_reason) == (FAILED, reason)
    assert (result.wallet_amount, result.card_amount, result.transaction_id) == (3_000, 2_000, None)
    assert hold_status(bob, result.id) == HoldStatus.VOIDED
    assert wallet_state(bob, *BOB)[:3] == before == (3_000, 0, 3_000)
    assert journals(bob, "payment") == []
    assert payee_balance(bob, "shop", "USD") == 0
    assert bob.payments.get_payment(CALLER, result.id).retryable is False
    # The wallet money is free again: it pays the next charge.
    assert charge(bob, 3_000).status == SUCCESS


def test_without_a_card_a_wallet_short_of_the_amount_is_refused_and_nothing_is_recorded(
    bob: App, gateway: CountingGateway
) -> None:
    before = ledger_state(bob, BOB)

    with pytest.raises(InsufficientFundsError):
        charge(bob, 3_001)
    with pytest.raises(InsufficientFundsError):
        charge(bob, 1, customer_id="nobody", splits=())

    assert ledger_state(bob, BOB) == before
    assert gateway.charge_calls == []


def test_a_customer_without_a_wallet_pays_everything_by_card(
    app: App, gateway: CountingGateway
) -> None:
    result = charge(app, 5_000, customer_id="carol", splits=(), card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCESS, 0, 5_000)
    assert postings(app, result.id) == [
        [("system:gateway_clearing", -5_000), ("payable:shop", 5_000)]
    ]
    assert count_events(app, Hold.Placed) == 0
    assert [c.amount_minor for c in gateway.charge_calls] == [5_000]


def test_a_saved_payment_method_token_works_like_a_card(bob: App, gateway: CountingGateway) -> None:
    result = charge(bob, 5_000, payment_method="pm_saved")

    assert (result.status, result.card) == (SUCCESS, None)
    assert gateway.charge_calls[0].token == "pm_saved"


def test_the_wallet_pays_from_its_own_money_and_never_from_its_overdraft(
    app: App, gateway: CountingGateway
) -> None:
    app.wallets.open_wallet(CALLER, "bob", "USD", overdraft_limit_minor=500)
    app.wallets.credit_wallet(CALLER, "bob", 1_000, "USD")
    before = ledger_state(app, BOB)

    with pytest.raises(InsufficientFundsError):
        charge(app, 1_001)  # the overdraft would cover it; a charge never uses it
    assert ledger_state(app, BOB) == before

    result = charge(app, 5_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCESS, 1_000, 4_000)
    assert wallet_state(app, *BOB)[:3] == (0, 0, 500)
    assert [c.amount_minor for c in gateway.charge_calls] == [4_000]


def test_an_unknown_card_outcome_leaves_the_charge_processing_with_the_wallet_part_held(
    bob: App, gateway: CountingGateway, clock: FakeClock
) -> None:
    charge_id = idempotent_id("", "charge-1")
    gateway.script(f"{charge_id}:1", UNKNOWN)

    result = charge(bob, 5_000, "charge-1", card=card())

    assert (result.id, result.status, result.transaction_id) == (charge_id, PROCESSING, None)
    assert wallet_state(bob, *BOB)[:3] == (3_000, 3_000, 0)
    assert journals(bob, "payment") == []
    clock.advance(24 * 3600)  # a reservation for an attempt in flight never lapses
    assert wallet_state(bob, *BOB)[:3] == (3_000, 3_000, 0)
    assert hold_status(bob, charge_id) == HoldStatus.PENDING


def test_replaying_an_unsettled_charge_asks_the_gateway_again_with_the_same_key_and_charges_once(
    bob: App, gateway: CountingGateway
) -> None:
    charge_id = idempotent_id("", "charge-1")
    key = f"{charge_id}:1"
    gateway.script(key, UNKNOWN_BUT_CHARGED)  # the card paid; the answer got lost
    assert charge(bob, 5_000, "charge-1", card=card()).status == PROCESSING

    replayed = bob.charges.create_charge(CALLER, request(5_000, card=card()), "charge-1")

    assert replayed.value.status == SUCCESS
    assert (gateway.keys_called(), gateway.calls_for(key), list(gateway.captured)) == (
        [key],
        2,
        [key],
    )
    assert len(journals(bob, "payment", str(charge_id))) == 1
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)
    assert hold_status(bob, charge_id) == HoldStatus.POSTED
    again = bob.charges.create_charge(CALLER, request(5_000, card=card()), "charge-1")
    assert (again.replayed, again.value.status, gateway.calls_for(key)) == (True, SUCCESS, 2)


def test_the_payment_processor_settles_a_charge_whose_answer_was_lost_without_a_resend(
    bob: App, gateway: CountingGateway
) -> None:
    pending = charge_with_lost_answer(bob, gateway)
    processor = PaymentProcessor(POPOTrackingRecorder(), bob.settlement, bob.clock)
    processor.reconcile_interval_s = 0.0
    runner = ProjectionRunner(bob.ledger, processor, on_idle=processor.maybe_reconcile)

    runner.catch_up()

    assert bob.charges.get_charge(CALLER, pending).status == SUCCESS
    assert len(journals(bob, "payment", str(pending))) == 1
    assert gateway.calls_for(f"{pending}:1") == 2
    assert len(gateway.captured_for(str(pending))) == 1
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)  # 3_000 from the wallet, 1_000 by card


def charge_with_lost_answer(app: App, gateway: CountingGateway) -> UUID:
    """A card charge whose answer the request never heard (the card did pay)."""
    charge_id = idempotent_id("", "lost-1")
    gateway.script(f"{charge_id}:1", UNKNOWN_BUT_CHARGED)
    result = charge(app, 4_000, "lost-1", splits=(), card=card())
    assert result.status == PROCESSING
    return charge_id


def test_the_same_key_and_request_replays_the_charge_and_charges_the_card_once(
    bob: App, gateway: CountingGateway
) -> None:
    first = bob.charges.create_charge(CALLER, request(5_000, card=card()), "c-1")
    before = (ledger_state(bob, BOB), len(gateway.charge_calls))

    again = bob.charges.create_charge(CALLER, request(5_000, card=card()), "c-1")

    assert again.replayed
    assert again.value == first.value
    assert (ledger_state(bob, BOB), len(gateway.charge_calls)) == before
    with pytest.raises(IdempotencyKeyReusedError):
        bob.charges.create_charge(CALLER, request(5_001, card=card()), "c-1")
    assert (ledger_state(bob, BOB), len(gateway.charge_calls)) == before


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"customer_id": ""}, InvalidCustomerIdError),
        ({"splits": (Split("shop", bps=9000),)}, InvalidSplitError),
        ({"card": card(BAD_NUMBER_CARD)}, CardRejectedError),
        ({"card": card(exp_year=2020)}, CardRejectedError),
        ({"card": None, "payment_method": "pm\n1"}, InvalidPaymentMethodError),
        ({"card": None, "payment_method": "p" * 256}, InvalidPaymentMethodError),
    ],
)
def test_refuses_an_invalid_charge_and_records_nothing(
    bob: App, gateway: CountingGateway, changes: dict[str, Any], error: type[Exception]
) -> None:
    before = ledger_state(bob, BOB)

    with pytest.raises(error):
        bob.charges.create_charge(CALLER, request(5_000, **{"card": card(), **changes}))

    assert ledger_state(bob, BOB) == before
    assert gateway.charge_calls == []


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        (0, "USD", InvalidAmountError),
        (-5, "USD", InvalidAmountError),
        (5_000, "XYZ", UnknownCurrencyError),
    ],
)
def test_an_invalid_amount_is_refused_before_any_charge(
    amount: int, currency: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Money.positive(amount, currency)


def test_a_refused_card_says_why_with_a_stable_code(bob: App) -> None:
    with pytest.raises(CardRejectedError) as refused:
        charge(bob, 5_000, card=card(BAD_NUMBER_CARD))

    assert refused.value.code == "card_rejected"
    assert refused.value.reason == "INVALID_CARD"
    assert BAD_NUMBER_CARD not in str(refused.value)


def test_an_unknown_charge_is_not_found(app: App) -> None:
    with pytest.raises(ChargeNotFoundError):
        app.charges.get_charge(CALLER, uuid4())


def test_a_payment_that_is_not_a_charge_is_not_found_as_a_charge(bob: App) -> None:
    paid = bob.payments.create_payment(CALLER, wallet_payment()).value

    with pytest.raises(ChargeNotFoundError):
        bob.charges.get_charge(CALLER, paid.id)


def wallet_payment() -> Any:
    from application.payments import PaymentRequest

    return PaymentRequest("bob", "shop", 100, "USD", PaymentMethod.WALLET)


def test_refuses_a_charge_without_a_recipient_and_records_nothing(bob: App) -> None:
    before = ledger_state(bob, BOB)

    for recipient in ("", "x" * 201, "shop\n"):
        with pytest.raises(InvalidRecipientError):
            bob.charges.create_charge(CALLER, ChargeRequest("bob", recipient, Money(1_000, "USD")))

    assert ledger_state(bob, BOB) == before


# Refunds: a charge is refunded like any payment, the card's part first.


def test_a_refund_of_a_charge_goes_back_to_the_card_first_then_to_the_wallet(
    bob: App, gateway: CountingGateway
) -> None:
    result = charge(bob, 5_000, card=card(), splits=())
    reference = gateway.reference_of(f"{result.id}:1")

    bob.refunds.refund_payment(CALLER, result.id, 1_500)
    refunded = bob.refunds.refund_payment(CALLER, result.id, 2_000).value

    assert (refunded.status, refunded.refunded, refunded.refundable) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        3_500,
        1_500,
    )
    assert gateway.refunded_for(reference) == 2_000  # all of the card's part
    assert wallet_state(bob, *BOB)[:3] == (1_500, 0, 1_500)  # the rest back in the wallet
    assert payee_balance(bob, "shop", "USD") == 1_500


# The wallet part cannot be taken when the card has paid.


class SlowGateway(CountingGateway):
    """Runs `meanwhile` while the card is being charged (a slow answer)."""

    def __init__(self, meanwhile: Callable[[], object] = lambda: None) -> None:
        super().__init__()
        self.meanwhile = meanwhile

    def charge(self, request: GatewayCharge) -> ChargeResult:
        self.meanwhile()
        return super().charge(request)


def void_charge_holds(app: App) -> None:
    """Someone voids the charge's hold by hand while the card is charged."""
    for hold_id in list(app.wallets.runner.read_wallet("bob", "USD").holds):
        app.holds.void_hold(CALLER, UUID(hold_id), "by hand")


def spend_the_wallet(app: App) -> None:
    """The hold is voided by hand and the money spent while the card is charged."""
    void_charge_holds(app)
    app.wallets.debit_wallet(CALLER, "bob", 3_000, "USD")


def with_slow_gateway(clock: FakeClock, meanwhile: Callable[[App], object]) -> App:
    """Bob holds 30.00 USD; the gateway runs `meanwhile` while it charges a card."""
    holder: list[App] = []
    slow = SlowGateway(lambda: meanwhile(holder[0]))
    app = make_app(clock, slow)
    holder.append(app)
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "bob", 3_000, "USD")
    return app


def slow_gateway(app: App) -> SlowGateway:
    gateway = app.charges.gateway
    assert isinstance(gateway, SlowGateway)
    return gateway


def test_a_card_paid_after_the_hold_was_voided_takes_the_wallet_part_as_a_plain_debit(
    clock: FakeClock,
) -> None:
    app = with_slow_gateway(clock, void_charge_holds)
    slow = slow_gateway(app)

    result = charge(app, 5_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCESS, 3_000, 2_000)
    assert hold_status(app, result.id) == HoldStatus.VOIDED
    assert wallet_state(app, *BOB)[:3] == (0, 0, 0)
    assert postings(app, result.id)[0][:2] == [
        ("wallet:bob", -3_000),
        ("system:gateway_clearing", -2_000),
    ]
    assert slow.refund_calls == []
    assert_money_conserved(app)


def test_a_card_paid_after_the_wallet_money_went_elsewhere_fails_and_gives_the_card_back(
    clock: FakeClock,
) -> None:
    app = with_slow_gateway(clock, spend_the_wallet)
    slow = slow_gateway(app)

    result = charge(app, 5_000, card=card())

    assert (result.status, result.failure_reason) == (FAILED, WALLET_HOLD_LAPSED)
    assert journals(app, "payment") == []
    assert wallet_state(app, *BOB)[:3] == (0, 0, 0)
    (taken,) = slow.captured.values()
    reference = slow.reference_of(taken.idempotency_key)
    assert slow.refund_calls == [RefundRequest(reference, 2_000, "USD", f"{result.id}:give-back")]
    assert slow.refunded_for(reference) == 2_000
    assert_money_conserved(app)


def test_a_card_that_cannot_be_given_back_is_logged_for_a_person(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = with_slow_gateway(clock, spend_the_wallet)
    slow = slow_gateway(app)
    charge_id = idempotent_id("", "charge-1")
    slow.script_refund(f"{charge_id}:give-back", fail("REFUND_DECLINED"))

    result = charge(app, 5_000, "charge-1", card=card())

    assert (result.status, result.failure_reason) == (FAILED, WALLET_HOLD_LAPSED)
    assert "needs a manual refund" in caplog.text
    assert str(charge_id) in caplog.text
