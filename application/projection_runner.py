"""Runs a projection over the log: applies new notifications in order, waits for more.

Reading: the runners of one application share its `LogTail`: new notifications are read
and decoded once for all of them.

Waiting: a runner sleeps until its `NewEvents` source says events may have been recorded
(or at most `poll_interval_s`), so an idle runner costs next to nothing.

Failing loudly: an event the projection cannot apply stops the runner at that event. It
logs it once at ERROR (the follower's name, the event's position and type), counts it in
`failures_total`, exposes it as `failure` (readiness and metrics read it), and tries again
every `ERROR_SLEEP_S`; once the cause is fixed it carries on and logs that it resumed. A
failed batch is narrowed down first (one event at a time up to the batch's end), so the
failure names the very event; `run_once` and `catch_up` raise what the projection raised.
An unreachable store is not the event's fault: it is logged once per outage at WARNING and
waited out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    Tracking,
)
from eventsourcing.projection import Projection

from application.log_tail import decode, tail_of
from application.ports.new_events import NewEvents
from application.results import FollowerFailure

log = logging.getLogger(__name__)

BATCH_SIZE = 500
POLL_INTERVAL_S = 1.0  # without a NewEvents source: how often an idle runner looks
ERROR_SLEEP_S = 1.0
# The store could not be reached (the runner waits it out; readiness reports it).
STORE_ERRORS = (OperationalError, InterfaceError)


class EventNotAppliedError(Exception):
    """The projection raised `error` on a batch of events; `failure` says where. `exact`
    when the batch was that one event (else the runner narrows it down on its next try)."""

    def __init__(self, failure: FollowerFailure, error: Exception, exact: bool) -> None:
        super().__init__(
            f"{failure.name} cannot apply the event at position {failure.position} "
            f"({failure.event_type}): {failure.error}"
        )
        self.failure = failure
        self.error = error
        self.exact = exact


def event_type_of(notification: Notification) -> str:
    """`Payment.Created` from the stored topic `domain.payment:Payment.Created`."""
    return notification.topic.rpartition(":")[2] or notification.topic


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
        new_events: NewEvents | None = None,
    ) -> None:
        self.app = app
        self.projection = projection
        self.view = projection.view
        self.batch_size = batch_size
        self.on_idle = on_idle  # called when caught up (e.g. to reconcile unsettled work)
        self.new_events = new_events
        self.poll_interval_s = new_events.poll_interval_s if new_events else POLL_INTERVAL_S
        self.failure: FollowerFailure | None = None  # the event it is stuck on, if any
        self.failures_total = 0  # distinct failures to apply an event, in this process
        self._narrow_until: int | None = None  # after a failed batch: one event at a time
        # The log's newest stretch, read and decoded once for every follower of `app` here.
        self._tail = tail_of(app)
        self._problem: str | None = None  # the last problem logged (each is logged once)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        """The projection's name (`ledger_view`, `payments_view`, `payment_processor`)."""
        return str(self.projection.name)

    @property
    def stopped_unexpectedly(self) -> bool:
        """Started, not asked to stop, and yet its thread is gone."""
        thread = self._thread
        return thread is not None and not thread.is_alive() and not self._stop.is_set()

    def run_once(self) -> int:
        """Apply the next batch of notifications; returns how many were applied. An event
        the projection cannot apply raises what the projection raised."""
        try:
            return self._step()
        except EventNotAppliedError as stuck:
            error = stuck.error
        raise error

    def _step(self) -> int:
        """`run_once`, with a failure to apply an event raised as `EventNotAppliedError`."""
        position = self.view.max_tracking_id(self.app.name) or 0
        narrowing = self._narrow_until is not None and position < self._narrow_until
        notifications, events = self._tail.read(position + 1, 1 if narrowing else self.batch_size)
        if not notifications:
            return 0
        try:
            self._apply(notifications, events)
        except IntegrityError:
            return 0  # another runner got there first: start again from its position
        except STORE_ERRORS:
            raise
        except Exception as error:
            exact = len(notifications) == 1
            if not exact:  # which one? next time, one at a time up to the batch's end
                self._narrow_until = notifications[-1].id
            failure = self._failure(notifications[0], error)
            raise EventNotAppliedError(failure, error, exact) from error
        return len(notifications)

    def _apply(
        self, notifications: Sequence[Notification], events: Sequence[Any] | None = None
    ) -> None:
        # One transaction for the whole batch (views that can): far fewer commits.
        batch = getattr(self.view, "batch", None)
        with batch() if batch is not None else contextlib.nullcontext():
            name = self.app.name
            if events is None:  # the tail could not decode them: fail here, on the event
                events = decode(self.app, notifications)
            items = [
                (event, Tracking(name, notification.id))
                for event, notification in zip(events, notifications, strict=True)
            ]
            process_batch = getattr(self.projection, "process_batch", None)
            if process_batch is not None:  # a projection that works on many at once
                process_batch(items)
            else:
                # Looked up once: a `singledispatchmethod` builds a new wrapper on every
                # lookup, which costs more than the dispatch itself.
                process_event = self.projection.process_event
                for event, tracking in items:
                    process_event(event, tracking)

    def _failure(self, notification: Notification, error: Exception) -> FollowerFailure:
        return FollowerFailure(
            self.name,
            notification.id,
            event_type_of(notification),
            f"{type(error).__name__}: {error}",
        )

    def catch_up(self, on_progress: Callable[[int], None] | None = None) -> int:
        """Apply everything up to the end of the log; returns how many events were applied."""
        total = 0
        while (applied := self.run_once()) > 0:
            total += applied
            if on_progress is not None:
                on_progress(applied)
        return total

    def wake(self) -> None:
        """Tell the loop new events may be there (it stops waiting at once)."""
        self._wake.set()

    def run_forever(self) -> None:
        """Apply events as they come until `stop()`; never gives up (see the module)."""
        while not self._stop.is_set():
            # Cleared before looking: a signal that comes while we look is kept for later.
            self._wake.clear()
            try:
                applied = self._step()
            except EventNotAppliedError as stuck:
                if stuck.exact:  # else narrow the batch down at once
                    self._stuck(stuck)
                    self._stop.wait(ERROR_SLEEP_S)
                continue
            except Exception as error:  # the store is unreachable (or worse): wait it out
                self._trouble(error)
                self._stop.wait(ERROR_SLEEP_S)
                continue
            self._healthy()
            if applied == 0:
                self._idle()
                self._wake.wait(self.poll_interval_s)

    def _idle(self) -> None:
        if self.on_idle is None:
            return
        try:
            self.on_idle()
        except Exception:  # logged; the loop must go on
            log.exception("idle work of %s failed", self.name)

    def _stuck(self, stuck: EventNotAppliedError) -> None:
        failure = stuck.failure
        if failure != self.failure:  # a new failure: once at ERROR, counted
            self.failures_total += 1
            log.error(
                "%s cannot apply the event at position %s (%s): %s; retrying every %.0f s",
                failure.name,
                failure.position,
                failure.event_type,
                failure.error,
                ERROR_SLEEP_S,
                exc_info=stuck.error,
                extra={
                    "follower": failure.name,
                    "position": failure.position,
                    "event_type": failure.event_type,
                },
            )
        self.failure = failure
        self._problem = None

    def _trouble(self, error: Exception) -> None:
        problem = f"{type(error).__name__}: {error}"
        if problem == self._problem:
            return
        self._problem = problem
        if isinstance(error, STORE_ERRORS):
            log.warning("%s cannot reach the store (%s); retrying", self.name, problem)
        else:
            log.error("%s failed (%s); retrying", self.name, problem, exc_info=error)

    def _healthy(self) -> None:
        """A look at the log went through: whatever was wrong is over."""
        if self.failure is not None:
            log.info("%s resumed after failing at position %s", self.name, self.failure.position)
            self.failure = None
        elif self._problem is not None:
            log.info("%s reaches the store again", self.name)
        self._problem = None

    def start(self) -> None:
        """Run `run_forever` in a daemon thread, woken by the `NewEvents` source."""
        if self.new_events is not None:
            self.new_events.subscribe(self.wake)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, daemon=True, name=f"projection-{self.name}"
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the loop to stop and wait (bounded) for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
