"""The ledger read model in PostgreSQL: wallets, statement entries and system balances.

Every write stores its rows and the tracking record of the event in one transaction, so
each event changes the view exactly once: a repeated (or older) tracking record raises
`eventsourcing.persistence.IntegrityError` and the whole change is rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from adapters.views.batching import BatchedWrites
from adapters.views.common import TrackedPosition, check_aware
from application.results import AccountBalance, StatementEntry, Wallet

if TYPE_CHECKING:
    from psycopg import Cursor
    from psycopg.rows import DictRow

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


class PostgresLedgerView(TrackedPosition, BatchedWrites, PostgresTrackingRecorder):
    """Balances and statements of wallets, and balances of system accounts, in PostgreSQL.

    The tables live in `datastore.schema`; `create_table()` creates them (and the tracking
    table) if they do not exist.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        application_name: str = "payledger",
        tracking_table_name: str = "ledger_view_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.application_name = application_name
        self._init_batching()
        schema = Identifier(datastore.schema)
        names = {
            "wallets": SQL("{0}.{1}").format(schema, Identifier(WALLETS_TABLE)),
            "entries": SQL("{0}.{1}").format(schema, Identifier(ENTRIES_TABLE)),
            "system": SQL("{0}.{1}").format(schema, Identifier(SYSTEM_TABLE)),
            "tracking": SQL("{0}.{1}").format(schema, Identifier(tracking_table_name)),
            "customer_index": Identifier(WALLETS_CUSTOMER_INDEX),
            "wallet_columns": SQL(_WALLET_COLUMNS),
            "entry_columns": SQL(_ENTRY_COLUMNS),
        }

        def statement(text: str) -> Composed:
            return SQL(text).format(**names)

        self.sql_create_statements.extend(
            [
                statement(
                    "CREATE TABLE IF NOT EXISTS {wallets} ("
                    "account_id uuid PRIMARY KEY, customer_id text NOT NULL, "
                    "currency text NOT NULL, balance_minor bigint NOT NULL, "
                    "held_minor bigint NOT NULL, overdraft_limit_minor bigint NOT NULL, "
                    "version int NOT NULL, updated_at timestamptz NOT NULL)"
                ),
                statement("CREATE INDEX IF NOT EXISTS {customer_index} ON {wallets} (customer_id)"),
                statement(
                    "CREATE TABLE IF NOT EXISTS {entries} ("
                    "account_id uuid NOT NULL, sequence int NOT NULL, "
                    "transaction_id uuid NOT NULL, kind text NOT NULL, "
                    "amount_minor bigint NOT NULL, balance_after_minor bigint NOT NULL, "
                    "description text NOT NULL, posted_at timestamptz NOT NULL, "
                    "position bigint NOT NULL, PRIMARY KEY (account_id, sequence))"
                ),
                statement(
                    "CREATE TABLE IF NOT EXISTS {system} ("
                    "account_id uuid PRIMARY KEY, account text NOT NULL, currency text NOT NULL, "
                    "balance_minor bigint NOT NULL)"
                ),
            ]
        )
        self._insert_wallet = statement(
            "INSERT INTO {wallets} ({wallet_columns}) VALUES (%s, %s, %s, 0, 0, %s, 1, %s)"
        )
        self._set_balance = statement(
            "UPDATE {wallets} SET balance_minor = %s, version = %s, updated_at = %s "
            "WHERE account_id = %s"
        )
        self._add_held = statement(
            "UPDATE {wallets} SET held_minor = held_minor + %s, version = %s, updated_at = %s "
            "WHERE account_id = %s"
        )
        self._insert_entry = statement(
            "INSERT INTO {entries} (account_id, {entry_columns}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self._add_system = statement(
            "INSERT INTO {system} (account_id, account, currency, balance_minor) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (account_id) DO UPDATE "
            "SET balance_minor = {system}.balance_minor + EXCLUDED.balance_minor"
        )
        self._select_wallets = statement(
            "SELECT {wallet_columns} FROM {wallets} WHERE customer_id = %s ORDER BY currency"
        )
        self._select_entries = statement(
            "SELECT {entry_columns} FROM {entries} WHERE account_id = %s "
            "ORDER BY sequence DESC LIMIT %s"
        )
        self._select_entries_before = statement(
            "SELECT {entry_columns} FROM {entries} WHERE account_id = %s AND sequence < %s "
            "ORDER BY sequence DESC LIMIT %s"
        )
        self._select_balances = statement(
            "SELECT * FROM ("
            "SELECT 0 AS part, account_id, 'wallet:' || customer_id AS account, currency, "
            "balance_minor FROM {wallets} "
            "UNION ALL "
            "SELECT 1 AS part, account_id, account, currency, balance_minor FROM {system}"
            ") AS b ORDER BY part, account, currency"
        )
        self._reset_statements = [
            statement("DELETE FROM {entries}"),
            statement("DELETE FROM {wallets}"),
            statement("DELETE FROM {system}"),
        ]
        self._delete_tracking = statement("DELETE FROM {tracking} WHERE application_name = %s")

    # Writes. The tracking record goes first: its upsert locks the application's tracking
    # row, so a second writer of the same event waits for the first and then fails.

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
        check_aware(opened_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._insert_wallet,
                (account_id, customer_id, currency, overdraft_limit, opened_at),
                prepare=True,
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
        check_aware(posted_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._set_balance, (balance_after, sequence, posted_at, account_id), prepare=True
            )
            _check_one_wallet(curs, account_id)
            curs.execute(
                self._insert_entry,
                (
                    account_id,
                    sequence,
                    transaction_id,
                    kind,
                    amount,
                    balance_after,
                    description,
                    posted_at,
                    tracking.notification_id,
                ),
                prepare=True,
            )

    def record_held_change(
        self, account_id: UUID, sequence: int, delta: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `delta` (negative on release) to the wallet's held amount."""
        check_aware(changed_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self._add_held, (delta, sequence, changed_at, account_id), prepare=True)
            _check_one_wallet(curs, account_id)

    def record_system_postings(
        self, postings: list[tuple[UUID, str, str, int]], tracking: Tracking
    ) -> None:
        """Add (account_id, account, currency, amount) postings to system balances."""
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            for posting in postings:
                curs.execute(self._add_system, posting, prepare=True)

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self.datastore.transaction(commit=True) as curs:
            for statement in self._reset_statements:
                curs.execute(statement)
            curs.execute(self._delete_tracking, (self.application_name,))

    # Reads.

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets, ordered by currency."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_wallets, (customer_id,), prepare=True)
            return [_wallet(row) for row in curs.fetchall()]

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        """Entries of one wallet, newest first, older than `before_sequence` if given."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        with self.datastore.transaction(commit=False) as curs:
            if before_sequence is None:
                curs.execute(self._select_entries, (account_id, limit), prepare=True)
            else:
                curs.execute(
                    self._select_entries_before, (account_id, before_sequence, limit), prepare=True
                )
            return [_entry(row) for row in curs.fetchall()]

    def balances(self) -> list[AccountBalance]:
        """Every wallet (as `wallet:<customer_id>`), then every system account."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_balances, prepare=True)
            return [
                AccountBalance(
                    row["account_id"], row["account"], row["currency"], row["balance_minor"]
                )
                for row in curs.fetchall()
            ]


def _check_one_wallet(curs: Cursor[DictRow], account_id: UUID) -> None:
    # An event for a wallet the view never saw opened means the view is incomplete: fail
    # (and roll back) rather than record the position and lose the change.
    if curs.rowcount != 1:
        raise LookupError(f"wallet {account_id} is not in the ledger view")


def _wallet(row: dict[str, Any]) -> Wallet:
    balance, held, limit = row["balance_minor"], row["held_minor"], row["overdraft_limit_minor"]
    return Wallet(
        id=row["account_id"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        balance=balance,
        held=held,
        available=balance - held + limit,
        overdraft_limit=limit,
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _entry(row: dict[str, Any]) -> StatementEntry:
    return StatementEntry(
        sequence=row["sequence"],
        transaction_id=row["transaction_id"],
        kind=row["kind"],
        amount=row["amount_minor"],
        balance_after=row["balance_after_minor"],
        description=row["description"],
        posted_at=row["posted_at"],
        position=row["position"],
    )
