"""The ledger read model: wallets, statement entries and system balances, in SQL.

Written once for every `ViewDatabase` (SQLite in memory or in a file, PostgreSQL). Every
write stores its rows and the event's tracking record in one transaction, so each event
changes the view exactly once; an event of a wallet the view never saw opened raises
`LookupError` and changes nothing.

In a batch the changes are kept in memory and written when it ends (or before a read in
it), in a few multi-row statements: each wallet's row is written once with where the batch
left it, and each system account's balance once with the batch's postings summed. A wallet
opened in the batch is inserted as it ends; the others are updated first, so an event of a
wallet opened only later in the batch still finds it missing and raises `LookupError` (in
the batch's last statements, which roll it back; the runner then narrows it down).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from adapters.views.sql import Row, SqlCursor, ViewDatabase
from adapters.views.tracking import SqlView
from application.ports.views import LedgerViewRecorder
from application.results import AccountBalance, HistoryEntry, StatementEntry, Wallet
from application.results_dashboard import WalletTotals

_WALLET_COLUMNS = (
    "account_id, customer_id, currency, balance_minor, held_minor, overdraft_limit_minor, "
    "version, updated_at"
)
_ENTRY_COLUMNS = (
    "sequence, transaction_id, kind, amount_minor, balance_after_minor, description, "
    "posted_at, position"
)

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {wallets} ("
    "account_id {uuid} PRIMARY KEY, customer_id {text} NOT NULL, currency {text} NOT NULL, "
    "balance_minor {bigint} NOT NULL, held_minor {bigint} NOT NULL, "
    "overdraft_limit_minor {bigint} NOT NULL, version {int} NOT NULL, "
    "updated_at {timestamp} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {customer_index} ON {wallets} (customer_id)",
    "CREATE TABLE IF NOT EXISTS {entries} ("
    "account_id {uuid} NOT NULL, sequence {int} NOT NULL, transaction_id {uuid} NOT NULL, "
    "kind {text} NOT NULL, amount_minor {bigint} NOT NULL, "
    "balance_after_minor {bigint} NOT NULL, description {text} NOT NULL, "
    "posted_at {timestamp} NOT NULL, position {bigint} NOT NULL, "
    "PRIMARY KEY (account_id, sequence)){without_rowid}",
    "CREATE INDEX IF NOT EXISTS {entries_position_index} ON {entries} (account_id, position)",
    "CREATE TABLE IF NOT EXISTS {system} ("
    "account_id {uuid} PRIMARY KEY, account {text} NOT NULL, currency {text} NOT NULL, "
    "balance_minor {bigint} NOT NULL)",
)

# The dashboard's wallet overview: one grouped read.
_SELECT_WALLET_TOTALS = (
    "SELECT currency, COUNT(*) AS n, CAST(SUM(balance_minor) AS {bigint}) AS balance, "
    "CAST(SUM(held_minor) AS {bigint}) AS held FROM {wallets} GROUP BY currency ORDER BY currency"
)
# `{rows}` is a query of the batch's rows (see `ViewDatabase.rows_statement`).
_INSERT_WALLETS = "INSERT INTO {wallets} ({wallet_columns}) {rows}"
_WALLET_TYPES = ("uuid", "text", "text", "bigint", "bigint", "bigint", "int", "timestamp")
# Wallets opened before the batch: the balance of its last entry (NULL: none), the sum of
# its held changes, and the version and time of its last event. RETURNING tells which
# wallets are there.
_UPDATE_WALLETS = (
    "WITH v (id, balance, held, version, updated_at) AS ({rows}) "
    "UPDATE {wallets} AS w SET balance_minor = COALESCE(v.balance, w.balance_minor), "
    "held_minor = w.held_minor + v.held, version = v.version, updated_at = v.updated_at "
    "FROM v WHERE w.account_id = v.id RETURNING account_id"
)
_WALLET_CHANGE_TYPES = ("uuid", "bigint", "bigint", "int", "timestamp")
_INSERT_ENTRIES = "INSERT INTO {entries} (account_id, {entry_columns}) {rows}"
_ENTRY_TYPES = ("uuid", "int", "uuid", "text", "bigint", "bigint", "text", "timestamp", "bigint")
_ADD_SYSTEM = (
    "INSERT INTO {system} AS s (account_id, account, currency, balance_minor) "
    "{rows} ON CONFLICT (account_id) DO UPDATE "
    "SET balance_minor = s.balance_minor + excluded.balance_minor"
)
_SYSTEM_TYPES = ("uuid", "text", "text", "bigint")
_SELECT_WALLETS = "SELECT {wallet_columns} FROM {wallets} WHERE customer_id = ? ORDER BY currency"
_SELECT_ENTRIES = (
    "SELECT {entry_columns} FROM {entries} WHERE account_id = ? ORDER BY sequence DESC LIMIT ?"
)
_SELECT_ENTRIES_BEFORE = (
    "SELECT {entry_columns} FROM {entries} WHERE account_id = ? AND sequence < ? "
    "ORDER BY sequence DESC LIMIT ?"
)
# Every account's balance, in account id order (a stable order to page through by id).
# A customer's entries across their wallets, newest first (one entry per wallet per event,
# and one wallet per currency: a log position names at most one entry of a customer).
_SELECT_HISTORY = (
    "SELECT e.account_id, w.currency, {prefixed_entry_columns} FROM {entries} e "
    "JOIN {wallets} w ON w.account_id = e.account_id "
    "WHERE w.customer_id = ?{before} ORDER BY e.position DESC LIMIT ?"
)
_SELECT_BALANCES = (
    "SELECT account_id, account, currency, balance_minor FROM ("
    "SELECT account_id, 'wallet:' || customer_id AS account, currency, balance_minor "
    "FROM {wallets} {after} "
    "UNION ALL "
    "SELECT account_id, account, currency, balance_minor FROM {system} {after}"
    ") AS b ORDER BY account_id {limit}"
)


class SqlLedgerView(SqlView, LedgerViewRecorder):
    """Balances and statements of wallets, and balances of system accounts."""

    tables = {
        "wallets": "ledger_wallets",
        "entries": "ledger_statement_entries",
        "system": "ledger_system_balances",
    }
    indexes = {
        "customer_index": "ledger_wallets_customer_id_idx",
        "entries_position_index": "ledger_entries_position_idx",
    }
    create = _CREATE

    def __init__(
        self,
        database: ViewDatabase,
        application_name: str = "payledger",
        tracking_table_name: str = "ledger_view_tracking",
    ) -> None:
        super().__init__(database, application_name, tracking_table_name)
        sql = functools.partial(
            self.sql, wallet_columns=_WALLET_COLUMNS, entry_columns=_ENTRY_COLUMNS
        )
        names = {
            **self._names,
            "wallet_columns": _WALLET_COLUMNS,
            "entry_columns": _ENTRY_COLUMNS,
        }
        rows = functools.partial(database.rows_statement, names=names)
        self._insert_wallets = rows(_INSERT_WALLETS, _WALLET_TYPES)
        self._update_wallets = rows(_UPDATE_WALLETS, _WALLET_CHANGE_TYPES)
        self._insert_entries = rows(_INSERT_ENTRIES, _ENTRY_TYPES)
        self._add_system = rows(_ADD_SYSTEM, _SYSTEM_TYPES)
        self._select_wallets = sql(_SELECT_WALLETS)
        self._select_entries = sql(_SELECT_ENTRIES)
        self._select_entries_before = sql(_SELECT_ENTRIES_BEFORE)
        prefixed = ", ".join(f"e.{name.strip()}" for name in _ENTRY_COLUMNS.split(","))
        self._select_history = sql(_SELECT_HISTORY, prefixed_entry_columns=prefixed, before="")
        self._select_history_before = sql(
            _SELECT_HISTORY, prefixed_entry_columns=prefixed, before=" AND e.position < ?"
        )
        self._select_balances = sql(_SELECT_BALANCES, after="", limit="")
        self._select_balances_page = sql(
            _SELECT_BALANCES, after="WHERE account_id > ?", limit="LIMIT ?"
        )
        self._select_balances_first = sql(_SELECT_BALANCES, after="", limit="LIMIT ?")
        self._select_wallet_totals = sql(_SELECT_WALLET_TOTALS)

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
        db = self.database
        row = [db.bind_uuid(account_id), customer_id, currency, 0, 0, overdraft_limit, 1]
        row.append(db.bind_time(opened_at))
        changes: _LedgerChanges
        with self._recording(tracking) as changes:
            if account_id in changes.opened:
                raise IntegrityError(f"wallet {account_id} is opened twice")
            changes.opened[account_id] = row

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
        db = self.database
        account, posted = db.bind_uuid(account_id), db.bind_time(posted_at)
        entry = (
            account,
            sequence,
            db.bind_uuid(transaction_id),
            kind,
            amount,
            balance_after,
            description,
            posted,
            tracking.notification_id,
        )
        changes: _LedgerChanges
        with self._recording(tracking) as changes:
            opened = changes.opened.get(account_id)
            if opened is not None:
                opened[3], opened[6], opened[7] = balance_after, sequence, posted
            else:
                change = changes.changed.get(account_id)
                if change is None:
                    changes.changed[account_id] = [account, balance_after, 0, sequence, posted]
                else:
                    change[1], change[3], change[4] = balance_after, sequence, posted
            changes.entries.append(entry)

    def record_held_change(
        self, account_id: UUID, sequence: int, delta: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `delta` (negative on release) to the wallet's held amount."""
        db = self.database
        changed_on = db.bind_time(changed_at)
        changes: _LedgerChanges
        with self._recording(tracking) as changes:
            opened = changes.opened.get(account_id)
            if opened is not None:
                opened[4] += delta
                opened[6], opened[7] = sequence, changed_on
            else:
                change = changes.changed.get(account_id)
                if change is None:
                    account = db.bind_uuid(account_id)
                    changes.changed[account_id] = [account, None, delta, sequence, changed_on]
                else:
                    change[2] += delta
                    change[3], change[4] = sequence, changed_on

    def record_system_postings(
        self, postings: list[tuple[UUID, str, str, int]], tracking: Tracking
    ) -> None:
        """Add (account_id, account, currency, amount) postings to system balances."""
        bind_uuid = self.database.bind_uuid
        changes: _LedgerChanges
        with self._recording(tracking) as changes:
            system = changes.system
            for account_id, account, currency, amount in postings:
                row = system.get(account_id)
                if row is None:  # the first posting names the account if it is new
                    system[account_id] = [bind_uuid(account_id), account, currency, amount]
                else:
                    row[3] += amount

    def _pending(self) -> _LedgerChanges:
        return _LedgerChanges()

    def _flush(self, cursor: SqlCursor, pending: _LedgerChanges) -> None:
        self._update_wallets.update_every(
            cursor, pending.changed, "account_id", "wallet", "ledger view"
        )
        if pending.opened:
            self._insert_wallets.execute(cursor, list(pending.opened.values()))
        if pending.entries:
            self._insert_entries.execute(cursor, pending.entries)
        if pending.system:
            self._add_system.execute(cursor, list(pending.system.values()))

    # Reads.

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets, ordered by currency."""
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._select_wallets, (customer_id,))
        return [self._wallet(row) for row in rows]

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        """Entries of one wallet, newest first, older than `before_sequence` if given."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        account = self.database.bind_uuid(account_id)
        with self._reading() as cursor:
            if before_sequence is None:
                rows = cursor.fetch_all(self._select_entries, (account, limit))
            else:
                params = (account, before_sequence, limit)
                rows = cursor.fetch_all(self._select_entries_before, params)
        return [self._entry(row) for row in rows]

    def history(
        self, customer_id: str, before_position: int | None, limit: int
    ) -> list[HistoryEntry]:
        """Entries of all the customer's wallets, newest first, older than
        `before_position` if given."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        with self._reading() as cursor:
            if before_position is None:
                rows = cursor.fetch_all(self._select_history, (customer_id, limit))
            else:
                params = (customer_id, before_position, limit)
                rows = cursor.fetch_all(self._select_history_before, params)
        read_uuid = self.database.read_uuid
        return [
            HistoryEntry(read_uuid(row["account_id"]), row["currency"], self._entry(row))
            for row in rows
        ]

    def balances(
        self, after_account_id: UUID | None = None, limit: int | None = None
    ) -> list[AccountBalance]:
        """Wallets (as `wallet:<customer_id>`) and system accounts in account id order:
        all of them, or `limit` of them after `after_account_id`."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        read_uuid = self.database.read_uuid
        with self._reading() as cursor:
            if limit is None:
                rows = cursor.fetch_all(self._select_balances)
            elif after_account_id is None:
                rows = cursor.fetch_all(self._select_balances_first, (limit,))
            else:
                after = self.database.bind_uuid(after_account_id)
                rows = cursor.fetch_all(self._select_balances_page, (after, after, limit))
        return [
            AccountBalance(
                read_uuid(row["account_id"]), row["account"], row["currency"], row["balance_minor"]
            )
            for row in rows
        ]

    def wallet_totals(self) -> list[WalletTotals]:
        """Customer wallets per currency (count, balances, held), in currency order."""
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._select_wallet_totals)
        return [
            WalletTotals(row["currency"], row["n"], row["balance"], row["held"]) for row in rows
        ]

    def _wallet(self, row: Row) -> Wallet:
        balance, held, limit = row["balance_minor"], row["held_minor"], row["overdraft_limit_minor"]
        return Wallet(
            id=self.database.read_uuid(row["account_id"]),
            customer_id=row["customer_id"],
            currency=row["currency"],
            balance=balance,
            held=held,
            available=balance - held + limit,
            overdraft_limit=limit,
            version=row["version"],
            updated_at=self.database.read_time(row["updated_at"]),
        )

    def _entry(self, row: Row) -> StatementEntry:
        return StatementEntry(
            sequence=row["sequence"],
            transaction_id=self.database.read_uuid(row["transaction_id"]),
            kind=row["kind"],
            amount=row["amount_minor"],
            balance_after=row["balance_after_minor"],
            description=row["description"],
            posted_at=self.database.read_time(row["posted_at"]),
            position=row["position"],
        )


class _LedgerChanges:
    """What a batch changed in the ledger view, as rows to write when it ends."""

    __slots__ = ("changed", "entries", "opened", "system")

    def __init__(self) -> None:
        # Wallets opened in the batch: their row as the batch leaves it.
        self.opened: dict[UUID, list[Any]] = {}
        # Other wallets: [id, balance or None, held delta, version, updated_at].
        self.changed: dict[UUID, list[Any]] = {}
        self.entries: list[tuple[Any, ...]] = []
        # System accounts: [id, account, currency, amount to add].
        self.system: dict[UUID, list[Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.opened or self.changed or self.entries or self.system)
