"""The real NATS JetStream server for integration tests: skip when absent (fail with
`PAYLEDGER_REQUIRE_SERVICES=1`), a uniquely named stream and subject prefix per test
(deleted afterwards), and a reader of everything a stream holds (independent of the
code under test: one `STREAM.MSG.GET` per message)."""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import nats
import pytest
from nats.js.errors import NotFoundError

from tests.support.services import services_required

NATS_URL = os.environ.get("PAYLEDGER_TEST_NATS_URL", "nats://127.0.0.1:4222")
CONNECT_TIMEOUT_S = 2.0


async def _connect(url: str = NATS_URL) -> nats.NATS:
    return await asyncio.wait_for(
        nats.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT_S,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            allow_reconnect=False,
        ),
        timeout=CONNECT_TIMEOUT_S * 2,
    )


@functools.cache
def _nats_problem() -> str | None:
    async def probe() -> None:
        nc = await _connect()
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(probe())
    except Exception as error:
        return f"NATS JetStream unreachable at {NATS_URL}: {type(error).__name__}: {error}"
    return None


def require_nats() -> None:
    """Skip the calling test when NATS JetStream is unreachable (fail when required)."""
    problem = _nats_problem()
    if problem is None:
        return
    if services_required():
        pytest.fail(f"{problem} (PAYLEDGER_REQUIRE_SERVICES=1)")
    pytest.skip(problem)


@dataclass(frozen=True)
class TestStream:
    """A stream of this test's own: its name, and the prefix of its subjects."""

    __test__ = False
    name: str
    prefix: str
    url: str = NATS_URL

    def settings(self, **overrides: str) -> dict[str, str]:
        """The `PAYLEDGER_NATS_*` variables of a relay publishing to it."""
        return {
            "PAYLEDGER_NATS_URL": self.url,
            "PAYLEDGER_NATS_STREAM": self.name,
            "PAYLEDGER_NATS_SUBJECT_PREFIX": self.prefix,
            **overrides,
        }


async def _delete(name: str) -> None:
    nc = await _connect()
    try:
        with suppress(NotFoundError):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


@contextmanager
def nats_stream() -> Iterator[TestStream]:
    """A new stream name and subject prefix; the stream is deleted afterwards."""
    require_nats()
    token = uuid.uuid4().hex[:12]
    stream = TestStream(f"T_{token}", f"t{token}")
    try:
        yield stream
    finally:
        asyncio.run(_delete(stream.name))


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    msg_id: str
    position: int
    body: bytes


async def _read(name: str) -> list[StoredMessage]:
    nc = await _connect()
    try:
        js = nc.jetstream(timeout=5)
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            return []
        state = info.state
        found = []
        if state.messages:
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    raw = await js.get_msg(name, seq)
                except NotFoundError:
                    continue
                headers = raw.headers or {}
                found.append(
                    StoredMessage(
                        seq,
                        raw.subject or "",
                        headers.get("Nats-Msg-Id", ""),
                        int(headers.get("Payledger-Position", "0")),
                        raw.data or b"",
                    )
                )
        return found
    finally:
        await nc.close()


def read_stream(name: str) -> list[StoredMessage]:
    """Every message the stream holds, in stream order."""
    return asyncio.run(_read(name))


async def _info(name: str) -> tuple[int, float]:
    nc = await _connect()
    try:
        info = await nc.jetstream(timeout=5).stream_info(name)
        return info.state.messages, float(info.config.duplicate_window or 0)
    finally:
        await nc.close()


def stream_state(name: str) -> tuple[int, float]:
    """How many messages the stream holds, and its duplicate window (s)."""
    return asyncio.run(_info(name))


async def _last_position(name: str) -> int:
    nc = await _connect()
    try:
        js = nc.jetstream(timeout=5)
        try:
            info = await js.stream_info(name)
            if not info.state.messages:
                return 0
            raw = await js.get_msg(name, info.state.last_seq)
        except NotFoundError:
            return 0
        return int((raw.headers or {}).get("Payledger-Position", "0"))
    finally:
        await nc.close()


def last_position(name: str) -> int:
    """The log position of the stream's last message (0 when empty or missing)."""
    return asyncio.run(_last_position(name))
