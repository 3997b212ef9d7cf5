"""A `PaymentGateway` decorator that times every call and reports how it ended.

It wraps whichever gateway the composition root chose (simulated, Stripe) and reports each
call to the `Metrics` port: its operation, its outcome (`succeeded`, `failed`, `unknown`
from the result; `error` when the call raised) and its duration. It changes nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from application.ports.gateway import (
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    PaymentGateway,
    RefundRequest,
    RefundResult,
)
from application.ports.metrics import Metrics

T = TypeVar("T")


class InstrumentedPaymentGateway:
    """The wrapped gateway, timed (see the module's docstring)."""

    def __init__(self, inner: PaymentGateway, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name

    def tokenize(self, card: Card) -> CardToken:
        """As the wrapped gateway; `ok` or `error`."""
        return self._timed("tokenize", lambda: self.inner.tokenize(card), lambda _: "ok")

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """As the wrapped gateway."""
        return self._timed("charge", lambda: self.inner.charge(request), lambda r: r.outcome)

    def refund(self, request: RefundRequest) -> RefundResult:
        """As the wrapped gateway."""
        return self._timed("refund", lambda: self.inner.refund(request), lambda r: r.outcome)

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """As the wrapped gateway; `ok` or `error`."""
        return self._timed(
            "checkout",
            lambda: self.inner.create_checkout_session(
                amount_minor, currency, success_url, cancel_url, idempotency_key
            ),
            lambda _: "ok",
        )

    def checkout_status(self, session_id: str) -> ChargeResult:
        """As the wrapped gateway."""
        return self._timed(
            "checkout_status", lambda: self.inner.checkout_status(session_id), lambda r: r.outcome
        )

    def cancel_checkout(self, session_id: str) -> ChargeResult:
        """As the wrapped gateway."""
        return self._timed(
            "cancel_checkout", lambda: self.inner.cancel_checkout(session_id), lambda r: r.outcome
        )

    def _timed(self, operation: str, call: Callable[[], T], outcome: Callable[[T], str]) -> T:
        started = time.perf_counter()
        try:
            result = call()
        except Exception:
            self.metrics.gateway_called(operation, "error", time.perf_counter() - started)
            raise
        self.metrics.gateway_called(operation, outcome(result), time.perf_counter() - started)
        return result
