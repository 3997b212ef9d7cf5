"""Text that becomes an event: no control characters, no card numbers, within limits."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.account import Account
from domain.errors import CardNumberInTextError, InvalidCustomerIdError, InvalidTextError
from domain.hold import Hold
from domain.journal import JournalTransaction, system_posting
from domain.money import check_customer_id
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.splits import Split
from domain.text import check_text, contains_card_number, has_control_characters

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)

CARD_NUMBERS = [
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "4242  4242 - 4242 4242",
    "3782 822463 10005",  # Amex, 4-6-5
    "6011111111111117",
    "4000056655665556",
    "ref:4242424242424242.",
    "x4242424242424242y",
    "paid with 5555555555554444 yesterday",
    "12-4242 4242 4242 4242",  # a card after other digits
    "\uff14\uff12\uff14\uff12" * 4,  # full-width digits are digits too
    "4242424242424242428",  # 19 digits, Luhn-valid
]
NOT_CARD_NUMBERS = [
    "",
    "Invoice #1042",
    "4242424242424241",  # fails Luhn
    "424242424242",  # 12 digits
    "42424242424242424242424",  # 23 digits: not a card number's shape
    "payment 27576334-9649-5fdc-af55-2bad282d6c61",
    "27576334-9649-5123-8abc-2bad282d6c61",  # a UUID whose first groups pass Luhn
    "+44 20 7946 0958",
    "2026-02-26 10:00:05",
    "4-2-4-2-4-2-4-2-4-2-4-2-4-2-4-2",  # groups too short to be a card's
]


@pytest.mark.parametrize("text", CARD_NUMBERS)
def test_finds_a_card_number_anywhere_in_a_string(text: str) -> None:
    assert contains_card_number(text)
    with pytest.raises(CardNumberInTextError):
        check_text(text, "description", 500)


@pytest.mark.parametrize("text", NOT_CARD_NUMBERS)
def test_leaves_alone_what_is_not_shaped_like_a_card_number(text: str) -> None:
    assert not contains_card_number(text)
    assert check_text(text, "description", 500) == text


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
)
def test_refuses_control_characters(char: str) -> None:
    assert has_control_characters(f"a{char}b")
    with pytest.raises(InvalidTextError):
        check_text(f"a{char}b", "reason", 200)


def test_refuses_a_lone_surrogate() -> None:
    with pytest.raises(InvalidTextError):
        check_text("a\ud800b", "reason", 200)


@pytest.mark.parametrize(
    "text",
    [
        "caf\u00e9 \u65e5\u672c \U0001f4b8",
        "\u200f\u202eright to left\u202c",
        'O\'Brien "quoted" \\ back',
        "'; DROP TABLE payments; --",
        "\u2028line\u2029separators",
        "\u00a0no-break\u00a0space",
    ],
)
def test_accepts_hostile_but_valid_text(text: str) -> None:
    assert check_text(text, "description", 500) == text


def test_enforces_the_length_limit_and_emptiness_when_asked() -> None:
    assert check_text("x" * 200, "reason", 200) == "x" * 200
    with pytest.raises(InvalidTextError):
        check_text("x" * 201, "reason", 200)
    with pytest.raises(InvalidTextError):
        check_text("", "recipient", 200, required=True)


def test_a_customer_id_is_printable_and_never_a_card_number() -> None:
    assert check_customer_id("alice") == "alice"
    with pytest.raises(InvalidCustomerIdError):
        check_customer_id("a\x00b")
    with pytest.raises(CardNumberInTextError):
        check_customer_id("4242 4242 4242 4242")


# The aggregates check what they record, whoever calls them.


def test_a_wallet_refuses_a_description_it_could_not_record() -> None:
    wallet = Account.open("alice", "USD")
    with pytest.raises(InvalidTextError):
        wallet.credit(100, "USD", uuid4(), "credit", "top\x00up")
    with pytest.raises(CardNumberInTextError):
        wallet.credit(100, "USD", uuid4(), "credit", "card 4242424242424242")
    with pytest.raises(InvalidTextError):
        wallet.void_hold(uuid4(), "why\x85")
    assert wallet.balance_minor == 0
    assert len(wallet.collect_events()) == 1  # only Opened


def test_a_journal_transaction_refuses_a_description_it_could_not_record() -> None:
    postings = (system_posting("a", -1, "USD"), system_posting("b", 1, "USD"))
    with pytest.raises(InvalidTextError):
        JournalTransaction.record(uuid4(), "credit", postings, "x\x1b[31m", "")


def test_a_hold_refuses_text_it_could_not_record() -> None:
    with pytest.raises(InvalidTextError):
        Hold.place(uuid4(), uuid4(), "alice", 100, "USD", None, "d\x00", "")
    hold = Hold.place(uuid4(), uuid4(), "alice", 100, "USD", None, "d", "")
    with pytest.raises(CardNumberInTextError):
        hold.void("4242 4242 4242 4242", "", NOW)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("currency", "US\x00D", InvalidTextError),
        ("currency", "DOLLARS", InvalidTextError),
        ("recipient", "shop\n", InvalidTextError),
        ("payer_id", "4242424242424242", CardNumberInTextError),
        ("description", "\x00", InvalidTextError),
        ("card_token", "pm 4242 4242 4242 4242", CardNumberInTextError),
    ],
)
def test_a_payment_refuses_text_it_could_not_record(
    field: str, value: str, error: type[Exception]
) -> None:
    fields: dict[str, object] = {
        "payer_id": "alice",
        "recipient": "shop",
        "currency": "USD",
        "description": "",
        "card_token": "",
        field: value,
    }
    with pytest.raises(error):
        Payment.create(
            uuid4(),
            str(fields["payer_id"]),
            str(fields["recipient"]),
            100,
            str(fields["currency"]),
            PaymentMethod.CARD,
            str(fields["description"]),
            (),
            "digest",
            NOW,
            card_token=str(fields["card_token"]),
        )


def test_a_payment_refuses_a_payee_or_refund_reason_it_could_not_record() -> None:
    with pytest.raises(CardNumberInTextError):
        Payment.create(
            uuid4(),
            "alice",
            "shop",
            100,
            "USD",
            PaymentMethod.CARD,
            "",
            (Split("4242424242424242", bps=10_000),),
            "digest",
            NOW,
        )
    payment = Payment.create(
        uuid4(), "alice", "shop", 100, "USD", PaymentMethod.CARD, "", (), "d", NOW
    )
    payment.start_processing("k", NOW)
    payment.succeed(uuid4(), "ref", NOW)
    with pytest.raises(InvalidTextError):
        payment.request_refund(uuid4(), 100, "why\x00", "digest", NOW)
    assert payment.refundable_minor == 100
