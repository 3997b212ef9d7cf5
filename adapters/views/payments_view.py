"""The payments read model: one row per payment (list and summary), in SQL.

Written once for every `ViewDatabase` (SQLite in memory or in a file, PostgreSQL). Every
write stores its row change and the event's tracking record in one transaction, so each
event changes the view exactly once; a change to a payment the view never saw created
raises `LookupError` and changes nothing.

In a batch the changes are kept in memory and written when it ends (or before a read in
it), in a few multi-row statements: a payment created in the batch is inserted once, as the
batch leaves it; every other payment it changed is updated once, with its changes folded
into one (see `_UPDATE_PAYMENTS`). Those updates go first, so a change to a payment created
only later in the batch still finds it missing and raises `LookupError`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from adapters.views.sql import Row, SqlCursor, ViewDatabase, check_aware
from adapters.views.tracking import SqlView
from application.payment_projection import StatusGroup, summary_of
from application.ports.views import STATUS_COUNT_INTERVALS_MAX, PaymentsViewRecorder
from application.results import PaymentRow, Summary
from domain.payment import CREATED, FAILED, PARTIALLY_REFUNDED, REFUNDED, SUCCESS

_COLUMNS = (
    "payment_id, status, amount_minor, currency, payer_id, recipient, method, "
    "failure_reason, captured_minor, refunded_minor, created_at, updated_at, position"
)

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {payments} ("
    "payment_id {uuid} PRIMARY KEY, status {text} NOT NULL, amount_minor {bigint} NOT NULL, "
    "currency {text} NOT NULL, payer_id {text} NOT NULL, recipient {text} NOT NULL, "
    "method {text} NOT NULL, failure_reason {text}, captured_minor {bigint} NOT NULL, "
    "refunded_minor {bigint} NOT NULL, created_at {timestamp} NOT NULL, "
    "updated_at {timestamp} NOT NULL, position {bigint} NOT NULL)",
    # Newest first, overall and within each filter; the summary groups by status.
    "CREATE UNIQUE INDEX IF NOT EXISTS {position_index} ON {payments} (position)",
    "CREATE INDEX IF NOT EXISTS {status_index} ON {payments} (status, position)",
    "CREATE INDEX IF NOT EXISTS {payer_index} ON {payments} (payer_id, position)",
    "CREATE INDEX IF NOT EXISTS {created_at_index} ON {payments} (created_at, position)",
)

# `{rows}` is a query of the batch's rows (see `ViewDatabase.rows_statement`).
_INSERT_PAYMENTS = "INSERT INTO {payments} ({columns}) {rows}"
_PAYMENT_TYPES = (
    *("uuid", "text", "bigint", "text", "text", "text", "text", "text"),
    *("bigint", "bigint", "timestamp", "timestamp", "bigint"),
)
# Payments created before the batch, each with the batch's changes folded into one row:
# the status its last change set (NULL when that was a refund), whether a change set the
# failure reason and the last one it set, the amount its last capture set (NULL: none), the
# refunds summed, and the time of its last change. A refund sets REFUNDED once the refunds
# add up to the amount captured, PARTIALLY_REFUNDED before; when the last change is a refund
# the refunds before it are all in the sum and the capture it compared with is the last
# one, so the one comparison below is the one that refund made. Right-hand sides read the
# row as it was; RETURNING tells which payments are there.
_UPDATE_PAYMENTS = (
    "WITH v (id, status, set_reason, reason, captured, refunded, updated_at) AS "
    "({rows}) "
    "UPDATE {payments} AS p SET status = COALESCE(v.status, CASE "
    "WHEN p.refunded_minor + v.refunded = COALESCE(v.captured, p.captured_minor) "
    "THEN ? ELSE ? END), "
    "failure_reason = CASE WHEN v.set_reason = 1 THEN v.reason ELSE p.failure_reason END, "
    "captured_minor = COALESCE(v.captured, p.captured_minor), "
    "refunded_minor = p.refunded_minor + v.refunded, updated_at = v.updated_at "
    "FROM v WHERE p.payment_id = v.id RETURNING payment_id"
)
_PAYMENT_CHANGE_TYPES = ("uuid", "text", "int", "text", "bigint", "bigint", "timestamp")
_SELECT_SUMMARY = (
    "SELECT 0 AS part, status AS key, currency, COUNT(*) AS n, "
    "CAST(SUM(amount_minor) AS {bigint}) AS amount, "
    "CAST(SUM(captured_minor) AS {bigint}) AS captured, "
    "CAST(SUM(refunded_minor) AS {bigint}) AS refunded "
    "FROM {payments} GROUP BY status, currency "
    "UNION ALL "
    "SELECT 1, COALESCE(failure_reason, ''), '', COUNT(*), 0, 0, 0 FROM {payments} "
    "WHERE status = ? GROUP BY COALESCE(failure_reason, '')"
)
# One interval of the dashboard's outcomes over time (the created_at index serves it).
_SELECT_STATUS_COUNTS = (
    "SELECT status, COUNT(*) AS n FROM {payments} WHERE created_at >= ? AND created_at < ? "
    "GROUP BY status"
)
_SELECT_PAGE = "SELECT {columns} FROM {payments}{where} ORDER BY position DESC LIMIT ?"
# The list's optional filters, in the order of `_filter_values()`: one bound value each.
_FILTERS = (
    "status = ?",
    "payer_id = ?",
    "created_at >= ?",
    "created_at < ?",
    "position < ?",
    "method = ?",
)


class SqlPaymentsView(SqlView, PaymentsViewRecorder):
    """The payments list and summary."""

    tables = {"payments": "payments"}
    indexes = {
        "position_index": "payments_position_idx",
        "status_index": "payments_status_idx",
        "payer_index": "payments_payer_id_idx",
        "created_at_index": "payments_created_at_idx",
    }
    create = _CREATE

    def __init__(
        self,
        database: ViewDatabase,
        application_name: str = "payledger",
        tracking_table_name: str = "payments_view_tracking",
    ) -> None:
        super().__init__(database, application_name, tracking_table_name)
        sql = functools.partial(self.sql, columns=_COLUMNS)
        names = {**self._names, "columns": _COLUMNS}
        self._insert_payments = database.rows_statement(_INSERT_PAYMENTS, _PAYMENT_TYPES, names)
        self._update_payments = database.rows_statement(
            _UPDATE_PAYMENTS, _PAYMENT_CHANGE_TYPES, names, (REFUNDED, PARTIALLY_REFUNDED)
        )
        self._select_summary = sql(_SELECT_SUMMARY)
        self._select_status_counts = sql(_SELECT_STATUS_COUNTS)
        self._pages: dict[tuple[bool, ...], str] = {}  # a statement per set of filters used

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
        db = self.database
        created = db.bind_time(created_at)
        row = [db.bind_uuid(payment_id), CREATED, amount, currency, payer_id, recipient, method]
        row += [None, 0, 0, created, created, tracking.notification_id]
        changes: _PaymentChanges
        with self._recording(tracking) as changes:
            if payment_id in changes.created:
                raise IntegrityError(f"payment {payment_id} is created twice")
            changes.created[payment_id] = row

    def record_status_changed(
        self,
        payment_id: UUID,
        status: str,
        failure_reason: str | None,
        changed_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Set the status and the failure reason (None clears it)."""
        changed = self.database.bind_time(changed_at)
        changes: _PaymentChanges
        with self._recording(tracking) as changes:
            created = changes.created.get(payment_id)
            if created is not None:
                created[1], created[7], created[11] = status, failure_reason, changed
            else:
                change = self._change(changes, payment_id)
                change[1], change[2], change[3], change[6] = status, 1, failure_reason, changed

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        changed = self.database.bind_time(changed_at)
        changes: _PaymentChanges
        with self._recording(tracking) as changes:
            created = changes.created.get(payment_id)
            if created is not None:
                created[1], created[8], created[11] = SUCCESS, captured, changed
            else:
                change = self._change(changes, payment_id)
                change[1], change[4], change[6] = SUCCESS, captured, changed

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total; REFUNDED once it reaches the captured amount."""
        changed = self.database.bind_time(changed_at)
        changes: _PaymentChanges
        with self._recording(tracking) as changes:
            created = changes.created.get(payment_id)
            if created is not None:
                refunded = created[9] + amount
                created[1] = REFUNDED if refunded == created[8] else PARTIALLY_REFUNDED
                created[9], created[11] = refunded, changed
            else:
                change = self._change(changes, payment_id)
                change[1] = None  # the update compares the refunds with the capture
                change[5] += amount
                change[6] = changed

    def _change(self, changes: _PaymentChanges, payment_id: UUID) -> list[Any]:
        """The batch's folded change of a payment created before it."""
        change = changes.changed.get(payment_id)
        if change is None:
            bound = self.database.bind_uuid(payment_id)
            change = changes.changed[payment_id] = [bound, None, 0, None, None, 0, None]
        return change

    def _pending(self) -> _PaymentChanges:
        return _PaymentChanges()

    def _flush(self, cursor: SqlCursor, pending: _PaymentChanges) -> None:
        self._update_payments.update_every(
            cursor, pending.changed, "payment_id", "payment", "payments view"
        )
        if pending.created:
            self._insert_payments.execute(cursor, list(pending.created.values()))

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
        bind_time = self.database.bind_time
        values = (
            status,
            payer_id,
            None if created_from is None else bind_time(created_from),
            None if created_to is None else bind_time(created_to),
            before_position,
            method,
        )
        used = tuple(value is not None for value in values)
        with self._reading() as cursor:
            rows = cursor.fetch_all(
                self._page(used), (*(value for value in values if value is not None), limit)
            )
        return [self._payment_row(row) for row in rows]

    def summary(self) -> Summary:
        """Counts by outcome and status, failure reasons, and amounts per currency: grouped
        in SQL, in one statement (one snapshot)."""
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._select_summary, (FAILED,))
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

    def status_counts_between(self, bounds: Sequence[datetime]) -> list[dict[str, int]]:
        """For each interval `[bounds[i], bounds[i + 1])` of creation time, how many
        payments have each status; all intervals in one read (one snapshot)."""
        if len(bounds) - 1 > STATUS_COUNT_INTERVALS_MAX:
            raise ValueError(f"at most {STATUS_COUNT_INTERVALS_MAX} intervals in one read")
        bind_time = self.database.bind_time
        bound = [bind_time(moment) for moment in bounds]
        counts: list[dict[str, int]] = []
        with self._reading() as cursor:
            for start, end in itertools.pairwise(bound):
                rows = cursor.fetch_all(self._select_status_counts, (start, end))
                counts.append({row["status"]: row["n"] for row in rows})
        return counts

    def _page(self, used: tuple[bool, ...]) -> str:
        # One of at most 64 statements (one per set of filters), each built once.
        statement = self._pages.get(used)
        if statement is None:
            filters = [text for text, is_used in zip(_FILTERS, used, strict=True) if is_used]
            where = f" WHERE {' AND '.join(filters)}" if filters else ""
            statement = self._pages[used] = self.sql(_SELECT_PAGE, columns=_COLUMNS, where=where)
        return statement

    def _payment_row(self, row: Row) -> PaymentRow:
        read_time = self.database.read_time
        return PaymentRow(
            id=self.database.read_uuid(row["payment_id"]),
            status=row["status"],
            amount=row["amount_minor"],
            currency=row["currency"],
            payer_id=row["payer_id"],
            recipient=row["recipient"],
            method=row["method"],
            failure_reason=row["failure_reason"],
            refunded=row["refunded_minor"],
            created_at=read_time(row["created_at"]),
            updated_at=read_time(row["updated_at"]),
            position=row["position"],
        )


class _PaymentChanges:
    """What a batch changed in the payments view, as rows to write when it ends."""

    __slots__ = ("changed", "created")

    def __init__(self) -> None:
        # Payments created in the batch: their row as the batch leaves it.
        self.created: dict[UUID, list[Any]] = {}
        # Other payments: [id, status or None, reason set (1/0), reason, captured or None,
        # refunds summed, updated_at].
        self.changed: dict[UUID, list[Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.created or self.changed)
