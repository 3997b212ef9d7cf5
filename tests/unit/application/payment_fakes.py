"""A hand-written payment gateway for tests, and readers of the money a test moved.

`CountingGateway` behaves like a real idempotent card processor: the first definite outcome
of an idempotency key is final, and a repeated call with that key returns it again without
taking money twice. It records every call, so a test can ask how often a key was charged and
how much money really left the card. Outcomes are scripted per idempotency key or per card
token; anything unscripted follows the well-known test card numbers below.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.errors import CardRejectedError
from application.ledger import Ledger
from application.ports.gateway import (
    CARD_DECLINED,
    CHECKOUT_CANCELLED,
    CHECKOUT_EXPIRED,
    EXPIRED_CARD,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    PROCESSING_ERROR,
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    RefundRequest,
    RefundResult,
)
from domain.ids import payable_account_id, system_account_id
from domain.journal import PLATFORM_FEES, PLATFORM_PAYEE, JournalTransaction
from tests.unit.application.support import read_log

# Test cards (Luhn-valid, as at real processors); any other valid number succeeds.
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
NO_FUNDS_CARD = "4000000000009995"
EXPIRED_AT_BANK_CARD = "4000000000000069"  # the bank says expired although the date is valid
PROCESSING_ERROR_CARD = "4000000000000119"
CARD_OUTCOMES = {
    DECLINED_CARD: CARD_DECLINED,
    NO_FUNDS_CARD: INSUFFICIENT_FUNDS,
    EXPIRED_AT_BANK_CARD: EXPIRED_CARD,
    PROCESSING_ERROR_CARD: PROCESSING_ERROR,
}
BAD_NUMBER_CARD = "4242424242424241"  # fails the Luhn check: refused at tokenize

# Cards expire at the end of their month; the fake's "today" matches FakeClock's start.
TODAY = (2026, 1)

REFUND_EXCEEDS_CHARGE = "REFUND_EXCEEDS_CHARGE"
UNKNOWN_CHARGE = "UNKNOWN_CHARGE"


def card(number: str = GOOD_CARD, exp_month: int = 12, exp_year: int = 2030) -> Card:
    return Card(number, exp_month, exp_year, "123")


def token_of(number: str) -> str:
    """The token `CountingGateway.tokenize` gives a card number (deterministic)."""
    return f"tok_{hashlib.sha256(number.encode()).hexdigest()[:12]}_{number[-4:]}"


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@dataclass(frozen=True)
class Step:
    """One scripted gateway answer. `charged` says whether money moved even though the
    answer was lost (`unknown`): a timeout after the processor took the money."""

    outcome: str  # succeeded | failed | unknown | crash
    code: str = ""
    charged: bool = False


SUCCEED = Step("succeeded")
UNKNOWN = Step("unknown")
UNKNOWN_BUT_CHARGED = Step("unknown", charged=True)
# The processor took the money, then the connection dropped: the call raises.
CRASH_AFTER_CHARGE = Step("crash", charged=True)


def fail(code: str) -> Step:
    return Step("failed", code)


class GatewayConnectionLostError(Exception):
    """The fake's stand-in for a dropped connection (raised by a `crash` step)."""


