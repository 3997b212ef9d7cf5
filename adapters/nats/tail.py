"""A small JetStream consumer of PayLedger's integration events (`payledger events tail`):
what a downstream team would run to see what they get.

An ordered push consumer (ephemeral: nothing is left on the server) from the start of the
stream or from new messages only, on every subject or a filter. Each message comes back as
a `TailedEvent`: the stream sequence, the subject, the `Nats-Msg-Id`, the log position and
the decoded contract (or the raw body when it is not one this version knows).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import DeliverPolicy

from adapters.nats.jetstream import POSITION_HEADER
from application.integration_events import IntegrationEvent, decode


@dataclass(frozen=True)
class TailedEvent:
    seq: int
    subject: str
    msg_id: str
    position: int | None
    event: IntegrationEvent | None  # None: a body this version cannot decode
    body: bytes


async def tail_events(
    url: str,
    stream: str,
    subject: str,
    *,
    from_start: bool = True,
    idle_timeout_s: float | None = None,
    connect_timeout_s: float = 2.0,
) -> AsyncIterator[TailedEvent]:
    """Yield the stream's messages in order; ends after `idle_timeout_s` without one
    (None: never)."""
    nc = await asyncio.wait_for(
        nats.connect(
            url,
            name="payledger-tail",
            connect_timeout=connect_timeout_s,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        ),
        timeout=connect_timeout_s * 2,
    )
    try:
        js = nc.jetstream()
        policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
        subscription = await js.subscribe(
            subject, stream=stream, ordered_consumer=True, deliver_policy=policy
        )
        while True:
            try:
                message = await subscription.next_msg(timeout=idle_timeout_s or 3600.0)
            except NatsTimeoutError:
                if idle_timeout_s is not None:
                    return
                continue
            headers = message.headers or {}
            position = headers.get(POSITION_HEADER)
            event: IntegrationEvent | None = None
            with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                event = decode(message.data)
            yield TailedEvent(
                message.metadata.sequence.stream,
                message.subject,
                headers.get("Nats-Msg-Id", ""),
                int(position) if position and position.isdigit() else None,
                event,
                message.data,
            )
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
