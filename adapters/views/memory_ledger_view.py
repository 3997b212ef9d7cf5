"""The ledger read model in memory: for unit tests and the POPO event store."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from threading import RLock
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from adapters.views.common import TrackedPosition
from application.results import AccountBalance, StatementEntry, Wallet


class MemoryLedgerView(TrackedPosition, POPOTrackingRecorder):
    """Balances and statements held in dictionaries, guarded by one lock."""

    # In memory a poll is cheap: poll every 5 ms, without backing off.
    poll_delay_max_s = TrackedPosition.poll_delay_min_s

    def __init__(self, application_name: str = "payledger") -> None:
        super().__init__()
        self.application_name = application_name
        self._lock = RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._wallets: dict[UUID, dict[str, object]] = {}
            self._entries: dict[UUID, list[StatementEntry]] = {}
            self._system: dict[UUID, AccountBalance] = {}
            self._max_tracking_ids.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Apply many writes all or nothing: on an error the view is put back as it was."""
        with self._lock:
            saved = (
                copy.deepcopy(self._wallets),
                {k: list(v) for k, v in self._entries.items()},
                dict(self._system),
                dict(self._max_tracking_ids),
            )
            try:
                yield
            except BaseException:
                self._wallets, self._entries, self._system = saved[0], saved[1], saved[2]
                self._max_tracking_ids.clear()
                self._max_tracking_ids.update(saved[3])
                raise

    # Writes (each with its tracking record, all-or-nothing under the lock).

    def record_wallet_opened(
        self,
        account_id: UUID,
        customer_id: str,
        currency: str,
        overdraft_limit: int,
        opened_at: datetime,
        tracking: Tracking,
    ) -> None:
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            self._wallets[account_id] = {
                "customer_id": customer_id,
                "currency": currency,
                "balance": 0,
                "held": 0,
                "overdraft_limit": overdraft_limit,
                "version": 1,
                "updated_at": opened_at,
            }
            self._entries[account_id] = []
            self._insert_tracking(tracking)

    def record_wallet_entry(
        self,
        account_id: UUID,
        sequence: int,
        transaction_id: UUID,
        kind: str,
        amount: int,
        balance_after: int,
        description: str,
        posted_at: datetime,
        tracking: Tracking,
    ) -> None:
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            row = self._wallets[account_id]
            row.update(balance=balance_after, version=sequence, updated_at=posted_at)
            self._entries[account_id].append(
                StatementEntry(
                    sequence,
                    transaction_id,
                    kind,
                    amount,
                    balance_after,
                    description,
                    posted_at,
                    tracking.notification_id,
                )
            )
            self._insert_tracking(tracking)

    def record_held_change(
        self, account_id: UUID, sequence: int, delta: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            row = self._wallets[account_id]
            held = row["held"]
            assert isinstance(held, int)
            row.update(held=held + delta, version=sequence, updated_at=changed_at)
            self._insert_tracking(tracking)

    def record_system_postings(
        self, postings: list[tuple[UUID, str, str, int]], tracking: Tracking
    ) -> None:
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            for account_id, account, currency, amount in postings:
                old = self._system.get(account_id)
                balance = (old.balance if old else 0) + amount
                self._system[account_id] = AccountBalance(account_id, account, currency, balance)
            self._insert_tracking(tracking)

    # Reads.

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        with self._lock:
            return sorted(
                (
                    self._wallet(account_id, row)
                    for account_id, row in self._wallets.items()
                    if row["customer_id"] == customer_id
                ),
                key=lambda w: w.currency,
            )

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        with self._lock:
            entries = self._entries.get(account_id, [])
            older = [e for e in entries if before_sequence is None or e.sequence < before_sequence]
            return sorted(older, key=lambda e: -e.sequence)[:limit]

    def balances(self) -> list[AccountBalance]:
        with self._lock:
            wallets = [
                AccountBalance(
                    account_id,
                    f"wallet:{row['customer_id']}",
                    str(row["currency"]),
                    int(str(row["balance"])),
                )
                for account_id, row in self._wallets.items()
            ]
            return wallets + list(self._system.values())

    @staticmethod
    def _wallet(account_id: UUID, row: dict[str, object]) -> Wallet:
        balance, held, limit = (int(str(row[k])) for k in ("balance", "held", "overdraft_limit"))
        updated_at = row["updated_at"]
        assert isinstance(updated_at, datetime)
        return Wallet(
            id=account_id,
            customer_id=str(row["customer_id"]),
            currency=str(row["currency"]),
            balance=balance,
            held=held,
            available=balance - held + limit,
            overdraft_limit=limit,
            version=int(str(row["version"])),
            updated_at=updated_at,
        )
