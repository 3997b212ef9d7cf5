"""The newest stretch of an application's log, read and decoded once for all its followers.

A process runs many followers of one log (the views, the payment processor, the relay,
webhooks, installments, ...). Each used to read every new notification from the store and
decode it itself: the same rows fetched and the same events decoded once per follower. A
`LogTail` keeps the stretch of the log its followers read last, with the decoded events:
the first follower to reach new positions reads and decodes them, the others are served
from memory.

What it serves is what the store would answer: it remembers a read of `start..last` as the
whole of the log between those positions, which holds because positions become visible in
the order they were given out (the same guarantee a follower's tracking relies on).
Decoded events are shared between followers; events are immutable.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

TAIL_MAX = 10_000  # notifications kept: well over a batch of every follower

_tails: weakref.WeakKeyDictionary[Application[Any], LogTail] = weakref.WeakKeyDictionary()
_tails_lock = threading.Lock()


def tail_of(app: Application[Any]) -> LogTail:
    """The one tail of `app`'s log in this process."""
    with _tails_lock:
        tail = _tails.get(app)
        if tail is None:
            tail = _tails[app] = LogTail(app)
        return tail


def decode(app: Application[Any], notifications: Sequence[Notification]) -> Sequence[Any]:
    """The notifications' events, all at once where the mapper can (it then does its work
    per event type once a batch, not once an event)."""
    mapper = app.mapper
    decode_all = getattr(mapper, "to_domain_events", None)
    if decode_all is not None:
        events: Sequence[Any] = decode_all(notifications)
        return events
    return [mapper.to_domain_event(notification) for notification in notifications]


class LogTail:
    """A window `[low, high]` of the log held in memory: every notification whose position
    lies in it, in order, with its decoded event (None where the batch could not be decoded:
    the follower then decodes it itself, and fails on the very event as it would)."""

    def __init__(self, app: Application[Any], size_max: int = TAIL_MAX) -> None:
        self._app = app
        self._size_max = size_max
        self._lock = threading.Lock()  # guards the window
        self._fetching = threading.Lock()  # held while reading the store
        self._low = 0
        self._high = -1  # empty
        self._ids: list[int] = []
        self._notifications: list[Notification] = []
        self._events: list[Any] = []
        self.reads = 0  # reads that went to the store: a metric

    def read(self, start: int, limit: int) -> tuple[Sequence[Notification], Sequence[Any] | None]:
        """Up to `limit` notifications from position `start` on, and their events (None if
        they could not all be decoded); as `select_notifications(start=..., limit=...)`
        would answer, except that an answer from memory may stop short at the window's end
        (the follower then asks again from there)."""
        with self._lock:
            served = self._from_window(start, limit)
        if served is not None:
            return served
        # One read of the store at a time: followers woken together by the same new events
        # wait for the first one's read instead of making the same read each.
        with self._fetching:
            with self._lock:
                served = self._from_window(start, limit)
            if served is not None:
                return served
            notifications = self._app.recorder.select_notifications(start=start, limit=limit)
            self.reads += 1
            events = self._decode(notifications)
            with self._lock:
                self._remember(start, notifications, events)
        return notifications, events

    def _from_window(
        self, start: int, limit: int
    ) -> tuple[Sequence[Notification], Sequence[Any] | None] | None:
        if not self._low <= start <= self._high:
            return None
        first = bisect.bisect_left(self._ids, start)
        last = first + limit
        notifications = self._notifications[first:last]
        if not notifications:
            return None  # nothing after `start` in the window: the store may have more
        events = self._events[first:last]
        return notifications, None if any(e is None for e in events) else events

    def _decode(self, notifications: Sequence[Notification]) -> Sequence[Any] | None:
        try:
            return decode(self._app, notifications)
        except Exception:  # the follower decodes it again and reports the event
            return None

    def _remember(
        self,
        start: int,
        notifications: Sequence[Notification],
        events: Sequence[Any] | None,
    ) -> None:
        """Fold a read of the store covering `start..last` into the window."""
        if not notifications:
            return  # says nothing about positions to come
        last = notifications[-1].id
        decoded = list(events) if events is not None else [None] * len(notifications)
        ids = [n.id for n in notifications]
        if (
            self._high < self._low
            or start > self._high + 1
            or (start <= self._low and last >= self._high)
        ):
            # No window, a read past its end (newest wins), or one covering all of it.
            self._low, self._high = start, last
            self._ids, self._notifications, self._events = ids, list(notifications), decoded
        elif start >= self._low:  # from within the window or right after it: extend it
            if last <= self._high:
                return  # known already
            keep = bisect.bisect_left(self._ids, start)  # the read restates the rest
            del self._ids[keep:], self._notifications[keep:], self._events[keep:]
            self._ids += ids
            self._notifications += notifications
            self._events += decoded
            self._high = last
        elif last >= self._low - 1:  # a lagging follower's read reaching the window
            before = bisect.bisect_left(ids, self._low)
            self._ids[:0] = ids[:before]
            self._notifications[:0] = notifications[:before]
            self._events[:0] = decoded[:before]
            self._low = start
        else:
            return  # far behind the window: left to the followers at its end
        excess = len(self._ids) - self._size_max
        if excess > 0:
            del self._ids[:excess], self._notifications[:excess], self._events[:excess]
            self._low = self._ids[0]
