"""Rate limits of this process: fixed one-minute windows per key (a principal, an account,
a client address). Bounded memory: old windows are forgotten as new ones open.

Per process, as documented: several server processes each allow the limit.
"""

from __future__ import annotations

import threading
import time

KEYS_MAX = 100_000  # distinct keys remembered per window, at most
WINDOW_S = 60


class RateLimiter:
    """At most `per_minute` hits per key in each minute (0: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._window = 0
        self._hits: dict[str, int] = {}

    def hit(self, key: str, now_s: float | None = None) -> int:
        """Count a hit; the seconds to wait before trying again (0: allowed)."""
        if self.per_minute <= 0:
            return 0
        now = time.time() if now_s is None else now_s
        window = int(now // WINDOW_S)
        with self._lock:
            if window != self._window:
                self._window, self._hits = window, {}
            count = self._hits.get(key, 0)
            if count >= self.per_minute:
                return max(1, int((window + 1) * WINDOW_S - now))
            if len(self._hits) < KEYS_MAX or key in self._hits:
                self._hits[key] = count + 1
            return 0
