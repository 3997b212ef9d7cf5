"""Readiness: can this process serve? The log answers, and every view keeps up with it."""

from __future__ import annotations

from collections.abc import Mapping

from application import results
from application.ledger import Ledger
from application.ports.views import TrackedView

READY_LAG_MAX = 10_000


class ReadinessProbe:
    """Checks the event store and the position of every named view against the log."""

    def __init__(
        self, ledger: Ledger, views: Mapping[str, TrackedView], lag_max: int = READY_LAG_MAX
    ) -> None:
        self.ledger = ledger
        self.views = dict(views)
        self.lag_max = lag_max

    def check(self, lag_max: int | None = None) -> results.Readiness:
        """Ready when the log can be read and no view is more than `lag_max` events behind."""
        lag_max = self.lag_max if lag_max is None else lag_max
        try:
            log_position = self.ledger.log_position()
        except Exception as error:  # any failure to reach the store means not ready
            return results.Readiness(False, f"unreachable: {type(error).__name__}", None, None, 0)
        progress = []
        for name, view in self.views.items():
            position = view.position()
            lag = max(0, (log_position or 0) - (position or 0))
            progress.append(results.ViewProgress(name, position, lag))
        behind = max(progress, key=lambda p: p.lag, default=None)
        return results.Readiness(
            ready=behind is None or behind.lag <= lag_max,
            database="ok",
            log_position=log_position,
            view_position=behind.position if behind else None,
            view_lag=behind.lag if behind else 0,
            views=progress,
        )
