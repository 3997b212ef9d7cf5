"""The auditors' use cases: admins and auditors only (read-only), everyone else is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from application.audit.replay import (
    AccountAsOf,
    AuditEvent,
    AuditReplay,
    EventPage,
    PaymentAsOf,
    Progress,
)
from application.audit.verify import VerificationReport, Verifier
from application.audit.views_snapshot import ProjectionReader
from application.ports.audit_log import AuditLog, SignatureChecker
from application.principal import Principal


class AuditService:
    """Replays and verifications of the stored log, for admins and auditors."""

    def __init__(
        self,
        log: AuditLog,
        signatures: SignatureChecker,
        trusted_key: bytes | None,
        projections: ProjectionReader | None,
    ) -> None:
        self._log = log
        self._replay = AuditReplay(log)
        self._signatures = signatures
        self._trusted = trusted_key
        self._projections = projections

    @property
    def log(self) -> AuditLog:
        return self._log

    def events(
        self,
        caller: Principal,
        after: int = 0,
        upto: int | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> EventPage:
        caller.require_reader()
        return self._replay.events(after, upto, limit, since, until)

    def stream_events(
        self,
        caller: Principal,
        after: int = 0,
        upto: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[list[AuditEvent]]:
        caller.require_reader()
        return self._replay.stream(after, upto, since, until)

    def account_as_of(
        self,
        caller: Principal,
        account_id: UUID,
        position: int | None = None,
        at: datetime | None = None,
        entries_max: int = 100,
    ) -> AccountAsOf:
        caller.require_reader()
        return self._replay.account_as_of(account_id, position, at, entries_max)

    def payment_as_of(
        self,
        caller: Principal,
        payment_id: UUID,
        position: int | None = None,
        at: datetime | None = None,
    ) -> PaymentAsOf:
        caller.require_reader()
        return self._replay.payment_as_of(payment_id, position, at)

    def verify(
        self, caller: Principal, progress: Progress | None = None, sample_every: int = 10_000
    ) -> VerificationReport:
        caller.require_reader()
        verifier = Verifier(
            self._log,
            self._signatures,
            self._trusted,
            self._projections,
            sample_every=sample_every,
        )
        return verifier.run(progress)
