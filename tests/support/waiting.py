"""Waiting, bounded, for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT_S = 5.0
POLL_S = 0.005


def eventually(condition: Callable[[], object], timeout_s: float = WAIT_S) -> float:
    """Poll `condition` until it holds; returns the seconds it took (fails after `timeout_s`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "condition never held"
        time.sleep(POLL_S)
    return time.monotonic() - started
