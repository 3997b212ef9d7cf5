"""Rate limits of this process: a token bucket per key (a principal, an account, a client
address). A bucket holds `per_minute` tokens and refills evenly over a minute, so a burst of
`per_minute` is allowed and the steady rate is `per_minute` a minute, with no window edge where
twice the limit gets through. Bounded memory: full buckets are forgotten.

Per process, as documented: several server processes each allow the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

KEYS_MAX = 100_000  # distinct keys remembered at once, at most
MINUTE_S = 60.0


class RateLimiter:
    """At most `per_minute` hits per key in a burst, refilled at `per_minute` a minute
    (0: no limit)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)

    def wait_s(self, key: str) -> int:
        """The seconds to wait before a hit on `key` is allowed (0: allowed now); counts nothing."""
        with self._lock:
            return self._wait(self._tokens(key, self._clock()))

    def hit(self, key: str) -> int:
        """Count a hit if allowed; the seconds to wait before trying again (0: it was allowed)."""
        if self.per_minute <= 0:
            return 0
        now = self._clock()
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens < 1:
                return self._wait(tokens)
            if key in self._buckets or self._room(now):
                self._buckets[key] = (tokens - 1, now)
            return 0

    def _tokens(self, key: str, now: float) -> float:
        if self.per_minute <= 0:
            return math.inf
        tokens, as_of = self._buckets.get(key, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - as_of) * self.per_minute / MINUTE_S)

    def _wait(self, tokens: float) -> int:
        if tokens >= 1:
            return 0
        return max(1, math.ceil((1 - tokens) * MINUTE_S / self.per_minute))

    def _room(self, now: float) -> bool:
        """Whether a new key fits, forgetting buckets that have refilled if it does not."""
        if len(self._buckets) < KEYS_MAX:
            return True
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.per_minute]:
            del self._buckets[key]
        return len(self._buckets) < KEYS_MAX
