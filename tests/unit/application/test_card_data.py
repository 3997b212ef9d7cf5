"""Card numbers cannot be recovered from the log (PCI DSS).

The attack this guards against: the log keeps a payment's card brand and last four digits and
every field of its request digest but the card; the issuer's first six digits (the BIN) are
public. That leaves about 100,000 Luhn-valid candidate numbers. With an unkeyed hash of the
number inside the digest (as stored before), hashing them all finds the card in seconds. With
a keyed HMAC, the same search without the secret finds nothing.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from adapters.fingerprint import HmacFingerprinter
from adapters.gateways.simulated import SimulatedPaymentGateway
from application.charges import ChargeRequest
from application.idempotency import request_digest
from application.payments import PaymentRequest, card_fingerprint
from application.ports.gateway import Card
from domain.money import Money
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.request_claim import RequestClaim
from domain.text import luhn_valid
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import (
    CALLER,
    TEST_FINGERPRINT_SECRET,
    App,
    make_app,
    read_log,
)

pytestmark = pytest.mark.unit

PAN = "4000056655665556"  # a Visa test number the simulated gateway lets pay
BIN, LAST4 = PAN[:6], PAN[-4:]
EXP_MONTH, EXP_YEAR = 12, 2030  # the attacker is even given the expiry
HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")

Fingerprint = Callable[[str], str | None]


@functools.cache
def candidates() -> tuple[str, ...]:
    """Every Luhn-valid 16-digit number with this BIN and these last four digits: for each
    of the 100,000 choices of the first five unknown digits, the sixth (never doubled by
    Luhn) is the one digit that makes the number valid."""
    numbers = []
    for middle in range(100_000):
        number = f"{BIN}{middle:05d}0{LAST4}"
        sixth = (10 - luhn_sum(number) % 10) % 10
        numbers.append(f"{BIN}{middle:05d}{sixth}{LAST4}")
    assert all(luhn_valid(number) for number in numbers[:100])
    return tuple(numbers)


def luhn_sum(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total


def search(stored: set[str], digest_of: Callable[[str], str]) -> list[str]:
    """The attacker's search: the candidates whose digest is somewhere in the log."""
    return [number for number in candidates() if digest_of(number) in stored]


def stored_digests(app: App) -> set[str]:
    """Every 64-hex string the log holds (request digests of payments and claims)."""
    found: set[str] = set()
    for _, event in read_log(app):
        for value in vars(event).values():
            if isinstance(value, str) and HEX_DIGEST.match(value):
                found.add(value)
    return found


def payment_fields(card_print: str | None) -> dict[str, Any]:
    """What the log tells the attacker about the payment: everything but the card."""
    request = PaymentRequest("", "shop", 2_500, "USD", PaymentMethod.CARD, "order 1042")
    return request.fields(card_print)


def old_fingerprint(number: str) -> str:
    """The unkeyed fingerprint stored before: a plain SHA-256 over the number and expiry."""
    return request_digest("card", number=number, exp=EXP_YEAR)


def keyed(secret: bytes) -> Callable[[str], str]:
    fingerprinter = HmacFingerprinter(secret)
    return lambda number: card_fingerprint(fingerprinter, Card(number, EXP_MONTH, EXP_YEAR))


def payment_digest(fingerprint: Callable[[str], str]) -> Callable[[str], str]:
    """The payment's request digest for a candidate card, as the attacker computes it: the
    digest's JSON with the fingerprint spliced in (a fast but exact `request_digest`)."""
    marker = "FINGERPRINT"
    template = request_digest_payload("create_payment", payment_fields(marker))
    head, tail = template.split(marker.encode())

    def digest(number: str) -> str:
        return hashlib.sha256(head + fingerprint(number).encode() + tail).hexdigest()

    expected = request_digest("create_payment", **payment_fields(fingerprint(PAN)))
    assert digest(PAN) == expected  # the shortcut is the real digest
    return digest


def request_digest_payload(operation: str, fields: dict[str, Any]) -> bytes:
    """What `request_digest` hashes (sorted JSON of the operation and the fields)."""
    import msgspec

    return msgspec.json.Encoder(order="sorted").encode({"operation": operation, **fields})


@pytest.fixture
def paid() -> App:
    """A card payment (keyed, so a claim holds its digest too) and a wallet-first charge by
    card, on the simulated gateway (whose tokens hold no hash of the number)."""
    gateway = SimulatedPaymentGateway(failure_rate=0.0, today=lambda: date(2026, 1, 1))
    app = make_app(FakeClock(), gateway)
    request = PaymentRequest(
        "", "shop", 2_500, "USD", PaymentMethod.CARD, "order 1042", card=Card(PAN, 12, 2030)
    )
    app.payments.create_payment(CALLER, request, "order-1042")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    charge = ChargeRequest("bob", "shop", Money(1_000, "USD"), card=Card(PAN, 12, 2030))
    app.charges.create_charge(CALLER, charge, "charge-1")
    return app


def test_the_log_holds_no_card_number_and_the_payments_hold_only_brand_and_last4(
    paid: App,
) -> None:
    created = [event for _, event in read_log(paid) if isinstance(event, Payment.Created)]
    assert len(created) == 2
    assert {(event.card_brand, event.card_last4) for event in created} == {("visa", LAST4)}
    assert sum(isinstance(event, RequestClaim.Claimed) for _, event in read_log(paid)) == 2
    for _, event in read_log(paid):
        assert PAN not in repr(vars(event))
        assert PAN[6:12] not in str(vars(event).get("card_token", ""))


def test_a_bin_and_last4_search_finds_nothing_without_the_secret(paid: App) -> None:
    stored = stored_digests(paid)
    assert len(stored) >= 2

    # The search is real: against the digest the old unkeyed fingerprint made, it finds the
    # card among the ~100,000 candidates.
    old_digest = payment_digest(old_fingerprint)(PAN)
    assert search({old_digest}, payment_digest(old_fingerprint)) == [PAN]

    # Against what the log holds now, neither the old scheme nor a guessed key finds it.
    assert search(stored, payment_digest(old_fingerprint)) == []
    assert search(stored, payment_digest(keyed(b"guessed-secret-guessed-secret"))) == []

    # Only the secret, which the log never holds, makes the stored digest searchable.
    assert search(stored, payment_digest(keyed(TEST_FINGERPRINT_SECRET))) == [PAN]


def test_the_same_card_in_the_same_request_still_replays(paid: App) -> None:
    request = PaymentRequest(
        "", "shop", 2_500, "USD", PaymentMethod.CARD, "order 1042", card=Card(PAN, 12, 2030)
    )
    again = paid.payments.create_payment(CALLER, request, "order-1042")
    assert again.replayed
    spaced = PaymentRequest(
        "",
        "shop",
        2_500,
        "USD",
        PaymentMethod.CARD,
        "order 1042",
        card=Card("4000 0566 5566 5556", 12, 2030),
    )
    assert paid.payments.create_payment(CALLER, spaced, "order-1042").replayed
