"""`NewEvents` adapters: wake the followers of the log when events are recorded.

- `LocalNewEvents` (SQLite, memory): this process's own saves wake its followers at once;
  other processes' writes are found by the followers' slow fallback poll.
- `PostgresNewEvents`: the same, plus a LISTEN on the channel the event store's recorder
  NOTIFYs in every insert transaction (notifications arrive when that transaction commits),
  so a write by any process wakes every follower. LISTEN needs a connection of its own in
  autocommit mode, outside the pools; it is reopened (with backoff) when it drops, and every
  subscriber is woken after a reconnect, since notifications sent meanwhile were lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg.sql import SQL, Identifier

from adapters.eventstore.config import CONNECT_TIMEOUT_S
from adapters.postgres_schema import connect

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
LISTEN_TIMEOUT_S = 0.5  # how often the listener looks at its stop flag
RECONNECT_DELAY_MIN_S = 0.5
RECONNECT_DELAY_MAX_S = 5.0


class LocalNewEvents:
    """Wakes subscribers when this process records events (see the module's docstring)."""

    def __init__(self, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        self._poll_interval_s = poll_interval_s
        self._subscribers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def poll_interval_s(self) -> float:
        """How long a follower waits without a signal before looking anyway."""
        return self._poll_interval_s

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever new events may be there."""
        with self._lock:
            self._subscribers.append(wake)

    def recorded(self) -> None:
        """This process has just recorded events."""
        self._wake_all()

    def _wake_all(self) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for wake in subscribers:
            wake()

    def start(self) -> None:
        """Nothing to listen to: only this process's saves send signals."""

    def stop(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class ListenTarget:
    """Where to LISTEN: the database (`DatabaseSettings.postgres_params()`) and the
    recorder's channel."""

    params: Mapping[str, str]
    channel: str
    connect_timeout_s: int = CONNECT_TIMEOUT_S


class PostgresNewEvents(LocalNewEvents):
    """`LocalNewEvents` plus a LISTEN thread on the event store's NOTIFY channel."""

    def __init__(self, target: ListenTarget, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        super().__init__(poll_interval_s)
        self.target = target
        self.notifications = 0  # received since start: lets tests see LISTEN work
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the listener thread (once)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"listen-{self.target.channel}"
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop listening; the thread notices within `LISTEN_TIMEOUT_S` and closes."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        delay_s = RECONNECT_DELAY_MIN_S
        failing = False
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(SQL("LISTEN {}").format(Identifier(self.target.channel)))
                    if failing:
                        log.info("listening on %s again", self.target.channel)
                    failing, delay_s = False, RECONNECT_DELAY_MIN_S
                    self.connected.set()
                    self._wake_all()  # anything recorded while we were not listening
                    self._listen(conn)
            except psycopg.Error as error:
                if not failing:  # once per outage, not once per attempt
                    log.warning("cannot LISTEN on %s (%s); retrying", self.target.channel, error)
                failing = True
            self.connected.clear()
            self._stopping.wait(delay_s)
            delay_s = min(RECONNECT_DELAY_MAX_S, delay_s * 2)

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        target = self.target
        return connect(target.params, target.connect_timeout_s, "payledger-listen")

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        while not self._stopping.is_set():
            for _ in conn.notifies(timeout=LISTEN_TIMEOUT_S, stop_after=1):
                self.notifications += 1
                self._wake_all()


def open_new_events(poll_interval_s: float, listen: ListenTarget | None = None) -> LocalNewEvents:
    """`PostgresNewEvents` when there is a channel to LISTEN on, else `LocalNewEvents`."""
    if listen is None:
        return LocalNewEvents(poll_interval_s)
    return PostgresNewEvents(listen, poll_interval_s)
