"""Runs a projection over the log: polls for new notifications and applies them in order."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import Projection

log = logging.getLogger(__name__)

BATCH_SIZE = 500
IDLE_SLEEP_S = 0.01
ERROR_SLEEP_S = 1.0


class ProjectionRunner:
    """Feeds a projection from an application's notification log, from the view's tracked
    position onwards. Several runners on one view are safe: a duplicate tracking record makes
    the loser re-read the position and carry on. Positions may have gaps; order is kept."""

    def __init__(
        self,
        app: Application[Any],
        projection: Projection[Any],
        batch_size: int = BATCH_SIZE,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self.projection = projection
        self.view = projection.view
        self.batch_size = batch_size
        self.on_idle = on_idle  # called when caught up (e.g. to reconcile unsettled work)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Apply the next batch of notifications; returns how many were applied."""
        position = self.view.max_tracking_id(self.app.name) or 0
        notifications = self.app.recorder.select_notifications(
            start=position + 1, limit=self.batch_size
        )
        if not notifications:
            return 0
        try:
            # One transaction for the whole batch (views that can): far fewer commits.
            batch = getattr(self.view, "batch", None)
            with batch() if batch is not None else contextlib.nullcontext():
                items = [
                    (self.app.mapper.to_domain_event(n), Tracking(self.app.name, n.id))
                    for n in notifications
                ]
                process_batch = getattr(self.projection, "process_batch", None)
                if process_batch is not None:  # a projection that works on many at once
                    process_batch(items)
                else:
                    for event, tracking in items:
                        self.projection.process_event(event, tracking)
        except IntegrityError:
            return 0  # another runner got there first: start again from its position
        return len(notifications)

    def catch_up(self, on_progress: Callable[[int], None] | None = None) -> int:
        """Apply everything up to the end of the log; returns how many events were applied."""
        total = 0
        while (applied := self.run_once()) > 0:
            total += applied
            if on_progress is not None:
                on_progress(applied)
        return total

    def wake(self) -> None:
        """Tell the loop new events may be there (saves waiting out the idle sleep)."""
        self._wake.set()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                applied = self.run_once()
            except Exception:  # keep the view alive through database hiccups; log them
                log.exception("projection %s failed; retrying", self.projection.name)
                self._stop.wait(ERROR_SLEEP_S)
                continue
            if applied == 0:
                if self.on_idle is not None:
                    try:
                        self.on_idle()
                    except Exception:  # logged; the loop must go on
                        log.exception("idle work of %s failed", self.projection.name)
                self._wake.wait(IDLE_SLEEP_S)
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, daemon=True, name=f"projection-{self.projection.name}"
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
