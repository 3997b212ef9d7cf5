"""Hand-written fakes for application tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A Clock the test sets by hand; it counts how often it was asked the time."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
