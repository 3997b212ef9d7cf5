"""The log's head, asked once for many readers, and what the cache is known to be current to.

A strongly consistent read must see every write that finished before the read was asked
for, in whichever process it was made. Asking the log "what is after this aggregate's
cached version?" does that with one query per aggregate per read. Asking instead "how far
does the log go?" (`LogHead`) costs one query however many readers wait for it: every
reader that asked before a check began can take that check's answer. If the log has not
moved past the position up to which a cached aggregate is known to be complete
(`Verified`), the cached state is the log's state and no query about it is needed.

This rests on the event store's ordering: positions become visible in the order they are
given out (the PostgreSQL recorder gives them out under a table lock; SQLite has one
writer). So once the log's head is `h`, no event at or below `h` can appear later.

Which moment a read must be current to: the moment its request arrived (`reads_since`,
set by the HTTP layer for each request), else the moment of the call. All the reads of one
request can then share one check of the head (`reads_at`), and a read that finds its
aggregate verified in the cache can run on the event loop without a worker thread
(`without_store`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")

# When the request being served arrived (time.monotonic()); None outside a request.
_arrived: ContextVar[float | None] = ContextVar("payledger_request_arrived", default=None)
# The log's head as checked after the request arrived, once someone checked it for it.
_head: ContextVar[int | None] = ContextVar("payledger_request_head", default=None)
# Set while a read runs on the event loop itself: it may use the cache, never the store.
_loop_only: ContextVar[bool] = ContextVar("payledger_loop_only", default=False)

VERIFIED_MAX = 100_000
# While the log moves, a check is still made this often (to see when it stops moving).
RECHECK_MOVING_S = 0.1


@contextlib.contextmanager
def _setting(var: ContextVar[T], value: T) -> Iterator[None]:
    """`var` is `value` within the block, and what it was before after it."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def reads_since(arrived: float) -> contextlib.AbstractContextManager[None]:
    """Within this block, reads need only be current to `arrived` (a `time.monotonic()`):
    what had been written when the request came in (the HTTP layer sets it per request)."""
    return _setting(_arrived, arrived)


def read_moment() -> float:
    """The moment the current read must be current to."""
    arrived = _arrived.get()
    return time.monotonic() if arrived is None else arrived


def reads_at(head: int) -> contextlib.AbstractContextManager[None]:
    """Within this block, the log's head (checked after the request arrived) is `head`:
    reads use it instead of checking again."""
    return _setting(_head, head)


def known_head() -> int | None:
    """The head `reads_at` gave, if any."""
    return _head.get()


class WouldBlockError(Exception):
    """A read on the event loop (`without_store`) needs the store: run it in a thread."""


def without_store() -> contextlib.AbstractContextManager[None]:
    """Within this block, a read that would ask the store raises `WouldBlockError`
    instead (`may_block` says where): the HTTP layer tries a read served from the cache
    on the event loop first, and only hands it to a worker thread when it must."""
    return _setting(_loop_only, True)


def may_block() -> None:
    """Called before asking the store: refuse within `without_store`."""
    if _loop_only.get():
        raise WouldBlockError()


class LogHead:
    """The log's highest position, as read by a check that began at or after a given moment.

    At most one check runs at a time. A reader that comes while a check runs waits for it
    and, unless that check began after the reader's moment, for the next one, which the
    first reader to want it runs for all who wait."""

    def __init__(
        self, read_head: Callable[[], int | None], recheck_moving_s: float = RECHECK_MOVING_S
    ) -> None:
        self._read_head = read_head
        self._recheck_moving_s = recheck_moving_s
        self._changed = threading.Condition()
        self._running = False
        self._head = 0
        self._checked_at = float("-inf")  # when the newest finished check began
        # Whether the newest check found the log moved on since the one before: then a
        # check is unlikely to show a cached aggregate still current.
        self.moving = False
        self.checks = 0  # checks made: a metric (how many reads shared each)

    @property
    def newest(self) -> int:
        """What the newest finished check read (0 before any), however long ago."""
        return self._head

    def worth_checking(self) -> bool:
        """Whether a check may show cached aggregates still current: not while the log
        keeps moving (writes coming in), except once in a while to see whether it still is."""
        return not self.moving or time.monotonic() - self._checked_at > self._recheck_moving_s

    def known_since(self, moment: float) -> int | None:
        """The head if a finished check began at or after `moment`, else None (no wait)."""
        return self._head if self._checked_at >= moment else None

    def since(self, moment: float) -> int:
        """The log's head as a check that began at or after `moment` read it."""
        with self._changed:
            while self._checked_at < moment:
                if self._running:
                    self._changed.wait()
                    continue
                self._running = True
                began = time.monotonic()
                try:
                    self._changed.release()
                    try:
                        head = self._read_head() or 0
                    finally:
                        self._changed.acquire()
                finally:
                    # On a failure the next waiter runs its own check (and may fail too).
                    self._running = False
                    self._changed.notify_all()
                self.moving = self.checks > 0 and head > self._head
                self.checks += 1
                self._head = max(self._head, head)
                self._checked_at = max(self._checked_at, began)
            return self._head


class Verified:
    """For cached aggregates: a version and a log position such that the aggregate at that
    version (or any later one) holds all of its events at or below that position.

    Noted when a read brought the aggregate up to date after the head was checked, and when
    this process saved it (a save that did not conflict was made on all its events; any
    later ones must follow it in the log). Bounded: past `VERIFIED_MAX` aggregates it
    starts again, which only costs queries."""

    def __init__(self, size_max: int = VERIFIED_MAX) -> None:
        self._known: dict[UUID, tuple[int, int]] = {}
        self._size_max = size_max

    def position_of(self, aggregate_id: UUID) -> int | None:
        """The position the aggregate is known complete up to, if any."""
        known = self._known.get(aggregate_id)
        return None if known is None else known[1]

    def covers(self, aggregate_id: UUID, version: int, head: int) -> bool:
        """Whether the aggregate at `version` holds all its events up to `head`."""
        known = self._known.get(aggregate_id)
        return known is not None and version >= known[0] and known[1] >= head

    def note(self, aggregate_id: UUID, version: int, position: int) -> None:
        known = self._known.get(aggregate_id)
        if known is not None and known[1] >= position and known[0] <= version:
            return  # what is known already says as much
        if len(self._known) >= self._size_max:
            self._known.clear()
        self._known[aggregate_id] = (version, position)