class CountingGateway:
    """The PaymentGateway port, in memory, counting everything it is asked."""

    name = "counting"

    def __init__(self) -> None:
        self.tokenized: list[str] = []  # last 4 digits of every card tokenized
        self.charge_calls: list[ChargeRequest] = []
        self.refund_calls: list[RefundRequest] = []
        self.checkout_calls: list[tuple[int, str, str]] = []
        self.checkout_sessions: dict[str, tuple[str, str]] = {}  # id -> (key, status)
        self.checkout_status_calls: list[str] = []
        self.checkout_amounts: dict[str, ChargeRequest] = {}
        # The gateway's own truth: money it took (per key) and gave back (per refund key).
        self.captured: dict[str, ChargeRequest] = {}
        self.charge_results: dict[str, ChargeResult] = {}  # definite outcome per key
        self.refunded: dict[str, RefundRequest] = {}
        self.refund_results: dict[str, RefundResult] = {}
        self._charge_scripts: dict[str, list[Step]] = defaultdict(list)
        self._refund_scripts: dict[str, list[Step]] = defaultdict(list)

    # Scripting.

    def script(self, key_or_token: str, *steps: Step) -> None:
        """Answer the next charge calls with this key (or card token) with `steps`, in order;
        after them the gateway behaves as usual (a settled key keeps its outcome)."""
        self._charge_scripts[key_or_token].extend(steps)

    def script_refund(self, key: str, *steps: Step) -> None:
        """Answer the next refund calls with this idempotency key with `steps`."""
        self._refund_scripts[key].extend(steps)

    # Queries.

    def calls_for(self, key: str) -> int:
        return sum(call.idempotency_key == key for call in self.charge_calls)

    def keys_called(self) -> list[str]:
        """Distinct charge keys, in the order first seen."""
        return list(dict.fromkeys(call.idempotency_key for call in self.charge_calls))

    def reference_of(self, key: str) -> str:
        """The charge id a real gateway would give this key: the same key, the same id."""
        return f"ch_{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def captured_for(self, prefix: str) -> list[ChargeRequest]:
        """Charges that took money with a key starting with `prefix` (e.g. a payment id)."""
        return [request for key, request in self.captured.items() if key.startswith(prefix)]

    def refunded_for(self, reference: str) -> int:
        return sum(r.amount_minor for r in self.refunded.values() if r.reference == reference)

    # The port.

    def tokenize(self, card: Card) -> CardToken:
        number = card.number
        if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
            raise CardRejectedError(INVALID_CARD, "The card number is invalid.")
        if not 1 <= card.exp_month <= 12 or (card.exp_year, card.exp_month) < TODAY:
            raise CardRejectedError(EXPIRED_CARD, "The card has expired.")
        self.tokenized.append(number[-4:])
        return CardToken(token_of(number), "visa", number[-4:])

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.charge_calls.append(request)
        key = request.idempotency_key
        earlier = self.captured.get(key)
        if earlier is not None and earlier.amount_minor != request.amount_minor:
            raise AssertionError(f"key {key} reused for a different amount")
        step = self._next_step(self._charge_scripts, key, request.token)
        settled = self.charge_results.get(key)
        if step is None or (settled is not None and step.outcome in ("succeeded", "failed")):
            if settled is not None:  # a settled key keeps its outcome, whatever is scripted
                return settled
            step = step or self._default_step(request.token)
        if step.outcome == "failed":
            return self._settle(key, ChargeResult("failed", failure_code=step.code))
        success = ChargeResult("succeeded", reference=self.reference_of(key))
        if step.outcome == "succeeded" or (step.charged and settled is None):
            self.captured[key] = request  # the money moves: the key's outcome is now fixed
            self.charge_results[key] = success
        if step.outcome == "succeeded":
            return success
        if step.outcome == "crash":
            raise GatewayConnectionLostError(key)
        return ChargeResult("unknown", message="timed out")

    def refund(self, request: RefundRequest) -> RefundResult:
        self.refund_calls.append(request)
        key = request.idempotency_key
        step = self._next_step(self._refund_scripts, key, "")
        settled = self.refund_results.get(key)
        if step is None or (settled is not None and step.outcome in ("succeeded", "failed")):
            if settled is not None:
                return settled
            step = step or SUCCEED
        if step.outcome == "failed":
            return self._settle_refund(key, RefundResult("failed", failure_code=step.code))
        if step.outcome != "succeeded" and (not step.charged or settled is not None):
            return RefundResult("unknown", message="timed out")
        result = self._give_back(key, request)
        return result if step.outcome == "succeeded" else RefundResult("unknown")

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        self.checkout_calls.append((amount_minor, currency, idempotency_key))
        session_id = f"cs_{self.reference_of(idempotency_key)[3:]}"
        self.checkout_sessions.setdefault(session_id, (idempotency_key, "open"))
        self.checkout_amounts[session_id] = ChargeRequest(
            amount_minor, currency, session_id, idempotency_key
        )
        return CheckoutSession(session_id, f"https://gateway.test/pay/{session_id}")

    def pay_checkout(self, session_id: str) -> None:
        """The payer pays on the hosted page (an open session only): money is taken."""
        key, status = self.checkout_sessions[session_id]
        if status == "open":
            self.checkout_sessions[session_id] = (key, "paid")
            self.captured[key] = self.checkout_amounts[session_id]

    def checkout_status(self, session_id: str) -> ChargeResult:
        self.checkout_status_calls.append(session_id)
        if session_id not in self.checkout_sessions:
            return ChargeResult("failed", "", CHECKOUT_EXPIRED)
        key, status = self.checkout_sessions[session_id]
        if status == "paid":
            return ChargeResult("succeeded", self.reference_of(key))
        if status == "cancelled":
            return ChargeResult("failed", "", CHECKOUT_CANCELLED)
        return ChargeResult("unknown")

    def cancel_checkout(self, session_id: str) -> ChargeResult:
        key, status = self.checkout_sessions[session_id]
        if status == "open":
            self.checkout_sessions[session_id] = (key, "cancelled")
        return self.checkout_status(session_id)

    # Helpers.

    @staticmethod
    def _next_step(scripts: dict[str, list[Step]], key: str, token: str) -> Step | None:
        for name in (key, token):
            if scripts.get(name):
                return scripts[name].pop(0)
        return None

    @staticmethod
    def _default_step(token: str) -> Step:
        for number, code in CARD_OUTCOMES.items():
            if token == token_of(number):
                return fail(code)
        return SUCCEED

    def _settle(self, key: str, result: ChargeResult) -> ChargeResult:
        self.charge_results.setdefault(key, result)
        return self.charge_results[key]

    def _settle_refund(self, key: str, result: RefundResult) -> RefundResult:
        self.refund_results.setdefault(key, result)
        return self.refund_results[key]

    def _give_back(self, key: str, request: RefundRequest) -> RefundResult:
        """Refund part of a captured charge; never more than it took, like a real gateway."""
        charges = [c for k, c in self.captured.items() if self.reference_of(k) == request.reference]
        if not charges:
            return self._settle_refund(key, RefundResult("failed", failure_code=UNKNOWN_CHARGE))
        if self.refunded_for(request.reference) + request.amount_minor > charges[0].amount_minor:
            failed = RefundResult("failed", failure_code=REFUND_EXCEEDS_CHARGE)
            return self._settle_refund(key, failed)
        self.refunded[key] = request
        return self._settle_refund(
            key, RefundResult("succeeded", reference=f"re_{self.reference_of(key)[3:]}")
        )


