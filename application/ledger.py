"""The ledger's event-sourced application: one ordered log of every fact about money.

It holds no use cases: they live in their own modules and change the log through the
`CommandRunner`. This class configures the eventsourcing machinery (the event store, the
aggregate cache, snapshots) from the environment the composition root builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

from domain.account import Account

SNAPSHOT_INTERVAL = 100


class Ledger(Application[UUID]):
    """The log and its repository. Wallets are snapshotted every `SNAPSHOT_INTERVAL` events
    (they are the long-lived, busy aggregates); nothing else lives long enough to need it."""

    name = "payledger"
    snapshotting_intervals = {Account: SNAPSHOT_INTERVAL}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_recorded: list[Callable[[], None]] = []

    def on_recorded(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every save that recorded events (e.g. to wake this
        process's followers of the log at once instead of at their next poll)."""
        self._on_recorded.append(callback)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        # The library's hook, called after each save has been recorded.
        if recordings:
            for callback in self._on_recorded:
                callback()

    def log_position(self) -> int | None:
        """The highest position in the log (None when it is empty)."""
        position: int | None = self.recorder.max_notification_id()
        return position
