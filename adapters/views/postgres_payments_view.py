"""The payments read model in PostgreSQL: one row per payment, and its tracking table.

Every write stores its row change and the tracking record of the event in one transaction,
so each event changes the view exactly once: a repeated (or older) tracking record raises
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
from application.payment_projection import StatusGroup, summary_of
from application.results import PaymentRow, Summary
from domain.payment import CREATED, FAILED, PARTIALLY_REFUNDED, REFUNDED, SUCCESS

if TYPE_CHECKING:
    from psycopg import Cursor
    from psycopg.rows import DictRow

PAYMENTS_TABLE = "payments"
POSITION_INDEX = "payments_position_idx"
STATUS_INDEX = "payments_status_idx"
PAYER_INDEX = "payments_payer_id_idx"
CREATED_AT_INDEX = "payments_created_at_idx"

_COLUMNS = (
    "payment_id, status, amount_minor, currency, payer_id, recipient, method, "
    "failure_reason, captured_minor, refunded_minor, created_at, updated_at, position"
)

# The list's optional filters: constant fragments, each with one bound value.
_FILTERS = (
    SQL("status = %s"),
    SQL("payer_id = %s"),
    SQL("created_at >= %s"),
    SQL("created_at < %s"),
    SQL("position < %s"),
    SQL("method = %s"),
)


class PostgresPaymentsView(TrackedPosition, BatchedWrites, PostgresTrackingRecorder):
    """The payments list and summary in PostgreSQL.

    The table lives in `datastore.schema`; `create_table()` creates it, its indexes and the
    tracking table if they do not exist.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        application_name: str = "payledger",
        tracking_table_name: str = "payments_view_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.application_name = application_name
        self._init_batching()
        schema = Identifier(datastore.schema)
        names = {
            "payments": SQL("{0}.{1}").format(schema, Identifier(PAYMENTS_TABLE)),
            "tracking": SQL("{0}.{1}").format(schema, Identifier(tracking_table_name)),
            "position_index": Identifier(POSITION_INDEX),
            "status_index": Identifier(STATUS_INDEX),
            "payer_index": Identifier(PAYER_INDEX),
            "created_at_index": Identifier(CREATED_AT_INDEX),
            "columns": SQL(_COLUMNS),
        }

        def statement(text: str) -> Composed:
            return SQL(text).format(**names)

        self.sql_create_statements.extend(
            [
                statement(
                    "CREATE TABLE IF NOT EXISTS {payments} ("
                    "payment_id uuid PRIMARY KEY, status text NOT NULL, "
                    "amount_minor bigint NOT NULL, currency text NOT NULL, "
                    "payer_id text NOT NULL, recipient text NOT NULL, method text NOT NULL, "
                    "failure_reason text, captured_minor bigint NOT NULL, "
                    "refunded_minor bigint NOT NULL, created_at timestamptz NOT NULL, "
                    "updated_at timestamptz NOT NULL, position bigint NOT NULL)"
                ),
                # Newest first, overall and within each filter; the summary groups by status.
                statement(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {position_index} ON {payments} (position)"
                ),
                statement(
                    "CREATE INDEX IF NOT EXISTS {status_index} ON {payments} (status, position)"
                ),
                statement(
                    "CREATE INDEX IF NOT EXISTS {payer_index} ON {payments} (payer_id, position)"
                ),
                statement(
                    "CREATE INDEX IF NOT EXISTS {created_at_index} "
                    "ON {payments} (created_at, position)"
                ),
            ]
        )
        self._insert_payment = statement(
            "INSERT INTO {payments} ({columns}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, 0, 0, %s, %s, %s)"
        )
        self._set_status = statement(
            "UPDATE {payments} SET status = %s, failure_reason = %s, updated_at = %s "
            "WHERE payment_id = %s"
        )
        self._set_captured = statement(
            "UPDATE {payments} SET status = %s, captured_minor = %s, updated_at = %s "
            "WHERE payment_id = %s"
        )
        # Right-hand sides read the row as it was: REFUNDED once the refunds add up to the
        # capture, PARTIALLY_REFUNDED before.
        self._add_refunded = statement(
            "UPDATE {payments} SET refunded_minor = refunded_minor + %s, "
            "status = CASE WHEN refunded_minor + %s = captured_minor THEN %s ELSE %s END, "
            "updated_at = %s WHERE payment_id = %s"
        )
        self._select_page = statement("SELECT {columns} FROM {payments}")
        self._page_order = SQL(" ORDER BY position DESC LIMIT %s")
        self._select_summary = statement(
            "SELECT 0 AS part, status AS key, currency, COUNT(*) AS n, "
            "SUM(amount_minor)::bigint AS amount, SUM(captured_minor)::bigint AS captured, "
            "SUM(refunded_minor)::bigint AS refunded FROM {payments} GROUP BY status, currency "
            "UNION ALL "
            "SELECT 1, COALESCE(failure_reason, ''), '', COUNT(*), 0, 0, 0 FROM {payments} "
            "WHERE status = %s GROUP BY COALESCE(failure_reason, '')"
        )
        self._delete_payments = statement("DELETE FROM {payments}")
        self._delete_tracking = statement("DELETE FROM {tracking} WHERE application_name = %s")

    # Writes. The tracking record goes first: its upsert locks the application's tracking
    # row, so a second writer of the same event waits for the first and then fails.

    def record_payment_created(
        self,
        payment_id: UUID,
        payer_id: str,
        recipient: str,
        amount: int,
        currency: str,
        method: str,
        created_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Add a CREATED payment, listed at the log position of `tracking`."""
        check_aware(created_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._insert_payment,
                (
                    payment_id,
                    CREATED,
                    amount,
                    currency,
                    payer_id,
                    recipient,
                    method,
                    created_at,
                    created_at,
                    tracking.notification_id,
                ),
                prepare=True,
            )

    def record_status_changed(
        self,
        payment_id: UUID,
        status: str,
        failure_reason: str | None,
        changed_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Set the status and the failure reason (None clears it)."""
        check_aware(changed_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._set_status, (status, failure_reason, changed_at, payment_id), prepare=True
            )
            _check_one_payment(curs, payment_id)

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        check_aware(changed_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._set_captured, (SUCCESS, captured, changed_at, payment_id), prepare=True
            )
            _check_one_payment(curs, payment_id)

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total; REFUNDED once it reaches the captured amount."""
        check_aware(changed_at)
        with self._writing() as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(
                self._add_refunded,
                (amount, amount, REFUNDED, PARTIALLY_REFUNDED, changed_at, payment_id),
                prepare=True,
            )
            _check_one_payment(curs, payment_id)

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._delete_payments)
            curs.execute(self._delete_tracking, (self.application_name,))

    # Reads.

    def list_payments(
        self,
        status: str | None,
        payer_id: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        before_position: int | None,
        limit: int,
        method: str | None = None,
    ) -> list[PaymentRow]:
        """Payments newest first (by log position of their creation), filtered; the
        creation time range is half-open: `created_from <= created_at < created_to`."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        for moment in (created_from, created_to):
            if moment is not None:
                check_aware(moment)
        values = (status, payer_id, created_from, created_to, before_position, method)
        used = [(f, v) for f, v in zip(_FILTERS, values, strict=True) if v is not None]
        query = self._select_page
        if used:
            query += SQL(" WHERE ") + SQL(" AND ").join(f for f, _ in used)
        query += self._page_order
        # One of at most 32 statements (one per set of filters): psycopg prepares the ones
        # used often by itself.
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(query, (*(v for _, v in used), limit))
            return [_payment_row(row) for row in curs.fetchall()]

    def summary(self) -> Summary:
        """Counts by outcome and status, failure reasons, and amounts per currency: grouped
        in SQL, in one statement (one snapshot)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_summary, (FAILED,), prepare=True)
            rows = curs.fetchall()
        groups = [
            StatusGroup(
                row["key"],
                row["currency"],
                row["n"],
                row["amount"],
                row["captured"],
                row["refunded"],
            )
            for row in rows
            if row["part"] == 0
        ]
        reasons = [(row["key"], row["n"]) for row in rows if row["part"] == 1]
        return summary_of(groups, reasons)


def _check_one_payment(curs: Cursor[DictRow], payment_id: UUID) -> None:
    # A change to a payment the view never saw created means the view is incomplete: fail
    # (and roll back) rather than record the position and lose the change.
    if curs.rowcount != 1:
        raise LookupError(f"payment {payment_id} is not in the payments view")


def _payment_row(row: dict[str, Any]) -> PaymentRow:
    return PaymentRow(
        id=row["payment_id"],
        status=row["status"],
        amount=row["amount_minor"],
        currency=row["currency"],
        payer_id=row["payer_id"],
        recipient=row["recipient"],
        method=row["method"],
        failure_reason=row["failure_reason"],
        refunded=row["refunded_minor"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        position=row["position"],
    )
