"""The Clock port: aggregates never read the clock; use cases ask this port."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time (tests move it by hand)."""

    def now(self) -> datetime:
        """The current instant, time-zone aware (UTC)."""
        ...
