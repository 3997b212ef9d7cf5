"""The auditors' tools in the composition root: the audit log over the event store, the
checkpoint signer given to its recorder, and the audit use cases."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dishka import Provider, Scope, decorate, provide

from adapters.eventstore.audit_log import open_audit_log
from adapters.signing import (
    Ed25519Checker,
    Ed25519Signer,
    install_chain_policy,
    stored_signing_key,
)
from application.audit.service import AuditService
from application.audit.views_snapshot import ProjectionReader
from application.ledger import Ledger
from application.ports.audit_log import AuditLog
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from entrypoints.settings import Settings

SIGNING_KEY_FILE = "audit-signing-key"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointKey:
    """The signer of checkpoints, if this deployment has one."""

    signer: Ed25519Signer | None


def checkpoint_signer(settings: Settings) -> Ed25519Signer | None:
    """The configured key; on SQLite one kept in the data folder; else none (unsigned)."""
    if settings.audit.signing_key:
        return Ed25519Signer.from_hex(settings.audit.signing_key)
    if settings.database.backend == "sqlite":
        return stored_signing_key(settings.database.sqlite_path.with_name(SIGNING_KEY_FILE))
    if settings.database.backend == "postgres":
        log.warning(
            "PAYLEDGER_AUDIT_SIGNING_KEY is not set: the hash chain is kept, but no checkpoint "
            "is signed (a rewrite of both the events and the chain would go unnoticed)"
        )
    return None


class AuditProvider(Provider):
    """The audit log, the signer of checkpoints, and the audit use cases."""

    scope = Scope.APP

    @provide
    def key(self, settings: Settings) -> CheckpointKey:
        return CheckpointKey(checkpoint_signer(settings))

    @decorate
    def chained_ledger(self, ledger: Ledger, key: CheckpointKey, settings: Settings) -> Ledger:
        """The event store's recorder signs a checkpoint every `checkpoint_interval`."""
        install_chain_policy(ledger.recorder, key.signer, settings.audit.checkpoint_interval)
        return ledger

    @provide
    def audit_log(self, ledger: Ledger) -> AuditLog:
        return open_audit_log(ledger.recorder)

    @provide
    def audit(
        self,
        log: AuditLog,
        key: CheckpointKey,
        ledger_view: LedgerViewRecorder,
        payments_view: PaymentsViewRecorder,
    ) -> AuditService:
        return AuditService(
            log,
            Ed25519Checker(),
            key.signer.public_key if key.signer else None,
            ProjectionReader(ledger_view, payments_view),
        )
