"""The `EventPublisher` port: where the relay sends integration events (NATS JetStream), and
the `RelayCheckpoint` port: how far the relay got, under a lease only one replica holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundMessage:
    """One integration event ready to send: `msg_id` is deterministic (the dedup key) and
    `position` is its place in the log (also in the body)."""

    subject: str
    msg_id: str
    position: int
    body: bytes


@dataclass(frozen=True)
class PublishOutcome:
    """How a batch went: the first `acked` messages were acknowledged by the server (stored,
    or recognised as duplicates: `duplicates` of them); the rest have an unknown outcome
    (`problem` says why) and must be sent again with the same ids."""

    acked: int
    duplicates: int = 0
    problem: str | None = None


class PendingPublish(Protocol):
    """A batch on its way: its outcome once the acks are in (or their time is up)."""

    def outcome(self) -> PublishOutcome:
        """Wait for the batch's acks (bounded by the publisher's timeout)."""
        ...


class EventPublisher(Protocol):
    """Publishes messages to a stream, in order, and says which ones were acknowledged.
    Batches sent one after the other reach the stream in that order, even while the acks
    of the earlier ones are still awaited (the relay keeps a few batches in flight)."""

    @property
    def destination(self) -> str:
        """What the messages go to (e.g. the stream's name), for logs and readiness."""
        ...

    def ensure_stream(self) -> None:
        """Connect and create the stream, or update it to the configured settings; raises
        when the server cannot be reached."""
        ...

    def send(self, messages: Sequence[OutboundMessage]) -> PendingPublish:
        """Start sending `messages` (all in flight at once) and return at once; the
        outcome never raises for an unreachable server."""
        ...

    def close(self) -> None:
        """Drop the connection."""
        ...


class RelayCheckpoint(Protocol):
    """The relay's durable position in the log, fenced by a lease: only the replica holding
    the lease may move it, so only one replica publishes at a time."""

    def acquire(self, holder: str, lease_s: float) -> int | None:
        """Take or renew the lease for `lease_s`; the recorded position (0 for none) if
        `holder` holds it now, else None (another replica's lease has not expired)."""
        ...

    def advance(self, holder: str, position: int, lease_s: float) -> bool:
        """Record `position` (and renew the lease) if `holder` still holds the lease;
        False when it does not (another replica took over: stop publishing)."""
        ...

    def release(self, holder: str) -> None:
        """Let the lease go at once (a clean stop), so another replica takes over."""
        ...

    def position(self) -> int | None:
        """The recorded position (None before the first)."""
        ...

    def max_tracking_id(self, application_name: str) -> int | None:
        """The recorded position (`PositionTracker`, for readiness and metrics)."""
        ...
