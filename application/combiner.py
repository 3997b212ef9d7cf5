"""Combining: requests queued behind one lock are run by one thread, as one batch.

The first thread to arrive leads: it runs the batch of everything queued by then (its own
request first) and hands the lead to the oldest request still queued, which runs the next
batch. Every other thread waits for its outcome. Nothing here knows what a request is: the
leader's `run_batch` settles each one (a value or an error).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar
from uuid import UUID

W = TypeVar("W")
T = TypeVar("T")

BATCH_MAX = 64


class Queued(Generic[W, T]):
    """One request: its `work`, and once settled, its value or its error."""

    __slots__ = ("_lead", "_wake", "error", "settled", "value", "work")

    def __init__(self, work: W) -> None:
        self.work = work
        self.value: T | None = None
        self.error: BaseException | None = None
        self.settled = False
        self._wake = threading.Event()
        self._lead = False

    def settle(self, value: T | None = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.settled = value, error, True

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        assert self.settled, "a batch left a request unsettled"
        return self.value  # type: ignore[return-value]


class Combiner(Generic[W, T]):
    """One queue of requests and at most one leader running a batch of them at a time."""

    def __init__(self, batch_max: int = BATCH_MAX) -> None:
        self.batch_max = batch_max
        self._mutex = threading.Lock()
        self._queue: deque[Queued[W, T]] = deque()
        self._leading = False
        self._leader: int | None = None  # the leading thread's id

    def submit(self, work: W, run_batch: Callable[[Sequence[Queued[W, T]]], None]) -> T:
        """Queue `work` and return its outcome, running a batch if this thread leads."""
        mine: Queued[W, T] = Queued(work)
        if self._leader == threading.get_ident():
            # Submitted from inside this thread's own batch (a command running another):
            # queueing would wait on itself, so it runs as a batch of its own, now.
            run_batch([mine])
            return mine.outcome()
        with self._mutex:
            self._queue.append(mine)
            lead = not self._leading  # no leader: the queue held nothing before this
            self._leading = True
        if not lead:
            mine._wake.wait()
            if not mine._lead:
                return mine.outcome()
        # Leading: this request is the oldest queued, so it is in the batch.
        with self._mutex:
            batch = [self._queue.popleft() for _ in range(min(self.batch_max, len(self._queue)))]
            self._leader = threading.get_ident()
        try:
            run_batch(batch)
        except BaseException as error:  # settle every request, whatever happened
            for queued in batch:
                if not queued.settled:
                    queued.settle(error=error)
            raise
        finally:
            self._hand_over(batch)
        return mine.outcome()

    def _hand_over(self, batch: Sequence[Queued[W, T]]) -> None:
        with self._mutex:
            self._leader = None
            if self._queue:
                nxt = self._queue[0]
                nxt._lead = True
                nxt._wake.set()
            else:
                self._leading = False
        for queued in batch:
            if not queued.settled:
                queued.settle(error=RuntimeError("the batch left this request unsettled"))
            queued._wake.set()


class Combiners(Generic[W, T]):
    """A combiner per lock, striped over a fixed number (ids on one stripe share one)."""

    def __init__(self, stripes: int) -> None:
        self._combiners: list[Combiner[W, T]] = [Combiner() for _ in range(stripes)]

    def of(self, lock: UUID) -> Combiner[W, T]:
        return self._combiners[lock.int % len(self._combiners)]
