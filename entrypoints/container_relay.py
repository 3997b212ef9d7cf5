"""The composition of the NATS relay (part of the composition root).

With `PAYLEDGER_NATS_URL` empty (the embedded default) there is no relay: no runner, and
readiness says `off`. Otherwise the relay is one more follower of the log in the workers
(`serve` runs it in-process, `payledger worker` moves it out), its checkpoint a table next
to the read models, its publisher a NATS connection of its own.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NewType

from dishka import Provider, Scope, provide

from adapters.nats.jetstream import NatsEventPublisher, StreamSettings
from adapters.views.relay_checkpoint import SqlRelayCheckpoint
from application.ledger import Ledger
from application.ports.clock import Clock
from application.ports.new_events import NewEvents
from application.projection_runner import ProjectionRunner
from application.relay import RelayRunner, relay_status
from application.results import RelayStatus
from entrypoints.settings import NatsSettings, Settings
from entrypoints.views_database import views_database

CHECKPOINT_TABLE = "nats_relay_checkpoint"

# The relay's checkpoint as the container knows it (None when the relay is off).
CheckpointKey = SqlRelayCheckpoint | None

# The relay's runner (none when NATS is not configured), for the workers.
RelayRunners = NewType("RelayRunners", tuple[ProjectionRunner, ...])


@dataclass(frozen=True)
class RelayStatusSource:
    """What readiness calls for the relay's status (None: the relay is off)."""

    read: Callable[[], RelayStatus] | None


def open_publisher(nats: NatsSettings) -> NatsEventPublisher:
    """A publisher to the configured stream (subjects `<prefix>.>`)."""
    stream = StreamSettings(
        name=nats.stream,
        subjects=(f"{nats.subject_prefix}.>",),
        duplicate_window_s=nats.duplicate_window_s,
        max_age_s=nats.max_age_s,
    )
    return NatsEventPublisher(
        nats.url,
        stream,
        timeout_s=nats.publish_timeout_s,
        connect_timeout_s=nats.connect_timeout_s,
    )


class RelayProvider(Provider):
    """The relay's checkpoint, publisher and runner, when NATS is configured."""

    scope = Scope.APP

    def __init__(self, create_tables: bool) -> None:
        super().__init__()
        self._create_tables = create_tables

    @provide
    def checkpoint(self, settings: Settings) -> Iterator[SqlRelayCheckpoint | None]:
        if not settings.nats.enabled:
            yield None
            return
        checkpoint = SqlRelayCheckpoint(
            views_database(settings), settings.nats.stream, CHECKPOINT_TABLE
        )
        if self._create_tables or settings.database.backend == "memory":
            checkpoint.create_table()
        yield checkpoint
        checkpoint.close()

    @provide
    def publisher(self, settings: Settings) -> Iterator[NatsEventPublisher | None]:
        if not settings.nats.enabled:
            yield None
            return
        publisher = open_publisher(settings.nats)
        yield publisher
        publisher.close()

    @provide
    def runners(
        self,
        settings: Settings,
        ledger: Ledger,
        checkpoint: SqlRelayCheckpoint | None,
        publisher: NatsEventPublisher | None,
        new_events: NewEvents,
    ) -> RelayRunners:
        if checkpoint is None or publisher is None:
            return RelayRunners(())
        nats = settings.nats
        runner = RelayRunner(
            ledger,
            checkpoint,
            publisher,
            batch_size=nats.batch_size,
            lease_s=nats.lease_s,
            subject_prefix=nats.subject_prefix,
            new_events=new_events,
            holder=f"{socket.gethostname()}-{os.getpid()}-{id(checkpoint):x}",
        )
        return RelayRunners((runner,))

    @provide
    def status(
        self,
        settings: Settings,
        ledger: Ledger,
        checkpoint: SqlRelayCheckpoint | None,
        clock: Clock,
        runners: RelayRunners,
    ) -> RelayStatusSource:
        if checkpoint is None:
            return RelayStatusSource(None)
        runner = next((r for r in runners if isinstance(r, RelayRunner)), None)
        destination = f"JetStream stream {settings.nats.stream} at {settings.nats.url}"

        def status() -> RelayStatus:
            return relay_status(ledger, checkpoint, destination, clock, runner)

        return RelayStatusSource(status)
