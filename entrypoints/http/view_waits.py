"""Reads with `min_position`: wait for a read model without holding a worker thread.

A waiting read used to sleep in one of the shared worker threads, polling its view; 80 of
them left a credit queuing for a thread for seconds. Here a waiting read is a future on the
event loop. One poller task per read model and event loop reads the view's position (a short
call in a worker thread), with a backoff while nothing moves, and wakes every read it has
reached: the cost is one read per tick whatever the number of waiting reads.

Limits: a read waits at most `ViewPositions.wait_timeout_s` (then 503 `view_not_caught_up`);
at most `ViewPositions.waiters_max` reads wait at once per process (one more is refused at
once: 503 `too_many_view_waits`, with Retry-After); a position beyond the log's end is
refused at once (422 `position_beyond_log`): no read model will ever reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from anyio.lowlevel import RunVar

from application.errors import ViewNotCaughtUpError
from application.view_positions import ViewPositions
from entrypoints.http.problems import RETRY_AFTER_S, ProblemError
from entrypoints.http.writes import in_thread

log = logging.getLogger(__name__)

POLL_DELAY_MIN_S = 0.005
POLL_DELAY_MAX_S = 0.05


@dataclass
class _Watch:
    """The waiting reads of one read model, and the task polling its position."""

    seen: int = 0  # the highest position read so far (positions only grow)
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    poller: asyncio.Task[None] | None = None


@dataclass
class _LoopWaits:
    """Everything waiting in one event loop, for one `ViewPositions`."""

    positions: ViewPositions
    watches: dict[str, _Watch] = field(default_factory=dict)
    waiting: int = 0
    log_end_seen: int = 0


_state: RunVar[dict[int, _LoopWaits]] = RunVar("payledger_view_waits")


def _loop_waits(positions: ViewPositions) -> _LoopWaits:
    try:
        by_positions = _state.get()
    except LookupError:
        by_positions = {}
        _state.set(by_positions)
    waits = by_positions.get(id(positions))
    if waits is None:  # keyed by identity; the entry keeps `positions` alive, so id is unique
        waits = by_positions[id(positions)] = _LoopWaits(positions)
    return waits


async def wait_for_view(positions: ViewPositions, view: str, min_position: int | None) -> None:
    """Return once the read model `view` has reached `min_position` (at once for None);
    raise as the module docstring says otherwise."""
    if min_position is None:
        return
    waits = _loop_waits(positions)
    watch = waits.watches.setdefault(view, _Watch())
    if watch.seen >= min_position:
        return
    if min_position > waits.log_end_seen:
        await in_thread(positions.check_in_log, min_position)  # raises beyond the end
        waits.log_end_seen = max(waits.log_end_seen, min_position)
    if waits.waiting >= positions.waiters_max:
        raise ProblemError(
            503,
            "too_many_view_waits",
            f"{positions.waiters_max} reads are already waiting for read models; retry soon.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if not await _reached(waits, watch, view, min_position):
        raise ViewNotCaughtUpError(f"The view has not reached position {min_position} yet.")


async def wait_for_writes(positions: ViewPositions, view: str, min_position: int | None) -> None:
    """Like `wait_for_view`, but without `min_position` wait for the log's end as it is now:
    a list then holds every write acknowledged before the read, on any server process (a
    sequential client reads its own writes without passing a position)."""
    if min_position is None:
        min_position = await in_thread(positions.log_end)
        if not min_position:
            return
    await wait_for_view(positions, view, min_position)


async def _reached(waits: _LoopWaits, watch: _Watch, view: str, position: int) -> bool:
    entry = (position, asyncio.get_running_loop().create_future())
    watch.waiters.append(entry)
    waits.waiting += 1
    try:
        if watch.poller is None or watch.poller.done():
            watch.poller = asyncio.create_task(_poll(waits.positions, watch, view))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry[1], waits.positions.wait_timeout_s)
            return True
        return False
    finally:
        waits.waiting -= 1
        watch.waiters.remove(entry)


async def _poll(positions: ViewPositions, watch: _Watch, view: str) -> None:
    """Read the view's position while reads wait for it; wake those it has reached."""
    delay_s = POLL_DELAY_MIN_S
    while watch.waiters:
        try:
            position = await in_thread(positions.view_position, view)
        except Exception:  # the waits time out on their own; say why here
            log.exception("reading the position of the %s read model failed", view)
            position = watch.seen
        if position > watch.seen:
            watch.seen, delay_s = position, POLL_DELAY_MIN_S  # it moves: look again soon
        for wanted, future in watch.waiters:
            if wanted <= watch.seen and not future.done():
                future.set_result(None)
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, POLL_DELAY_MAX_S)
