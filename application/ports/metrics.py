"""The `Metrics` port: what the application counts and times, for whoever watches it.

Only what happens inside a use case is reported through here (a gateway call, a payment
reaching its outcome); positions, lags and totals are read when metrics are scraped.
`NullMetrics` is the port doing nothing, for tests and tools that watch nothing.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Counters and timings of the application."""

    def gateway_called(self, operation: str, outcome: str, duration_s: float) -> None:
        """A call to the payment gateway (`charge`, `refund`...) and how it ended
        (`succeeded`, `failed`, `unknown`, `error`)."""
        ...

    def payment_settled(self, status: str, lag_s: float) -> None:
        """A payment reached an outcome (`SUCCESS`, `FAILED`) `lag_s` after it was
        requested; reported once, by the call that recorded the outcome."""
        ...


class NullMetrics:
    """Counts nothing."""

    def gateway_called(self, operation: str, outcome: str, duration_s: float) -> None:
        """Ignored."""

    def payment_settled(self, status: str, lag_s: float) -> None:
        """Ignored."""


NO_METRICS = NullMetrics()  # stateless: one instance serves every default
