"""The ledger read model in SQLite: wallets, statement entries and system balances.

The same tables and semantics as the PostgreSQL view. SQLite has no uuid or timestamptz
types: ids are stored as text and datetimes as ISO 8601 text in UTC with its offset, and
both are parsed back (to `UUID` and to aware `datetime`) on reading.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from adapters.views.batching import BatchedWrites
from adapters.views.common import SQLiteOwnTrackingRecorder, TrackedPosition, check_aware
from application.results import AccountBalance, StatementEntry, Wallet

WALLETS_TABLE = "ledger_wallets"
ENTRIES_TABLE = "ledger_statement_entries"
SYSTEM_TABLE = "ledger_system_balances"
WALLETS_CUSTOMER_INDEX = "ledger_wallets_customer_id_idx"

_WALLET_COLUMNS = (
    "account_id, customer_id, currency, balance_minor, held_minor, overdraft_limit_minor, "
    "version, updated_at"
)
_ENTRY_COLUMNS = (
    "sequence, transaction_id, kind, amount_minor, balance_after_minor, description, "
    "posted_at, position"
)


class SQLiteLedgerView(TrackedPosition, BatchedWrites, SQLiteOwnTrackingRecorder):
    """Balances and statements of wallets, and balances of system accounts, in SQLite.

    Its tracking is in its own table (`tracking_table_name`), like the PostgreSQL one's.
    """

    def __init__(
        self,
        datastore: SQLiteDatastore,
        application_name: str = "payledger",
        tracking_table_name: str = "ledger_view_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.application_name = application_name
        self._init_batching()
        statement = self._statement
        self._insert_wallet = statement(
            "INSERT INTO {wallets} ({wallet_columns}) VALUES (?, ?, ?, 0, 0, ?, 1, ?)"
        )
        self._set_balance = statement(
            "UPDATE {wallets} SET balance_minor = ?, version = ?, updated_at = ? "
            "WHERE account_id = ? RETURNING account_id"
        )
        self._add_held = statement(
            "UPDATE {wallets} SET held_minor = held_minor + ?, version = ?, updated_at = ? "
            "WHERE account_id = ? RETURNING account_id"
        )
        self._insert_entry = statement(
            "INSERT INTO {entries} (account_id, {entry_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._add_system = statement(
            "INSERT INTO {system} (account_id, account, currency, balance_minor) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE "
            "SET balance_minor = balance_minor + excluded.balance_minor"
        )
        self._select_wallets = statement(
            "SELECT {wallet_columns} FROM {wallets} WHERE customer_id = ? ORDER BY currency"
        )
        self._select_entries = statement(
            "SELECT {entry_columns} FROM {entries} WHERE account_id = ? "
            "ORDER BY sequence DESC LIMIT ?"
        )
        self._select_entries_before = statement(
            "SELECT {entry_columns} FROM {entries} WHERE account_id = ? AND sequence < ? "
            "ORDER BY sequence DESC LIMIT ?"
        )
        self._select_balances = statement(
            "SELECT * FROM ("
            "SELECT 0 AS part, account_id, 'wallet:' || customer_id AS account, currency, "
            "balance_minor FROM {wallets} "
            "UNION ALL "
            "SELECT 1 AS part, account_id, account, currency, balance_minor FROM {system}"
            ") ORDER BY part, account, currency"
        )
        self._reset_statements = [
            statement("DELETE FROM {entries}"),
            statement("DELETE FROM {wallets}"),
            statement("DELETE FROM {system}"),
        ]

    def _statement(self, template: str, **names: str) -> str:
        """A statement from a constant template: only this module's table and column names
        are substituted; values are always bound."""
        return template.format(
            wallets=WALLETS_TABLE,
            entries=ENTRIES_TABLE,
            system=SYSTEM_TABLE,
            customer_index=WALLETS_CUSTOMER_INDEX,
            wallet_columns=_WALLET_COLUMNS,
            entry_columns=_ENTRY_COLUMNS,
            **names,
        )

    def construct_create_table_statements(self) -> list[str]:
        statement = self._statement
        return [
            *super().construct_create_table_statements(),
            statement(
                "CREATE TABLE IF NOT EXISTS {wallets} ("
                "account_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
                "currency TEXT NOT NULL, balance_minor INTEGER NOT NULL, "
                "held_minor INTEGER NOT NULL, overdraft_limit_minor INTEGER NOT NULL, "
                "version INTEGER NOT NULL, updated_at TEXT NOT NULL)"
            ),
            statement("CREATE INDEX IF NOT EXISTS {customer_index} ON {wallets} (customer_id)"),
            statement(
                "CREATE TABLE IF NOT EXISTS {entries} ("
                "account_id TEXT NOT NULL, sequence INTEGER NOT NULL, "
                "transaction_id TEXT NOT NULL, kind TEXT NOT NULL, "
                "amount_minor INTEGER NOT NULL, balance_after_minor INTEGER NOT NULL, "
                "description TEXT NOT NULL, posted_at TEXT NOT NULL, "
                "position INTEGER NOT NULL, PRIMARY KEY (account_id, sequence)) WITHOUT ROWID"
            ),
            statement(
                "CREATE TABLE IF NOT EXISTS {system} ("
                "account_id TEXT PRIMARY KEY, account TEXT NOT NULL, currency TEXT NOT NULL, "
                "balance_minor INTEGER NOT NULL)"
            ),
        ]

    # Writes: the rows and the tracking record in one transaction.

    def record_wallet_opened(
        self,
        account_id: UUID,
        customer_id: str,
        currency: str,
        overdraft_limit: int,
        opened_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Add a wallet with zero balance and nothing held."""
        opened = _text(opened_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(
                self._insert_wallet,
                (str(account_id), customer_id, currency, overdraft_limit, opened),
            )

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
        """Append a statement entry and set the wallet's balance to `balance_after`."""
        posted = _text(posted_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(self._set_balance, (balance_after, sequence, posted, str(account_id)))
            _check_one_wallet(c, account_id)
            c.execute(
                self._insert_entry,
                (
                    str(account_id),
                    sequence,
                    str(transaction_id),
                    kind,
                    amount,
                    balance_after,
                    description,
                    posted,
                    tracking.notification_id,
                ),
            )

    def record_held_change(
        self, account_id: UUID, sequence: int, delta: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `delta` (negative on release) to the wallet's held amount."""
        changed = _text(changed_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(self._add_held, (delta, sequence, changed, str(account_id)))
            _check_one_wallet(c, account_id)

    def record_system_postings(
        self, postings: list[tuple[UUID, str, str, int]], tracking: Tracking
    ) -> None:
        """Add (account_id, account, currency, amount) postings to system balances."""
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.executemany(
                self._add_system,
                [
                    (str(account_id), account, currency, amount)
                    for account_id, account, currency, amount in postings
                ],
            )

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self._reset_statements:
                c.execute(statement)
            c.execute(self._delete_tracking, (self.application_name,))

    # Reads.

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets, ordered by currency."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_wallets, (customer_id,))
            return [_wallet(row) for row in c.fetchall()]

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        """Entries of one wallet, newest first, older than `before_sequence` if given."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        with self.datastore.transaction(commit=False) as c:
            if before_sequence is None:
                c.execute(self._select_entries, (str(account_id), limit))
            else:
                c.execute(self._select_entries_before, (str(account_id), before_sequence, limit))
            return [_entry(row) for row in c.fetchall()]

    def balances(self) -> list[AccountBalance]:
        """Every wallet (as `wallet:<customer_id>`), then every system account."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_balances)
            return [
                AccountBalance(
                    UUID(row["account_id"]), row["account"], row["currency"], row["balance_minor"]
                )
                for row in c.fetchall()
            ]


def _text(moment: datetime) -> str:
    # UTC with a fixed width, so the stored text sorts like the instants it names.
    check_aware(moment)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _check_one_wallet(c: SQLiteCursor, account_id: UUID) -> None:
    # An event for a wallet the view never saw opened means the view is incomplete: fail
    # (and roll back) rather than record the position and lose the change.
    if c.fetchone() is None:
        raise LookupError(f"wallet {account_id} is not in the ledger view")


def _wallet(row: Any) -> Wallet:
    balance, held, limit = row["balance_minor"], row["held_minor"], row["overdraft_limit_minor"]
    return Wallet(
        id=UUID(row["account_id"]),
        customer_id=row["customer_id"],
        currency=row["currency"],
        balance=balance,
        held=held,
        available=balance - held + limit,
        overdraft_limit=limit,
        version=row["version"],
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _entry(row: Any) -> StatementEntry:
    return StatementEntry(
        sequence=row["sequence"],
        transaction_id=UUID(row["transaction_id"]),
        kind=row["kind"],
        amount=row["amount_minor"],
        balance_after=row["balance_after_minor"],
        description=row["description"],
        posted_at=datetime.fromisoformat(row["posted_at"]),
        position=row["position"],
    )
