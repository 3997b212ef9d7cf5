"""`EventPublisher` on NATS JetStream (nats-py, asyncio) for a synchronous relay.

nats-py is asyncio-only; the relay is a thread. The publisher runs an event loop of its own
in a daemon thread (so the client's pings, acks and reconnects keep going while the relay
waits) and the relay's calls are handed to it with `run_coroutine_threadsafe`.

A batch is sent with `publish_async` (every message in flight at once, each with its
deterministic `Nats-Msg-Id`), then the acks are awaited together within `timeout_s`. A
message without an ack in time has an unknown outcome (it may still be stored after a
reconnect): it counts as not acknowledged and is sent again later with the same id, which
the stream's duplicate window drops. The stream is created, or updated to the configured
subjects and duplicate window, at the first connection.

Connecting gives up after `connect_timeout_s` (nats-py would retry for minutes); once
connected, the client reconnects by itself, forever, every `RECONNECT_WAIT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from application.ports.event_publisher import OutboundMessage, PublishOutcome

log = logging.getLogger(__name__)

T = TypeVar("T")

RECONNECT_WAIT_S = 0.5
POSITION_HEADER = "Payledger-Position"
MAX_PENDING = 4096  # messages in flight at once (publish_async's own limit)
CALL_MARGIN_S = 5.0  # a call into the loop waits this much longer than its own timeout


@dataclass(frozen=True)
class StreamSettings:
    """The stream the relay publishes to, created or updated at start."""

    name: str
    subjects: tuple[str, ...]
    duplicate_window_s: float = 120.0
    max_age_s: float = 0.0  # 0: messages are kept until removed
    replicas: int = 1


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (it comes with uvicorn's extras; it cuts the
    client's cost per message), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class NatsEventPublisher:
    """Implements `application.ports.event_publisher.EventPublisher` (see the module)."""

    def __init__(
        self,
        url: str,
        stream: StreamSettings,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        name: str = "payledger-relay",
    ) -> None:
        self.url = url
        self.stream = stream
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.name = name
        self._nc: Client | None = None
        self._closing = False
        self._sending: asyncio.Lock | None = None  # one batch on the wire at a time
        self._js: JetStreamContext | None = None
        self._loop = new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name=f"nats-{stream.name}"
        )
        self._thread.start()

    @property
    def destination(self) -> str:
        return f"JetStream stream {self.stream.name} at {self.url}"

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s + CALL_MARGIN_S)

    def ensure_stream(self) -> None:
        """Connect (if not yet) and create or update the stream; raises when unreachable."""
        self._call(self._ensure(), self.connect_timeout_s + self.timeout_s)

    def send(self, messages: Sequence[OutboundMessage]) -> _Pending:
        if not messages:
            return _Pending(None, 0.0)
        future = asyncio.run_coroutine_threadsafe(self._publish(messages), self._loop)
        return _Pending(future, self.connect_timeout_s + self.timeout_s + CALL_MARGIN_S)

    def publish(self, messages: Sequence[OutboundMessage]) -> PublishOutcome:
        """Send `messages` and wait for their outcome."""
        return self.send(messages).outcome()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(Exception):
            self._call(self._close(), self.timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout_s)

    # On the loop.

    async def _ensure(self) -> JetStreamContext:
        if self._js is not None and self._nc is not None and not self._nc.is_closed:
            return self._js
        nc = await asyncio.wait_for(
            nats.connect(
                self.url,
                name=self.name,
                connect_timeout=self.connect_timeout_s,
                reconnect_time_wait=RECONNECT_WAIT_S,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            ),
            timeout=self.connect_timeout_s * 2,
        )
        js = nc.jetstream(timeout=self.timeout_s, publish_async_max_pending=MAX_PENDING)
        try:
            await self._create_or_update(js)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
        log.info("publishing to %s", self.destination)
        return js

    async def _create_or_update(self, js: JetStreamContext) -> None:
        stream = self.stream
        config = StreamConfig(
            name=stream.name,
            subjects=list(stream.subjects),
            duplicate_window=stream.duplicate_window_s,
            max_age=stream.max_age_s or None,
            storage=StorageType.FILE,
            num_replicas=stream.replicas,
        )
        try:
            await js.stream_info(stream.name)
        except NotFoundError:
            await js.add_stream(config)
            return
        await js.update_stream(config)

    async def _publish(self, messages: Sequence[OutboundMessage]) -> PublishOutcome:
        # Batches are sent whole and in turn (the lock is fair: first come, first served),
        # so the stream stores them in log order while earlier acks are still awaited.
        if self._sending is None:
            self._sending = asyncio.Lock()
        async with self._sending:
            try:
                js = await self._ensure()
            except Exception as error:
                return PublishOutcome(0, problem=f"cannot reach NATS: {_describe(error)}")
            futures, problem = await self._send_all(js, messages)
        return await self._acks(futures, problem)

    async def _send_all(
        self, js: JetStreamContext, messages: Sequence[OutboundMessage]
    ) -> tuple[list[asyncio.Future[PubAck]], str | None]:
        futures: list[asyncio.Future[PubAck]] = []
        problem: str | None = None
        for message in messages:
            try:
                headers = {
                    "Nats-Msg-Id": message.msg_id,
                    "Payledger-Position": str(message.position),
                }
                futures.append(
                    await js.publish_async(
                        message.subject, message.body, wait_stall=self.timeout_s, headers=headers
                    )
                )
            except Exception as error:  # the buffer is full, the connection is closed...
                problem = f"publish failed: {_describe(error)}"
                break
        return futures, problem

    async def _acks(
        self, futures: list[asyncio.Future[PubAck]], problem: str | None
    ) -> PublishOutcome:
        done, pending = await asyncio.wait(futures, timeout=self.timeout_s) if futures else ((), ())
        for future in pending:
            future.cancel()  # frees its slot; the message is sent again with the same id
        acked = duplicates = 0
        for future in futures:
            if future not in done or future.cancelled() or future.exception() is not None:
                if problem is None:
                    problem = _future_problem(future, done)
                break
            acked += 1
            duplicates += bool(future.result().duplicate)
        return PublishOutcome(acked, duplicates, problem)

    async def _close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc = self._js = None

    async def _on_error(self, error: Exception) -> None:
        log.debug("NATS client error: %s", _describe(error))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("disconnected from NATS at %s; reconnecting", self.url)

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS at %s", self.url)


class _Pending:
    """A batch handed to the loop (`PendingPublish`)."""

    def __init__(self, future: Future[PublishOutcome] | None, timeout_s: float) -> None:
        self._future = future
        self._timeout_s = timeout_s

    def outcome(self) -> PublishOutcome:
        if self._future is None:
            return PublishOutcome(0)
        try:
            return self._future.result(self._timeout_s)
        except Exception as error:  # e.g. the loop's own deadline: nothing is known
            self._future.cancel()
            return PublishOutcome(0, problem=_describe(error))


def _future_problem(future: asyncio.Future[PubAck], done: Any) -> str:
    if future not in done or future.cancelled():
        return "no acknowledgement in time (unknown outcome: sent again with the same id)"
    return f"refused: {_describe(future.exception() or Exception('?'))}"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")
