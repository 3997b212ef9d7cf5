"""The installments read model, in SQL (one module for SQLite and PostgreSQL): each plan's
current document, and one row per installment with the instant it may next be charged.

Every write stores its rows and the event's tracking record in one transaction, so each
event changes the view exactly once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from adapters.views.sql import ViewDatabase
from adapters.views.tracking import SqlView
from application.ports.installments import InstallmentsView

ACTIVE = "ACTIVE"

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {plans} ("
    "plan_id {uuid} NOT NULL PRIMARY KEY, owner {text} NOT NULL, status {text} NOT NULL, "
    "position {bigint} NOT NULL, document {text} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {plans_position} ON {plans} (position)",
    "CREATE INDEX IF NOT EXISTS {plans_owner} ON {plans} (owner, position)",
    "CREATE TABLE IF NOT EXISTS {installments} ("
    "plan_id {uuid} NOT NULL, number {int} NOT NULL, owner {text} NOT NULL, "
    "plan_status {text} NOT NULL, ready_at {timestamp}, document {text} NOT NULL, "
    "PRIMARY KEY (plan_id, number))",
    "CREATE INDEX IF NOT EXISTS {installments_ready} ON {installments} (ready_at)",
    "CREATE INDEX IF NOT EXISTS {installments_owner} ON {installments} (owner, ready_at)",
)
# A plan keeps the position it was first put at (lists stay in creation order).
_PUT_PLAN = (
    "INSERT INTO {plans} AS p (plan_id, owner, status, position, document) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (plan_id) DO UPDATE "
    "SET owner = excluded.owner, status = excluded.status, document = excluded.document"
)
_PUT_INSTALLMENT = (
    "INSERT INTO {installments} AS i (plan_id, number, owner, plan_status, ready_at, document) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plan_id, number) DO UPDATE "
    "SET owner = excluded.owner, plan_status = excluded.plan_status, "
    "ready_at = excluded.ready_at, document = excluded.document"
)
_PAGE = "SELECT position, document FROM {plans} WHERE 1 = 1{filters} ORDER BY position DESC LIMIT ?"
_DUE = (
    "SELECT plan_id, number, document FROM {installments} "
    "WHERE plan_status = ? AND ready_at IS NOT NULL AND ready_at <= ?{filters} "
    "ORDER BY ready_at, plan_id, number LIMIT ?"
)


class SqlInstallmentsView(SqlView, InstallmentsView):
    """Plans and installments, for `GET /installments/orders` and the due list."""

    tables = {"plans": "installment_plans", "installments": "installments"}
    indexes = {
        "plans_position": "installment_plans_position_idx",
        "plans_owner": "installment_plans_owner_idx",
        "installments_ready": "installments_ready_idx",
        "installments_owner": "installments_owner_idx",
    }
    create = _CREATE

    def __init__(
        self,
        database: ViewDatabase,
        application_name: str = "payledger",
        tracking_table_name: str = "installments_view_tracking",
    ) -> None:
        super().__init__(database, application_name, tracking_table_name)
        self._put_plan = self.sql(_PUT_PLAN)
        self._put_installment = self.sql(_PUT_INSTALLMENT)
        self._pages: dict[tuple[bool, bool, bool], str] = {}
        self._due = {
            by_owner: self.sql(_DUE, filters=" AND owner = ?" if by_owner else "")
            for by_owner in (False, True)
        }

    def put_plan(
        self,
        plan_id: UUID,
        owner: str,
        status: str,
        document: bytes,
        installments: list[tuple[int, datetime | None, bytes]],
        tracking: Tracking,
    ) -> None:
        db = self.database
        plan = db.bind_uuid(plan_id)
        with self._writing() as cursor:
            self._track(cursor, tracking)
            position = tracking.notification_id
            cursor.execute(self._put_plan, (plan, owner, status, position, document.decode()))
            for number, ready_at, item in installments:
                ready = db.bind_time(ready_at) if ready_at is not None else None
                row = (plan, number, owner, status, ready, item.decode())
                cursor.execute(self._put_installment, row)

    def page_plans(
        self, owner: str | None, status: str | None, before_position: int | None, limit: int
    ) -> list[tuple[int, bytes]]:
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        used = (owner is not None, status is not None, before_position is not None)
        statement = self._pages.get(used)
        if statement is None:
            conditions = ("owner = ?", "status = ?", "position < ?")
            filters = "".join(f" AND {c}" for c, on in zip(conditions, used, strict=True) if on)
            statement = self._pages[used] = self.sql(_PAGE, filters=filters)
        values = [v for v in (owner, status, before_position) if v is not None]
        with self._reading() as cursor:
            rows = cursor.fetch_all(statement, (*values, limit))
        return [(row["position"], str(row["document"]).encode()) for row in rows]

    def _due_rows(self, owner: str | None, now: datetime, limit: int) -> list[dict[str, object]]:
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        params: list[object] = [ACTIVE, self.database.bind_time(now)]
        if owner is not None:
            params.append(owner)
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._due[owner is not None], (*params, limit))
        return [dict(row) for row in rows]

    def due_installments(
        self, owner: str | None, now: datetime, limit: int
    ) -> list[tuple[UUID, int]]:
        rows = self._due_rows(owner, now, limit)
        return [(self.database.read_uuid(r["plan_id"]), int(str(r["number"]))) for r in rows]

    def due_documents(self, owner: str | None, now: datetime, limit: int) -> list[bytes]:
        return [str(row["document"]).encode() for row in self._due_rows(owner, now, limit)]