# Readers of the money a test moved (the journal, straight from the log).


def journals(ledger: Ledger, kind: str | None = None, reference: str | None = None) -> list[Any]:
    """`JournalTransaction.Recorded` events, optionally of one kind and one reference."""
    return [
        event
        for _, event in read_log(ledger)
        if isinstance(event, JournalTransaction.Recorded)
        and (kind is None or event.kind == kind)
        and (reference is None or event.reference == reference)
    ]


def money_by_currency(ledger: Ledger) -> dict[str, int]:
    """The sum of every posting per currency: zero everywhere when money is conserved."""
    totals: dict[str, int] = defaultdict(int)
    for journal in journals(ledger):
        for posting in journal.postings:
            totals[posting.currency] += posting.amount_minor
    return dict(totals)


def assert_money_conserved(ledger: Ledger) -> None:
    totals = money_by_currency(ledger)
    assert all(total == 0 for total in totals.values()), totals
    for journal in journals(ledger):
        by_currency: dict[str, int] = defaultdict(int)
        for posting in journal.postings:
            by_currency[posting.currency] += posting.amount_minor
        assert set(by_currency.values()) == {0}, journal


def account_balance(ledger: Ledger, account_id: UUID) -> int:
    return sum(
        posting.amount_minor
        for journal in journals(ledger)
        for posting in journal.postings
        if posting.account_id == account_id
    )


def payee_account_id(payee: str, currency: str) -> UUID:
    if payee == PLATFORM_PAYEE:
        return system_account_id(PLATFORM_FEES, currency)
    return payable_account_id(payee, currency)


def payee_balance(ledger: Ledger, payee: str, currency: str) -> int:
    """What the ledger owes a payee (the platform's fees for `platform`)."""
    return account_balance(ledger, payee_account_id(payee, currency))
