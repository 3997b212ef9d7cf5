"""Readiness: can this process serve? The log answers, every follower keeps up with it,
and none is stuck on an event it cannot apply.

The followers are whatever the composition root names: the read models, the payment
processor (and, when it comes, the NATS relay: add its position tracker to `followers`
and its runner's failure to `failures`). The check has a deadline: when the database does
not answer in time the process is reported not ready instead of keeping the caller waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError

from application import results
from application.ledger import Ledger
from application.ports.views import PositionTracker

READY_LAG_MAX = 10_000
CHECK_TIMEOUT_S = 1.5

Positions = tuple[int | None, list[results.ViewProgress], results.RelayStatus]


def no_failures() -> Sequence[results.FollowerFailure]:
    return ()


class ReadinessProbe:
    """Checks the event store, the position of every named follower against the log, and
    the failures the followers running in this process report."""

    def __init__(
        self,
        ledger: Ledger,
        followers: Mapping[str, PositionTracker],
        lag_max: int = READY_LAG_MAX,
        failures: Callable[[], Sequence[results.FollowerFailure]] = no_failures,
        timeout_s: float = CHECK_TIMEOUT_S,
        relay: Callable[[], results.RelayStatus] | None = None,
    ) -> None:
        self.ledger = ledger
        self.followers = dict(followers)
        self.lag_max = lag_max
        self.failures = failures
        self.timeout_s = timeout_s
        self.relay = relay  # the NATS relay's status, when one is configured
        # One reader thread: a check that outlives its deadline is joined by the next
        # callers, so a dead database never piles up blocked threads.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._inflight: Future[Positions] | None = None
        self._lock = threading.Lock()

    def check(self, lag_max: int | None = None) -> results.Readiness:
        """Ready when the log can be read within the deadline, no follower is more than
        `lag_max` events behind, and none is stuck on an event."""
        lag_max = self.lag_max if lag_max is None else lag_max
        failures = list(self.failures())
        try:
            log_position, progress, relay = self._positions().result(timeout=self.timeout_s)
        except FutureTimeoutError:
            database = f"unreachable: no answer within {self.timeout_s:g} s"
            return results.Readiness(
                False, database, None, None, 0, failures=failures, relay=self._relay_unknown()
            )
        except Exception as error:  # any failure to reach the store means not ready
            database = f"unreachable: {type(error).__name__}"
            return results.Readiness(
                False, database, None, None, 0, failures=failures, relay=self._relay_unknown()
            )
        behind = max(progress, key=lambda p: p.lag, default=None)
        return results.Readiness(
            ready=(behind is None or behind.lag <= lag_max) and not failures,
            database="ok",
            log_position=log_position,
            view_position=behind.position if behind else None,
            view_lag=behind.lag if behind else 0,
            views=progress,
            failures=failures,
            relay=relay,
        )

    def _positions(self) -> Future[Positions]:
        with self._lock:
            if self._inflight is None or self._inflight.done():
                self._inflight = self._reader.submit(self._read_positions)
            return self._inflight

    def _read_positions(self) -> Positions:
        log_position = self.ledger.log_position()
        progress = []
        for name, follower in self.followers.items():
            position = follower.max_tracking_id(self.ledger.name)
            lag = max(0, (log_position or 0) - (position or 0))
            progress.append(results.ViewProgress(name, position, lag))
        relay = self.relay() if self.relay is not None else results.RELAY_OFF
        return log_position, progress, relay

    def _relay_unknown(self) -> results.RelayStatus:
        """The relay's status when the database (its position) cannot be read."""
        if self.relay is None:
            return results.RELAY_OFF
        return results.RelayStatus("unknown", "its position cannot be read")

    def close(self) -> None:
        """Stop the reader thread (after the check in flight, if any)."""
        self._reader.shutdown(wait=False, cancel_futures=True)
