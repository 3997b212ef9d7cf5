"""The system clock: the `Clock` port on the machine's time, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The real clock (tests use a hand-set fake)."""

    def now(self) -> datetime:
        return datetime.now(UTC)
