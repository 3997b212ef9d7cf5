"""The installments read model port: every plan's current document (for lists) and one row
per installment with the instant it may next be charged (for the due list and the
scheduler), kept from the log by `InstallmentsProjection`."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from application.ports.views import TrackedView


class InstallmentsView(TrackedView, Protocol):
    """Plans newest first (by owner, by status), and installments due by an instant."""

    def put_plan(
        self,
        plan_id: UUID,
        owner: str,
        status: str,
        document: bytes,
        installments: list[tuple[int, datetime | None, bytes]],
        tracking: Tracking,
    ) -> None:
        """Store a plan's document and its installments' (number, ready_at, document), and
        the tracking record, in one transaction. A plan keeps the position it was first put
        at (lists stay in creation order)."""
        ...

    def page_plans(
        self, owner: str | None, status: str | None, before_position: int | None, limit: int
    ) -> list[tuple[int, bytes]]:
        """(position, document) of plans, newest first."""
        ...

    def due_installments(
        self, owner: str | None, now: datetime, limit: int
    ) -> list[tuple[UUID, int]]:
        """(plan id, number) of installments chargeable at `now` on ACTIVE plans, earliest
        first."""
        ...

    def due_documents(self, owner: str | None, now: datetime, limit: int) -> list[bytes]:
        """The documents of the same installments."""
        ...
