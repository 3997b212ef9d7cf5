"""Strongly consistent reads of one aggregate, on the event loop when the cache allows.

A read must see every write finished before its request arrived, in any process. The log's
head, checked once after that moment, says whether the cached aggregate is still the log's
state (`application/log_head.py`). Here the check is shared by every request waiting on this
event loop (one worker-thread call per check, not one per request), and the read itself is
first tried on the event loop with the store out of reach (`without_store`): a verified
cache hit is answered without a worker thread; anything that needs the store runs in one,
as every other call does. While writes keep moving the log, reads skip the check and go to
a worker thread at once (the runner then asks for the aggregate's newer events).

For reads only: the function must have no effect but its result (it may run twice).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from anyio.lowlevel import RunVar

from application.log_head import LogHead, WouldBlockError, read_moment, reads_at, without_store
from entrypoints.http.writes import in_thread

T = TypeVar("T")

_heads: RunVar[weakref.WeakKeyDictionary[LogHead, _LoopHead]] = RunVar("payledger_log_heads")


class _LoopHead:
    """One event loop's shared check of a `LogHead`: at most one in flight."""

    def __init__(self, head: LogHead) -> None:
        self._head = head
        self._check: asyncio.Future[int] | None = None

    async def since(self, moment: float) -> int:
        while (head := self._head.known_since(moment)) is None:
            check = self._check
            if check is None:
                check = self._check = asyncio.ensure_future(self._run())
            # Shielded: a request that goes away must not cancel the others' check.
            await asyncio.shield(check)
        return head

    async def _run(self) -> int:
        try:
            return await in_thread(self._head.since, time.monotonic())
        finally:
            self._check = None


def _loop_head(head: LogHead) -> _LoopHead:
    try:
        heads = _heads.get()
    except LookupError:
        heads = weakref.WeakKeyDictionary()
        _heads.set(heads)
    loop_head = heads.get(head)
    if loop_head is None:
        loop_head = heads[head] = _LoopHead(head)
    return loop_head


async def read_current(head: LogHead, read: Callable[..., T], *args: Any) -> T:
    """`read(*args)` as of the request's arrival: on the event loop if the cache has it
    verified, else in a worker thread. While the log keeps moving (writes are coming in),
    a check of its head would rarely spare the store: the read goes to a thread at once."""
    if not head.worth_checking():
        return await in_thread(read, *args)
    with reads_at(await _loop_head(head).since(read_moment())):
        try:
            with without_store():
                return read(*args)
        except WouldBlockError:
            pass
        return await in_thread(read, *args)
