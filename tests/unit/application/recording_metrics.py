"""A `Metrics` fake that records what it was told."""

from __future__ import annotations


class RecordingMetrics:
    """The Metrics port, recording every call."""

    def __init__(self) -> None:
        self.gateway_calls: list[tuple[str, str]] = []
        self.settled: list[tuple[str, float]] = []

    def gateway_called(self, operation: str, outcome: str, duration_s: float) -> None:
        assert duration_s >= 0
        self.gateway_calls.append((operation, outcome))

    def payment_settled(self, status: str, lag_s: float) -> None:
        self.settled.append((status, lag_s))
