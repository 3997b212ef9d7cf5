"""The payments read model in SQLite: one row per payment, and its tracking table.

The same table and semantics as the PostgreSQL view. SQLite has no uuid or timestamptz
types: ids are stored as text and datetimes as ISO 8601 text in UTC with its offset (fixed
width, so text order is time order), and both are parsed back on reading.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from adapters.views.batching import BatchedWrites
from adapters.views.common import SQLiteOwnTrackingRecorder, TrackedPosition, check_aware
from application.payment_projection import StatusGroup, summary_of
from application.results import PaymentRow, Summary
from domain.payment import CREATED, FAILED, PARTIALLY_REFUNDED, REFUNDED, SUCCESS

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
    "status = ?",
    "payer_id = ?",
    "created_at >= ?",
    "created_at < ?",
    "position < ?",
    "method = ?",
)


class SQLitePaymentsView(TrackedPosition, BatchedWrites, SQLiteOwnTrackingRecorder):
    """The payments list and summary in SQLite.

    Its tracking is in its own table (`tracking_table_name`), like the PostgreSQL one's.
    """

    def __init__(
        self,
        datastore: SQLiteDatastore,
        application_name: str = "payledger",
        tracking_table_name: str = "payments_view_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.application_name = application_name
        self._init_batching()
        statement = self._statement
        self._insert_payment = statement(
            "INSERT INTO {payments} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?, ?)"
        )
        self._set_status = statement(
            "UPDATE {payments} SET status = ?, failure_reason = ?, updated_at = ? "
            "WHERE payment_id = ? RETURNING payment_id"
        )
        self._set_captured = statement(
            "UPDATE {payments} SET status = ?, captured_minor = ?, updated_at = ? "
            "WHERE payment_id = ? RETURNING payment_id"
        )
        # Right-hand sides read the row as it was: REFUNDED once the refunds add up to the
        # capture, PARTIALLY_REFUNDED before.
        self._add_refunded = statement(
            "UPDATE {payments} SET refunded_minor = refunded_minor + ?, "
            "status = CASE WHEN refunded_minor + ? = captured_minor THEN ? ELSE ? END, "
            "updated_at = ? WHERE payment_id = ? RETURNING payment_id"
        )
        self._select_page = statement("SELECT {columns} FROM {payments}")
        self._page_order = " ORDER BY position DESC LIMIT ?"
        self._select_summary = statement(
            "SELECT 0 AS part, status AS key, currency, COUNT(*) AS n, "
            "SUM(amount_minor) AS amount, SUM(captured_minor) AS captured, "
            "SUM(refunded_minor) AS refunded FROM {payments} GROUP BY status, currency "
            "UNION ALL "
            "SELECT 1, COALESCE(failure_reason, ''), '', COUNT(*), 0, 0, 0 FROM {payments} "
            "WHERE status = ? GROUP BY COALESCE(failure_reason, '')"
        )
        self._delete_payments = statement("DELETE FROM {payments}")

    def _statement(self, template: str, **names: str) -> str:
        """A statement from a constant template: only this module's table, index and column
        names are substituted; values are always bound."""
        return template.format(
            payments=PAYMENTS_TABLE,
            position_index=POSITION_INDEX,
            status_index=STATUS_INDEX,
            payer_index=PAYER_INDEX,
            created_at_index=CREATED_AT_INDEX,
            columns=_COLUMNS,
            **names,
        )

    def construct_create_table_statements(self) -> list[str]:
        statement = self._statement
        return [
            *super().construct_create_table_statements(),
            statement(
                "CREATE TABLE IF NOT EXISTS {payments} ("
                "payment_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
                "amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, "
                "payer_id TEXT NOT NULL, recipient TEXT NOT NULL, method TEXT NOT NULL, "
                "failure_reason TEXT, captured_minor INTEGER NOT NULL, "
                "refunded_minor INTEGER NOT NULL, created_at TEXT NOT NULL, "
                "updated_at TEXT NOT NULL, position INTEGER NOT NULL)"
            ),
            # Newest first, overall and within each filter; the summary groups by status.
            statement(
                "CREATE UNIQUE INDEX IF NOT EXISTS {position_index} ON {payments} (position)"
            ),
            statement("CREATE INDEX IF NOT EXISTS {status_index} ON {payments} (status, position)"),
            statement(
                "CREATE INDEX IF NOT EXISTS {payer_index} ON {payments} (payer_id, position)"
            ),
            statement(
                "CREATE INDEX IF NOT EXISTS {created_at_index} ON {payments} (created_at, position)"
            ),
        ]

    # Writes: the row and the tracking record in one transaction.

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
        created = _text(created_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(
                self._insert_payment,
                (
                    str(payment_id),
                    CREATED,
                    amount,
                    currency,
                    payer_id,
                    recipient,
                    method,
                    created,
                    created,
                    tracking.notification_id,
                ),
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
        changed = _text(changed_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(self._set_status, (status, failure_reason, changed, str(payment_id)))
            _check_one_payment(c, payment_id)

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        changed = _text(changed_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(self._set_captured, (SUCCESS, captured, changed, str(payment_id)))
            _check_one_payment(c, payment_id)

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total; REFUNDED once it reaches the captured amount."""
        changed = _text(changed_at)
        with self._writing() as c:
            self._insert_tracking(c, tracking)
            c.execute(
                self._add_refunded,
                (amount, amount, REFUNDED, PARTIALLY_REFUNDED, changed, str(payment_id)),
            )
            _check_one_payment(c, payment_id)

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._delete_payments)
            c.execute(self._delete_tracking, (self.application_name,))

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
        values = (
            status,
            payer_id,
            None if created_from is None else _text(created_from),
            None if created_to is None else _text(created_to),
            before_position,
            method,
        )
        used = [(f, v) for f, v in zip(_FILTERS, values, strict=True) if v is not None]
        where = " WHERE " + " AND ".join(f for f, _ in used) if used else ""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_page + where + self._page_order, (*(v for _, v in used), limit))
            return [_payment_row(row) for row in c.fetchall()]

    def summary(self) -> Summary:
        """Counts by outcome and status, failure reasons, and amounts per currency: grouped
        in SQL, in one statement (one snapshot)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_summary, (FAILED,))
            rows = c.fetchall()
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


def _text(moment: datetime) -> str:
    # UTC with a fixed width, so the stored text sorts like the instants it names.
    check_aware(moment)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _check_one_payment(c: SQLiteCursor, payment_id: UUID) -> None:
    # A change to a payment the view never saw created means the view is incomplete: fail
    # (and roll back) rather than record the position and lose the change.
    if c.fetchone() is None:
        raise LookupError(f"payment {payment_id} is not in the payments view")


def _payment_row(row: Any) -> PaymentRow:
    return PaymentRow(
        id=UUID(row["payment_id"]),
        status=row["status"],
        amount=row["amount_minor"],
        currency=row["currency"],
        payer_id=row["payer_id"],
        recipient=row["recipient"],
        method=row["method"],
        failure_reason=row["failure_reason"],
        refunded=row["refunded_minor"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        position=row["position"],
    )
