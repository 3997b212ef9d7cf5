"""Card checks shared by the gateways, and the table of test cards.

Everything here works on the digits only in memory: no function returns, logs or puts a full
card number into an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from application.errors import CardRejectedError
from application.ports.gateway import EXPIRED_CARD, INVALID_CARD, Card

PAN_DIGITS_MIN = 13
PAN_DIGITS_MAX = 19
# A card valid for longer than this is a typo (or a made-up card), not a real expiry.
EXPIRY_YEARS_AHEAD_MAX = 50

# Behaviours a test card (or a simulated token) stands for.
OK = "ok"  # always succeeds
DRAW = "draw"  # any other valid card: the simulated gateway's seeded draw decides
DECLINED = "declined"
NO_FUNDS = "nofunds"
EXPIRED = "expired"  # accepted at tokenization, declined as expired at charge time
PROCESSING = "processing"
BAD_CVC = "badcvc"
UNAVAILABLE = "unavailable"
TIMEOUT = "timeout"  # simulated: unknown on the first call for a key, then succeeded


@dataclass(frozen=True)
class TestCard:
    """A documented card number: what it does, and Stripe's ready-made PaymentMethod for it
    (empty for the two numbers that only the simulated gateway knows)."""

    __test__ = False  # not a pytest test class, whatever its name

    behaviour: str
    stripe_token: str


# Stripe's documented test numbers (docs.stripe.com/testing) plus two of our own: Stripe has
# no card for "processor unavailable" or "lost response", which the legacy system simulates.
TEST_CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard(OK, "pm_card_visa"),
    "4000056655665556": TestCard(OK, "pm_card_visa_debit"),
    "5555555555554444": TestCard(OK, "pm_card_mastercard"),
    "378282246310005": TestCard(OK, "pm_card_amex"),
    "6011111111111117": TestCard(OK, "pm_card_discover"),
    "4000000000000002": TestCard(DECLINED, "pm_card_chargeDeclined"),
    "4000000000009995": TestCard(NO_FUNDS, "pm_card_chargeDeclinedInsufficientFunds"),
    "4000000000000069": TestCard(EXPIRED, "pm_card_chargeDeclinedExpiredCard"),
    "4000000000000119": TestCard(PROCESSING, "pm_card_chargeDeclinedProcessingError"),
    "4000000000000127": TestCard(BAD_CVC, "pm_card_chargeDeclinedIncorrectCvc"),
    "4000000000005035": TestCard(UNAVAILABLE, ""),  # "503"
    "4000000000000408": TestCard(TIMEOUT, ""),  # "408"
}

# The same behaviours reached through Stripe's test PaymentMethod ids (the simulated gateway
# accepts them as tokens too, so clients can use one set of test tokens for both gateways).
STRIPE_TEST_TOKENS: dict[str, str] = {
    card.stripe_token: card.behaviour for card in TEST_CARDS.values() if card.stripe_token
}


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check digit test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str:
    """The scheme from the issuer identification number (the leading digits)."""
    if digits.startswith("4"):
        return "visa"
    if digits.startswith(("34", "37")):
        return "amex"
    if digits.startswith(("6011", "65")):
        return "discover"
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return "mastercard"
    return "unknown"


@dataclass(frozen=True)
class CheckedCard:
    """A card that passed the checks. Its repr hides the number."""

    digits: str
    brand: str
    exp_month: int
    exp_year: int

    @property
    def last4(self) -> str:
        return self.digits[-4:]

    def __repr__(self) -> str:
        return f"CheckedCard({self.brand} ****{self.last4}, {self.exp_month:02d}/{self.exp_year})"


def check_card(card: Card, today: date) -> CheckedCard:
    """Normalise and check a card: 13-19 digits (spaces and dashes allowed), Luhn, a month
    1-12, an expiry not before this month. Raises `CardRejectedError` (INVALID_CARD or
    EXPIRED_CARD) with a message that never contains the number."""
    digits = card.number.replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        raise CardRejectedError(INVALID_CARD, "The card number must contain only digits.")
    if not PAN_DIGITS_MIN <= len(digits) <= PAN_DIGITS_MAX:
        raise CardRejectedError(
            INVALID_CARD, f"The card number must have {PAN_DIGITS_MIN}-{PAN_DIGITS_MAX} digits."
        )
    if not luhn_valid(digits):
        raise CardRejectedError(INVALID_CARD, "The card number fails the Luhn check.")
    if not 1 <= card.exp_month <= 12:
        raise CardRejectedError(INVALID_CARD, "The expiry month must be 1-12.")
    exp_year = card.exp_year + 2000 if 0 <= card.exp_year < 100 else card.exp_year
    if exp_year > today.year + EXPIRY_YEARS_AHEAD_MAX:
        raise CardRejectedError(INVALID_CARD, "The expiry year is too far ahead.")
    if (exp_year, card.exp_month) < (today.year, today.month):
        raise CardRejectedError(EXPIRED_CARD, "The card has expired.")
    return CheckedCard(digits, card_brand(digits), card.exp_month, exp_year)
