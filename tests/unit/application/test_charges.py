"""ChargeService: the wallet pays first, a card pays the rest, a failed card frees the wallet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from application.charges import CHARGE_HOLD_TTL, WALLET_HOLD_LAPSED, ChargeService
from application.gateway import (
    CARD_DECLINED,
    INSUFFICIENT_FUNDS,
    ChargeRequest,
    ChargeResult,
    RefundRequest,
)
from application.ledger import Ledger
from application.results import Charge as ChargeOut
from domain.charge import FAILED, PENDING, SUCCEEDED
from domain.errors import (
    CardRejectedError,
    ChargeNotFoundError,
    DomainError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidCustomerIdError,
    InvalidPaymentMethodError,
    InvalidRecipientError,
    InvalidSplitError,
    UnknownCurrencyError,
)
from domain.hold import Hold
from domain.ids import idempotent_id
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
from tests.unit.application.support import count_events, ledger_state, wallet_state

pytestmark = pytest.mark.unit

BOB = ("bob", "USD")
SPLITS = (Split("shop", bps=9000), Split("platform", bps=1000))


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def charges(ledger: Ledger, gateway: CountingGateway) -> ChargeService:
    return ChargeService(ledger, gateway)


@pytest.fixture
def bob(ledger: Ledger) -> Ledger:
    """Bob holds 30.00 USD in his wallet."""
    ledger.open_wallet("bob", "USD")
    ledger.credit_wallet("bob", 3_000, "USD")
    return ledger


@pytest.fixture(autouse=True)
def money_is_conserved(ledger: Ledger) -> Iterator[None]:
    yield
    assert_money_conserved(ledger)


def charge(charges: ChargeService, amount: int = 5_000, **options: Any) -> ChargeOut:
    options.setdefault("splits", SPLITS)
    return charges.create_charge("bob", "shop", amount, "USD", **options).value


def postings(ledger: Ledger, charge_id: UUID) -> list[list[tuple[str, int]]]:
    return [
        [(p.account_code, p.amount_minor) for p in journal.postings]
        for journal in journals(ledger, "charge", str(charge_id))
    ]


def test_a_wallet_that_covers_the_charge_pays_it_in_one_debit(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    result = charge(charges, 2_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCEEDED, 2_000, 0)
    assert [(a.payee, a.amount) for a in result.allocations] == [("shop", 1_800), ("platform", 200)]
    (journal,) = journals(bob, "charge", str(result.id))
    assert journal.originator_id == result.transaction_id
    assert postings(bob, result.id) == [
        [("wallet:bob", -2_000), ("payable:shop", 1_800), ("system:platform_fees", 200)]
    ]
    assert wallet_state(bob, *BOB)[:3] == (1_000, 0, 1_000)
    assert count_events(bob, Hold.Placed) == 0
    assert gateway.charge_calls == []  # the card was never charged


def test_a_wallet_short_of_the_amount_pays_its_part_through_a_captured_hold_and_the_card_the_rest(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    result = charge(charges, 5_000, card=card(), description="lunch")

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCEEDED, 3_000, 2_000)
    assert result.card is not None
    assert result.card.last4 == "4242"
    assert gateway.charge_calls == [
        ChargeRequest(2_000, "USD", token_of(GOOD_CARD), f"charge:{result.id}", "lunch")
    ]
    hold = bob.get_hold(uuid5(result.id, "hold"))
    assert (hold.status, hold.amount, hold.posted_amount) == ("posted", 3_000, 3_000)
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
    assert charges.get_charge(result.id) == result


@pytest.mark.parametrize(
    ("number", "reason"), [(DECLINED_CARD, CARD_DECLINED), (NO_FUNDS_CARD, INSUFFICIENT_FUNDS)]
)
def test_a_failed_card_voids_the_hold_and_leaves_the_wallet_as_it_was(
    bob: Ledger, charges: ChargeService, number: str, reason: str
) -> None:
    before = wallet_state(bob, *BOB)[:3]

    result = charge(charges, 5_000, card=card(number))

    assert (result.status, result.failure_reason) == (FAILED, reason)
    assert (result.wallet_amount, result.card_amount, result.transaction_id) == (3_000, 2_000, None)
    assert bob.get_hold(uuid5(result.id, "hold")).status == "voided"
    assert wallet_state(bob, *BOB)[:3] == before == (3_000, 0, 3_000)
    assert journals(bob, "charge") == []
    assert payee_balance(bob, "shop", "USD") == 0
    # The wallet money is free again: it pays the next charge.
    assert charge(charges, 3_000).status == SUCCEEDED


def test_without_a_card_a_wallet_short_of_the_amount_is_refused_and_nothing_is_recorded(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    before = ledger_state(bob, BOB)

    with pytest.raises(InsufficientFundsError):
        charge(charges, 3_001)
    with pytest.raises(InsufficientFundsError):
        charges.create_charge("nobody", "shop", 1, "USD")

    assert ledger_state(bob, BOB) == before
    assert gateway.charge_calls == []


def test_a_customer_without_a_wallet_pays_everything_by_card(
    ledger: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    result = charges.create_charge("carol", "shop", 5_000, "USD", card=card()).value

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCEEDED, 0, 5_000)
    assert postings(ledger, result.id) == [
        [("system:gateway_clearing", -5_000), ("payable:shop", 5_000)]
    ]
    assert count_events(ledger, Hold.Placed) == 0
    assert [c.amount_minor for c in gateway.charge_calls] == [5_000]


def test_a_saved_payment_method_token_works_like_a_card(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    result = charge(charges, 5_000, payment_method="pm_saved")

    assert (result.status, result.card) == (SUCCEEDED, None)
    assert gateway.charge_calls[0].token == "pm_saved"


def test_the_wallet_pays_from_its_own_money_and_never_from_its_overdraft(
    ledger: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    ledger.open_wallet("bob", "USD", overdraft_limit_minor=500)
    ledger.credit_wallet("bob", 1_000, "USD")
    before = ledger_state(ledger, BOB)

    with pytest.raises(InsufficientFundsError):
        charge(charges, 1_001)  # the overdraft would cover it; a charge never uses it
    assert ledger_state(ledger, BOB) == before

    result = charge(charges, 5_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCEEDED, 1_000, 4_000)
    assert wallet_state(ledger, *BOB)[:3] == (0, 0, 500)
    assert [c.amount_minor for c in gateway.charge_calls] == [4_000]


def test_an_unknown_card_outcome_leaves_the_charge_pending_until_the_hold_lapses(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway, clock: FakeClock
) -> None:
    charge_id = idempotent_id("", "charge-1")
    gateway.script(f"charge:{charge_id}", UNKNOWN)

    result = charge(charges, 5_000, card=card(), idempotency_key="charge-1")

    assert (result.id, result.status, result.transaction_id) == (charge_id, PENDING, None)
    assert wallet_state(bob, *BOB)[:3] == (3_000, 3_000, 0)
    assert journals(bob, "charge") == []
    clock.advance(CHARGE_HOLD_TTL.total_seconds())
    assert wallet_state(bob, *BOB)[:3] == (3_000, 0, 3_000)
    assert bob.get_hold(uuid5(charge_id, "hold")).status == "expired"


def test_replaying_a_pending_charge_asks_the_gateway_again_with_the_same_key_and_charges_once(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    charge_id = idempotent_id("", "charge-1")
    key = f"charge:{charge_id}"
    gateway.script(key, UNKNOWN_BUT_CHARGED)  # the card paid; the answer got lost
    pending = charges.create_charge(
        "bob", "shop", 5_000, "USD", card=card(), idempotency_key="charge-1"
    )
    assert pending.value.status == PENDING

    replayed = charges.create_charge(
        "bob", "shop", 5_000, "USD", card=card(), idempotency_key="charge-1"
    )

    assert replayed.value.status == SUCCEEDED
    assert (gateway.keys_called(), gateway.calls_for(key), list(gateway.captured)) == (
        [key],
        2,
        [key],
    )
    assert len(journals(bob, "charge", str(charge_id))) == 1
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)
    assert bob.get_hold(uuid5(charge_id, "hold")).status == "posted"
    again = charges.create_charge(
        "bob", "shop", 5_000, "USD", card=card(), idempotency_key="charge-1"
    )
    assert (again.replayed, again.value.status, gateway.calls_for(key)) == (True, SUCCEEDED, 2)


def test_the_same_key_and_request_replays_the_charge_and_charges_the_card_once(
    bob: Ledger, charges: ChargeService, gateway: CountingGateway
) -> None:
    first = charges.create_charge("bob", "shop", 5_000, "USD", card=card(), idempotency_key="c-1")
    before = (ledger_state(bob, BOB), len(gateway.charge_calls), len(gateway.tokenized))

    again = charges.create_charge("bob", "shop", 5_000, "USD", card=card(), idempotency_key="c-1")

    assert again.replayed
    assert again.value == first.value
    assert (ledger_state(bob, BOB), len(gateway.charge_calls), len(gateway.tokenized)) == before
    with pytest.raises(IdempotencyKeyReusedError):
        charges.create_charge("bob", "shop", 5_001, "USD", card=card(), idempotency_key="c-1")
    assert (ledger_state(bob, BOB), len(gateway.charge_calls), len(gateway.tokenized)) == before


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"amount_minor": 0}, InvalidAmountError),
        ({"amount_minor": -5}, InvalidAmountError),
        ({"customer_id": ""}, InvalidCustomerIdError),
        ({"currency": "XYZ"}, UnknownCurrencyError),
        ({"splits": (Split("shop", bps=9000),)}, InvalidSplitError),
        ({"card": card(BAD_NUMBER_CARD)}, CardRejectedError),
        ({"card": card(exp_year=2020)}, CardRejectedError),
        ({"card": None, "payment_method": "pm\n1"}, InvalidPaymentMethodError),
        ({"card": None, "payment_method": "p" * 256}, InvalidPaymentMethodError),
    ],
)
def test_refuses_an_invalid_charge_and_records_nothing(
    bob: Ledger,
    charges: ChargeService,
    gateway: CountingGateway,
    arguments: dict[str, Any],
    error: type[Exception],
) -> None:
    request: dict[str, Any] = {
        "customer_id": "bob",
        "recipient": "shop",
        "amount_minor": 5_000,
        "currency": "USD",
        "card": card(),
        **arguments,
    }
    before = ledger_state(bob, BOB)

    with pytest.raises(error):
        charges.create_charge(**request)

    assert ledger_state(bob, BOB) == before
    assert gateway.charge_calls == []


def test_a_refused_card_says_why_with_a_stable_code(bob: Ledger, charges: ChargeService) -> None:
    with pytest.raises(CardRejectedError) as refused:
        charge(charges, 5_000, card=card(BAD_NUMBER_CARD))

    assert refused.value.code == "card_rejected"
    assert "INVALID_CARD" in str(refused.value)
    assert BAD_NUMBER_CARD not in str(refused.value)


def test_an_unknown_charge_is_not_found(charges: ChargeService) -> None:
    with pytest.raises(ChargeNotFoundError):
        charges.get_charge(uuid4())


def test_refuses_a_charge_without_a_recipient_and_records_nothing(
    bob: Ledger, charges: ChargeService
) -> None:
    before = ledger_state(bob, BOB)

    for recipient in ("", "x" * 201, "shop\n"):
        with pytest.raises(InvalidRecipientError):
            charges.create_charge("bob", recipient, 1_000, "USD")

    assert ledger_state(bob, BOB) == before


class SlowGateway(CountingGateway):
    """Answers only after the wallet's hold has lapsed; `meanwhile` runs before it answers."""

    def __init__(self, clock: FakeClock, meanwhile: Callable[[], object] = lambda: None) -> None:
        super().__init__()
        self.clock = clock
        self.meanwhile = meanwhile

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.clock.advance(CHARGE_HOLD_TTL.total_seconds() + 1)
        self.meanwhile()
        return super().charge(request)


