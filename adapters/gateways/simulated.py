"""The simulated "legacy payment system": a deterministic card processor with no server.

Every answer is a pure function of (seed, the request), so the API process and the worker
processes, each with its own instance, agree on what a card and a key do:

- `tokenize` checks the card and returns a self-describing token
  `pm_sim_<behaviour>_<brand>_<last4>`; the behaviour comes from the test-card table in
  `adapters.gateways.cards` (Stripe's test numbers plus two of ours), `draw` for any other card.
- `charge` reads the behaviour back from the token. A `draw` card fails with PROCESSING_ERROR
  when a number derived from a hash of (seed, idempotency key) falls below `failure_rate`:
  the same key always gets the same answer (an idempotent replay), a new key draws again.
  `LEGACY_ACCOUNT_TOKEN` is a charge of the legacy processor's own account (seed 001's
  payments name no card, method `legacy`): the same draw decides it.
- The TIMEOUT card (4000 0000 0000 0408) answers `unknown` the first time this instance sees
  an idempotency key and `succeeded` afterwards, to exercise reconciliation. That memory is
  per process (and bounded): another process seeing the same key for the first time also
  answers `unknown` once.
- Hosted checkout sessions are the other state, and it is shared: they live in a table of
  their own (`SimulatedCheckoutSessions`, in the SQLite file or PostgreSQL), so the hosted
  page's Pay button served by one process and `checkout_status` asked by another agree.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime

from adapters.gateways import simulated_checkout as sessions
from adapters.gateways.cards import (
    BAD_CVC,
    DECLINED,
    DRAW,
    EXPIRED,
    NO_FUNDS,
    OK,
    PROCESSING,
    STRIPE_TEST_TOKENS,
    TEST_CARDS,
    TIMEOUT,
    UNAVAILABLE,
    check_card,
)
from adapters.gateways.simulated_checkout import SimulatedCheckoutSessions, SimulatedSession
from application.ports.gateway import (
    CARD_DECLINED,
    CHECKOUT_CANCELLED,
    CHECKOUT_EXPIRED,
    EXPIRED_CARD,
    GATEWAY_UNAVAILABLE,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    LEGACY_ACCOUNT_TOKEN,
    PROCESSING_ERROR,
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    RefundRequest,
    RefundResult,
)

# Keys remembered for the TIMEOUT card; the oldest are forgotten past this many.
TIMEOUT_KEYS_MAX = 10_000
TOKEN_PATTERN = re.compile(r"pm_sim_([a-z]+)_([a-z]+)_(\d{4})")

# What a charge with each fixed behaviour returns: (failure code, message).
_FAILURES: dict[str, tuple[str, str]] = {
    DECLINED: (CARD_DECLINED, "The card was declined."),
    NO_FUNDS: (INSUFFICIENT_FUNDS, "The card has insufficient funds."),
    EXPIRED: (EXPIRED_CARD, "The card has expired."),
    PROCESSING: (PROCESSING_ERROR, "An error occurred while processing the card."),
    BAD_CVC: (INVALID_CARD, "The card's security code is incorrect."),
    UNAVAILABLE: (GATEWAY_UNAVAILABLE, "The payment processor is unavailable."),
}


# Hex digits written as letters: an id of hex digits can hold a run of 13-19 digits that
# passes the Luhn check (about one checkout session in 200), and a checkout's session id is
# kept where a card token is, which refuses anything that looks like a card number.
_LETTERS_FOR_HEX = str.maketrans("0123456789", "ghijklmnop")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24].translate(_LETTERS_FOR_HEX)


def _utc_today() -> date:
    return datetime.now(UTC).date()


class SimulatedPaymentGateway:
    """The legacy payment system, simulated (see the module docstring)."""

    name = "simulated"

    def __init__(
        self,
        failure_rate: float = 0.2,
        seed: int = 0,
        latency_s: float = 0.0,
        checkout_base_url: str = "http://127.0.0.1:8000/simulated-gateway",
        *,
        today: Callable[[], date] = _utc_today,
        checkout_sessions: SimulatedCheckoutSessions | None = None,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1.")
        if latency_s < 0:
            raise ValueError("latency_s must not be negative.")
        self.failure_rate = failure_rate
        self.seed = seed
        self.latency_s = latency_s
        self.checkout_base_url = checkout_base_url.rstrip("/")
        self._today = today
        # Without a shared store (unit tests), sessions live in a private in-memory one.
        self.checkout_sessions = checkout_sessions or SimulatedCheckoutSessions.in_memory()
        self._timeout_keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SimulatedPaymentGateway(failure_rate={self.failure_rate}, seed={self.seed}, "
            f"latency_s={self.latency_s})"
        )

    def tokenize(self, card: Card) -> CardToken:
        """Check the card (digits, Luhn, expiry) and return `pm_sim_<behaviour>_<brand>_<last4>`.
        Raises `CardRejectedError` (INVALID_CARD, EXPIRED_CARD)."""
        self._pause()
        checked = check_card(card, self._today())
        test_card = TEST_CARDS.get(checked.digits)
        behaviour = test_card.behaviour if test_card else DRAW
        token = f"pm_sim_{behaviour}_{checked.brand}_{checked.last4}"
        return CardToken(token, checked.brand, checked.last4)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge a token; never raises for a failure. See the module docstring."""
        self._pause()
        reference = f"sim_ch_{_digest('charge', request.idempotency_key)}"
        behaviour = self._behaviour(request.token)
        if behaviour is None:
            return ChargeResult("failed", reference, INVALID_CARD, "Unknown payment token.")
        if request.amount_minor <= 0:
            return ChargeResult("failed", reference, PROCESSING_ERROR, "Amount must be positive.")
        if behaviour in _FAILURES:
            code, message = _FAILURES[behaviour]
            return ChargeResult("failed", reference, code, message)
        if behaviour == TIMEOUT and self._first_sight(request.idempotency_key):
            return ChargeResult("unknown", message="Simulated timeout: outcome unknown.")
        if behaviour == DRAW and self._draw(request.idempotency_key) < self.failure_rate:
            return ChargeResult(
                "failed", reference, PROCESSING_ERROR, "Simulated processing error."
            )
        return ChargeResult("succeeded", reference)

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refunds always succeed, unless the amount is not positive."""
        self._pause()
        reference = f"sim_re_{_digest('refund', request.idempotency_key)}"
        if request.amount_minor <= 0:
            return RefundResult("failed", reference, PROCESSING_ERROR, "Amount must be positive.")
        return RefundResult("succeeded", reference)

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """An open session whose id derives from the key (the same key, the same session),
        recorded in the shared store, and the URL of the page the app serves for it."""
        self._pause()
        if amount_minor <= 0:
            raise ValueError("amount_minor must be positive.")
        session_id = f"cs_sim_{_digest('checkout', idempotency_key)}"
        wanted = SimulatedSession(
            session_id,
            idempotency_key,
            amount_minor,
            currency,
            success_url,
            cancel_url,
            sessions.OPEN,
        )
        self.checkout_sessions.open(wanted, datetime.now(UTC))
        return CheckoutSession(session_id, f"{self.checkout_base_url}/checkout/{session_id}")

    def checkout_status(self, session_id: str) -> ChargeResult:
        """Paid: `succeeded`; cancelled, expired or unknown here: `failed`; open: `unknown`."""
        self._pause()
        return self._outcome(self.checkout_sessions.find(session_id))

    def cancel_checkout(self, session_id: str) -> ChargeResult:
        """Cancel an open session; the outcome as it then stands."""
        self._pause()
        return self._outcome(self.checkout_sessions.settle(session_id, sessions.CANCELLED))

    def pay_checkout(self, session_id: str) -> SimulatedSession | None:
        """The hosted page's Pay button: an open session becomes paid (the simulated card
        always pays); returns the session as it then stands."""
        self._pause()
        return self.checkout_sessions.settle(session_id, sessions.PAID)

    def leave_checkout(self, session_id: str) -> SimulatedSession | None:
        """The hosted page's Cancel button: an open session becomes cancelled."""
        self._pause()
        return self.checkout_sessions.settle(session_id, sessions.CANCELLED)

    @staticmethod
    def _outcome(session: SimulatedSession | None) -> ChargeResult:
        if session is None:  # never made here: it can never be paid
            return ChargeResult("failed", "", CHECKOUT_EXPIRED, "No such checkout session.")
        if session.status == sessions.PAID:
            return ChargeResult("succeeded", f"sim_ch_{_digest('charge', session.attempt_key)}")
        if session.status == sessions.CANCELLED:
            return ChargeResult("failed", "", CHECKOUT_CANCELLED, "The payer cancelled.")
        if session.status == sessions.EXPIRED:
            return ChargeResult("failed", "", CHECKOUT_EXPIRED, "The session expired unpaid.")
        return ChargeResult("unknown", message="The payer has not paid yet.")

    def _pause(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)

    @staticmethod
    def _behaviour(token: str) -> str | None:
        """The behaviour a token stands for, or None for a token this gateway never issued.
        The legacy account (seed 001's payments) is settled by the draw."""
        if token == LEGACY_ACCOUNT_TOKEN:
            return DRAW
        if token in STRIPE_TEST_TOKENS:
            return STRIPE_TEST_TOKENS[token]
        match = TOKEN_PATTERN.fullmatch(token)
        if match is None or match.group(1) not in _KNOWN_BEHAVIOURS:
            return None
        return match.group(1)

    def _draw(self, idempotency_key: str) -> float:
        """A uniform number in [0, 1) fixed by (seed, key)."""
        digest = hashlib.sha256(f"draw\x1f{self.seed}\x1f{idempotency_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _first_sight(self, idempotency_key: str) -> bool:
        with self._lock:
            if idempotency_key in self._timeout_keys:
                return False
            self._timeout_keys[idempotency_key] = None
            while len(self._timeout_keys) > TIMEOUT_KEYS_MAX:
                self._timeout_keys.popitem(last=False)
            return True


_KNOWN_BEHAVIOURS = frozenset(_FAILURES) | {OK, DRAW, TIMEOUT}
