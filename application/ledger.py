"""The ledger's event-sourced application: one ordered log of every fact about money.

It holds no use cases: they live in their own modules and change the log through the
`CommandRunner`. This class configures the eventsourcing machinery (the event store, the
aggregate cache, snapshots) from the environment the composition root builds.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from domain.account import Account

SNAPSHOT_INTERVAL = 100


class Ledger(Application[UUID]):
    """The log and its repository. Wallets are snapshotted every `SNAPSHOT_INTERVAL` events
    (they are the long-lived, busy aggregates); nothing else lives long enough to need it."""

    name = "payledger"
    snapshotting_intervals = {Account: SNAPSHOT_INTERVAL}

    def log_position(self) -> int | None:
        """The highest position in the log (None when it is empty)."""
        position: int | None = self.recorder.max_notification_id()
        return position
