"""Live figures for open dashboards: a stream of server-sent events, one per change.

The stream wakes when the log may have moved (the `NewEvents` port: this process's saves,
and NOTIFY on PostgreSQL when the followers listen), then looks at the read models'
positions; new positions mean new figures, rendered on the server as the same fragments as
the page. A slow look every `FALLBACK_POLL_S` covers writes no signal reports (another
process on SQLite). After a signal the read models may not have applied the events yet: the
stream looks again a few times, `SETTLE_STEP_S` apart, before it sleeps again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response import ServerSentEventMessage

from application.dashboard import DashboardQueries
from application.ports.new_events import NewEvents
from application.principal import Principal
from application.results_dashboard import DashboardSnapshot
from entrypoints.http.writes import in_thread

log = logging.getLogger(__name__)

FALLBACK_POLL_S = 3.0
SETTLE_STEP_S = 0.1
SETTLE_STEPS_MAX = 30
PUSH_INTERVAL_MIN_S = 0.2  # a burst of payments is one push, not one per payment
PUSH_COST_FACTOR = 2.0
KEEPALIVE_S = 15.0
RECONNECT_MS = 3_000
STREAMS_MAX = 32  # open dashboards per process


class LiveHub:
    """What the open dashboards of one process share: the wake-ups, turned from `NewEvents`
    calls (any thread) into asyncio ones, and the latest snapshot of each window, computed
    once per change however many dashboards are open."""

    def __init__(
        self,
        new_events: NewEvents,
        loop: asyncio.AbstractEventLoop,
        dashboard: DashboardQueries,
        render: Callable[[DashboardSnapshot], dict[str, Any]],
    ) -> None:
        self._loop = loop
        self._waiters: set[asyncio.Event] = set()
        self.dashboard = dashboard
        self._render = render
        self._latest: dict[str, tuple[tuple[int, int], ServerSentEventMessage]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.cost_s = 0.0  # how long the last snapshot took to read and render
        new_events.subscribe(self._wake)

    @property
    def streams(self) -> int:
        return len(self._waiters)

    def _wake(self) -> None:
        if self._waiters and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._set_all)

    def _set_all(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    def register(self) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def unregister(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)

    async def snapshot(
        self, caller: Principal, window: str, positions: tuple[int, int]
    ) -> ServerSentEventMessage:
        """The window's snapshot at `positions` (or later), read and rendered once."""
        async with self._locks.setdefault(window, asyncio.Lock()):
            latest = self._latest.get(window)
            if latest is not None and latest[0] == positions:
                return latest[1]
            started = self._loop.time()
            message = await in_thread(self._compute, caller, window)
            self.cost_s = self._loop.time() - started
            self._latest[window] = (positions, message)
            return message

    def _compute(self, caller: Principal, window: str) -> ServerSentEventMessage:
        snapshot = self.dashboard.snapshot(caller, window)
        return snapshot_message(snapshot, self._render(snapshot))


async def _woken(waiter: asyncio.Event, timeout_s: float) -> bool:
    """Wait for a signal (True) or the timeout (False)."""
    try:
        await asyncio.wait_for(waiter.wait(), timeout_s)
    except TimeoutError:
        return False
    waiter.clear()
    return True


def snapshot_message(snapshot: DashboardSnapshot, panels: dict[str, Any]) -> ServerSentEventMessage:
    data = {
        "position": snapshot.log_position,
        "generated_at": snapshot.generated_at.isoformat(),
        "panels": {name: str(html) for name, html in panels.items()},
    }
    position = str(snapshot.log_position)
    return ServerSentEventMessage(data=json.dumps(data), event="snapshot", id=position)


async def stream(
    hub: LiveHub,
    window: str,
    principal: Callable[[], Awaitable[Principal | None]],
) -> AsyncIterator[ServerSentEventMessage]:
    """Snapshots as the figures change, until the session ends (then one `signed-out`).
    Pushes are at least `PUSH_INTERVAL_MIN_S` apart, and `PUSH_COST_FACTOR` times what the
    last snapshot cost: under a steady flow of payments the dashboards take a bounded share
    of the process, however slow the figures are to read."""
    waiter = hub.register()
    try:
        yield ServerSentEventMessage(event="hello", data="live", retry=RECONNECT_MS)
        last: tuple[int, int] | None = None
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            try:
                positions = await in_thread(hub.dashboard.positions)
                if positions != last:
                    caller = await principal()  # revoked, expired or demoted: signed out
                    if caller is None or not caller.is_admin:
                        yield ServerSentEventMessage(event="signed-out", data="signed-out")
                        return
                    message = await hub.snapshot(caller, window, positions)
            except Exception:  # the database is away: say so, and look again later
                log.warning("dashboard figures unavailable", exc_info=True)
                yield ServerSentEventMessage(event="unavailable", data="unavailable")
                last = None
                await asyncio.sleep(FALLBACK_POLL_S)
                continue
            if positions != last:
                yield message
                last, quiet_since = positions, loop.time()
                await asyncio.sleep(max(PUSH_INTERVAL_MIN_S, PUSH_COST_FACTOR * hub.cost_s))
                continue
            if loop.time() - quiet_since > KEEPALIVE_S:
                yield ServerSentEventMessage(comment="keep-alive")
                quiet_since = loop.time()
            if await _woken(waiter, FALLBACK_POLL_S):
                await _settle(hub.dashboard, last)
    finally:
        hub.unregister(waiter)


async def _settle(dashboard: DashboardQueries, last: tuple[int, int] | None) -> None:
    """After a signal: give the read models a moment to apply the new events."""
    for _ in range(SETTLE_STEPS_MAX):
        try:
            if await in_thread(dashboard.positions) != last:
                return
        except Exception:  # the stream's next look reports it
            return
        await asyncio.sleep(SETTLE_STEP_S)