def test_a_card_paid_after_the_hold_lapsed_takes_the_wallet_part_as_a_plain_debit(
    bob: Ledger, clock: FakeClock
) -> None:
    slow = SlowGateway(clock)
    charges = ChargeService(bob, slow)

    result = charge(charges, 5_000, card=card())

    assert (result.status, result.wallet_amount, result.card_amount) == (SUCCEEDED, 3_000, 2_000)
    assert charges.get_charge(result.id) == result
    assert bob.get_hold(uuid5(result.id, "hold")).status == "voided"
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)
    assert postings(bob, result.id)[0][:2] == [
        ("wallet:bob", -3_000),
        ("system:gateway_clearing", -2_000),
    ]
    assert slow.refund_calls == []


def test_a_card_paid_after_the_wallet_money_went_elsewhere_fails_and_gives_the_card_back(
    bob: Ledger, clock: FakeClock
) -> None:
    slow = SlowGateway(clock, meanwhile=lambda: bob.debit_wallet("bob", 3_000, "USD"))
    charges = ChargeService(bob, slow)

    result = charge(charges, 5_000, card=card())

    assert (result.status, result.failure_reason) == (FAILED, WALLET_HOLD_LAPSED)
    assert journals(bob, "charge") == []
    assert wallet_state(bob, *BOB)[:3] == (0, 0, 0)
    (taken,) = slow.captured.values()
    reference = slow.reference_of(taken.idempotency_key)
    assert slow.refund_calls == [
        RefundRequest(reference, 2_000, "USD", f"charge-refund:{result.id}")
    ]
    assert slow.refunded_for(reference) == 2_000


def test_a_card_that_cannot_be_given_back_is_not_silently_kept(
    bob: Ledger, clock: FakeClock
) -> None:
    slow = SlowGateway(clock, meanwhile=lambda: bob.debit_wallet("bob", 3_000, "USD"))
    charges = ChargeService(bob, slow)
    charge_id = idempotent_id("", "charge-1")
    slow.script_refund(f"charge-refund:{charge_id}", fail("REFUND_DECLINED"))

    try:
        result = charge(charges, 5_000, card=card(), idempotency_key="charge-1")
    except DomainError:
        return  # the failure to give the money back is reported
    assert result.status == FAILED
    reference = slow.reference_of(f"charge:{charge_id}")
    assert slow.refunded_for(reference) == result.card_amount
