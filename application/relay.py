"""The relay: follows the log in order and publishes integration events (to NATS JetStream).

It is a `ProjectionRunner` (same loop, same wake-up by `NewEvents`, same failure handling)
whose step is: take or renew the lease (`RelayCheckpoint`; only one replica publishes at a
time), read the next batch of the log after the recorded position, map each domain event
to its contract (`integration_events`; the rest are passed over), publish the batch with
every message in flight at once, and record the position of the last event of the
acknowledged prefix. A position is recorded only after the server's ack, so a crash between
publish and checkpoint re-sends the same messages with the same `Nats-Msg-Id`s: the
stream's duplicate window drops them, and consumers can deduplicate on `id`/`position`
beyond it. A broker that is down (or an ack that does not come in time) is waited out:
logged once, retried every second with the same ids; the API never waits for it.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification, Tracking
from eventsourcing.projection import Projection

from application.integration_events import SUBJECT_PREFIX, encode, subject_of
from application.integration_mapping import to_integration_event
from application.ledger import Ledger
from application.ports.clock import Clock
from application.ports.event_publisher import (
    EventPublisher,
    OutboundMessage,
    PendingPublish,
    RelayCheckpoint,
)
from application.ports.new_events import NewEvents
from application.projection_runner import EventNotAppliedError, ProjectionRunner
from application.results import RelayStatus

log = logging.getLogger(__name__)

RELAY_NAME = "nats_relay"
BATCH_SIZE = 500
IN_FLIGHT = 2  # batches sent and awaiting their acks at once
BATCHES_PER_STEP = 20  # then the loop looks at its stop flag (and renews the lease)
LEASE_S = 10.0


class PublishIncompleteError(Exception):
    """Part of a batch has no ack (the broker is down or slow): sent again later."""


class LeaseLostError(Exception):
    """Another replica took the lease while this one was publishing."""


@dataclass(frozen=True)
class _Batch:
    """A batch sent and not yet settled: the events after `after` up to `upto`."""

    sent: PendingPublish
    messages: list[OutboundMessage]
    after: int
    upto: int
    events: int


class _RelayProjection(Projection[Any]):
    """Names the relay and holds its checkpoint for `ProjectionRunner` (events are
    published by `RelayRunner._step`, never through `process_event`)."""

    name = RELAY_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise NotImplementedError("the relay publishes batches in RelayRunner")


class RelayRunner(ProjectionRunner):
    """Publishes the log's integration events (see the module)."""

    def __init__(
        self,
        app: Ledger,
        checkpoint: RelayCheckpoint,
        publisher: EventPublisher,
        *,
        batch_size: int = BATCH_SIZE,
        lease_s: float = LEASE_S,
        subject_prefix: str = SUBJECT_PREFIX,
        new_events: NewEvents | None = None,
        holder: str | None = None,
        in_flight: int = IN_FLIGHT,
        batches_per_step: int = BATCHES_PER_STEP,
    ) -> None:
        super().__init__(
            app, _RelayProjection(view=checkpoint), batch_size=batch_size, new_events=new_events
        )
        self.checkpoint = checkpoint
        self.publisher = publisher
        self.lease_s = lease_s
        self.in_flight = max(1, in_flight)
        self.batches_per_step = max(1, batches_per_step)
        self.subject_prefix = subject_prefix
        self.holder = holder or f"relay-{uuid.uuid4()}"
        self.leading = False  # holds the lease (publishes) at its last look
        self.published_total = 0  # messages acknowledged, duplicates included
        self.duplicates_total = 0  # of which the stream already had (a re-send)
        self.stream_ready = False  # created or updated by this relay

    def _step(self) -> int:
        """Up to `batches_per_step` batches, `in_flight` of them awaiting their acks while
        the next one is read, mapped and sent; each batch's position is recorded once its
        acks are in, in log order. Returns how many events were done."""
        position = self.checkpoint.acquire(self.holder, self.lease_s)
        self._lead(position is not None)
        if position is None:
            # Another replica publishes: a standby looks again after a while, not at every
            # new event (the wake-ups would have it try the lease at the rate of commits).
            self._stop.wait(self.poll_interval_s)
            return 0
        if not self.stream_ready:  # at start: consumers find the stream before any event
            try:
                self.publisher.ensure_stream()
            except Exception as error:
                raise PublishIncompleteError(
                    f"{self.publisher.destination}: cannot reach NATS: {error!r}"
                ) from error
            self.stream_ready = True
        window: deque[_Batch] = deque()
        done = 0
        read_upto = position
        try:
            for _ in range(self.batches_per_step):
                notifications = self.app.recorder.select_notifications(
                    start=read_upto + 1, limit=self.batch_size
                )
                if not notifications:
                    break
                try:
                    messages, read_upto = self._messages(notifications)
                except EventNotAppliedError:
                    while window:  # what went before it is recorded first
                        done += self._settle(window.popleft())
                    raise
                sent = self.publisher.send(messages)
                window.append(_Batch(sent, messages, position, read_upto, len(notifications)))
                position = read_upto
                if len(window) >= self.in_flight:
                    done += self._settle(window.popleft())
            while window:
                done += self._settle(window.popleft())
        finally:
            for batch in window:  # after a failure: let their outcomes come, re-send later
                batch.sent.outcome()
        return done

    def _settle(self, batch: _Batch) -> int:
        """Wait for a batch's acks and record how far they reach (see `_step`)."""
        outcome = batch.sent.outcome()
        self.published_total += outcome.acked
        self.duplicates_total += outcome.duplicates
        upto = batch.upto
        if outcome.acked < len(batch.messages):
            # Everything before the first unacknowledged message is done.
            upto = batch.messages[outcome.acked].position - 1
        if upto > batch.after and not self.checkpoint.advance(self.holder, upto, self.lease_s):
            self._lead(False)
            raise LeaseLostError(f"{self.holder} lost the lease at position {upto}")
        if outcome.acked < len(batch.messages):
            raise PublishIncompleteError(
                f"{self.publisher.destination}: {outcome.problem or 'no acknowledgement'}"
            )
        return batch.events

    def _messages(self, notifications: Sequence[Notification]) -> tuple[list[OutboundMessage], int]:
        """The messages of a batch, and the last position they cover. An event that cannot
        be mapped ends the batch before it, or (first in the batch) stops the relay there."""
        messages: list[OutboundMessage] = []
        upto = notifications[0].id - 1
        for notification in notifications:
            try:
                event = self.app.mapper.to_domain_event(notification)
                contract = to_integration_event(event, notification.id)
            except Exception as error:
                if upto < notifications[0].id:
                    failure = self._failure(notification, error)
                    raise EventNotAppliedError(failure, error, exact=True) from error
                break
            upto = notification.id
            if contract is not None:
                body = encode(contract)
                subject = subject_of(contract, self.subject_prefix)
                messages.append(OutboundMessage(subject, contract.id, notification.id, body))
        return messages, upto

    def _lead(self, leading: bool) -> None:
        if leading != self.leading:
            log.info(
                "%s %s publishing to %s",
                self.holder,
                "starts" if leading else "stops",
                self.publisher.destination,
            )
        self.leading = leading

    def _trouble(self, error: Exception) -> None:
        if not isinstance(error, (PublishIncompleteError, LeaseLostError)):
            super()._trouble(error)
            return
        problem = f"{type(error).__name__}: {error}"
        if problem != self._problem:
            self._problem = problem
            log.warning("%s: %s; retrying with the same ids", self.name, error)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop, then let the lease go so another replica takes over at once."""
        super().stop(timeout_s)
        if self.leading:
            try:
                self.checkpoint.release(self.holder)
            except Exception as error:  # the lease then simply expires
                log.warning("%s could not release its lease: %s", self.name, error)
            self.leading = False


def relay_status(
    ledger: Ledger,
    checkpoint: RelayCheckpoint,
    destination: str,
    clock: Clock,
    runner: RelayRunner | None = None,
) -> RelayStatus:
    """How far behind the log the relay is: in events, and in seconds since the oldest
    event it has not published was recorded (0 when caught up)."""
    log_position = ledger.log_position() or 0
    position = checkpoint.position()
    lag = max(0, log_position - (position or 0))
    lag_s = 0.0
    if lag:
        following = ledger.recorder.select_notifications(start=(position or 0) + 1, limit=1)
        if following:
            event: Any = ledger.mapper.to_domain_event(following[0])
            recorded_at: datetime = event.timestamp
            lag_s = max(0.0, (clock.now() - recorded_at).total_seconds())
    published, duplicates = (
        (runner.published_total, runner.duplicates_total) if runner is not None else (0, 0)
    )
    return RelayStatus("on", destination, position, lag, round(lag_s, 3), published, duplicates)
