"""Audits on real stores (SQLite file and PostgreSQL): replay, verification, the hash chain
written by the recorders, signed checkpoints, exports verified offline, tampering found."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from dishka import Container
from psycopg.sql import SQL, Identifier

from adapters.clock import SystemClock
from adapters.signing import Ed25519Signer
from application.audit.service import AuditService
from application.audit.verify import CHAIN, CHECKPOINTS, VerificationReport
from application.ledger import Ledger
from application.payment_projection import PaymentsProjection
from application.payments import PaymentRequest
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.principal import SYSTEM
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from domain.ids import wallet_id
from domain.payment_terms import PaymentMethod, PaymentStatus
from entrypoints.cli import main
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import load_settings
from tests.support.services import POSTGRES, postgres_schema
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration

KEY = Ed25519Signer(bytes(range(32)))
OTHER_KEY = Ed25519Signer(bytes(range(1, 33)))


@dataclass
class Store:
    environment: dict[str, str]
    backend: str
    schema: str = ""
    sqlite_path: Path | None = None

    def tamper(self, position: int) -> None:
        """Change one stored event's bytes in place, as an intruder with SQL access would."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                conn.execute(
                    "UPDATE stored_events SET state = CAST(REPLACE(CAST(state AS TEXT), "
                    "'5000', '9000') AS BLOB) WHERE rowid = ?",
                    (position,),
                )
            return
        with POSTGRES.connect() as conn:
            conn.execute(
                SQL(
                    "UPDATE {}.payledger_events SET state = "
                    "convert_to(replace(convert_from(state, 'UTF8'), '5000', '9000'), 'UTF8') "
                    "WHERE notification_id = %s"
                ).format(Identifier(self.schema)),
                (position,),
            )

    def sql(self, statement: str) -> None:
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                conn.execute(statement)
            return
        with POSTGRES.connect() as conn:
            conn.execute(f"SET search_path TO {self.schema}")
            conn.execute(statement)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    common = {
        "PAYLEDGER_AUDIT_SIGNING_KEY": bytes(range(32)).hex(),
        "PAYLEDGER_AUDIT_CHECKPOINT_INTERVAL": "5",
    }
    if request.param == "sqlite":
        env = {**common, "PAYLEDGER_DATABASE_URL": "", "PAYLEDGER_DATA_DIR": str(tmp_path)}
        yield Store(env, "sqlite", sqlite_path=tmp_path / "payledger.sqlite3")
        return
    with postgres_schema() as schema:
        url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
        env = {
            **common,
            "PAYLEDGER_DATABASE_URL": url,
            "PAYLEDGER_DATABASE_SCHEMA": schema,
            "PAYLEDGER_DATABASE_POOL_SIZE": "2",
        }
        yield Store(env, "postgres", schema=schema)


@dataclass
class Scene:
    container: Container
    app: App
    audit: AuditService
    after_credit: int
    credited_at: datetime
    payment_id: UUID
    paid_at_position: int


@pytest.fixture
def scene(store: Store) -> Iterator[Scene]:
    settings = load_settings(store.environment)
    migrate(settings)
    container = build_sync_container(settings, create_tables=False)
    try:
        ledger = container.get(Ledger)
        app = make_app(SystemClock(), ledger=ledger)
        app.wallets.open_wallet(CALLER, "alice", "USD")
        app.wallets.open_wallet(CALLER, "bob", "USD")
        app.wallets.credit_wallet(CALLER, "alice", 5_000, "USD")
        after_credit = ledger.log_position() or 0
        credited_at = datetime.now(UTC)
        app.wallets.transfer(CALLER, "alice", "bob", 1_250, "USD")
        request = PaymentRequest(
            payer_id="alice",
            recipient="school",
            amount_minor=1_000,
            currency="USD",
            method=PaymentMethod.WALLET,
            description="trip",
        )
        payment = app.payments.create_payment(CALLER, request).value
        app.settlement.advance(payment.id)
        paid_at = ledger.log_position() or 0
        app.refunds.refund_payment(CALLER, payment.id, 400, "partial")
        ledger_view = container.get(LedgerViewRecorder)
        payments_view = container.get(PaymentsViewRecorder)
        ProjectionRunner(ledger, LedgerProjection(view=ledger_view)).catch_up()
        ProjectionRunner(ledger, PaymentsProjection(view=payments_view)).catch_up()
        audit = container.get(AuditService)
        yield Scene(container, app, audit, after_credit, credited_at, payment.id, paid_at)
    finally:
        container.close()


def checks(report: VerificationReport) -> dict[str, tuple[bool, bool]]:
    return {c.name: (c.ok, c.skipped) for c in report.checks}


def test_a_clean_log_verifies_with_every_check_run(scene: Scene) -> None:
    report = scene.audit.verify(SYSTEM, sample_every=3)

    assert report.ok, report.discrepancies
    assert report.events == scene.app.ledger.log_position()
    assert all(ok and not skipped for ok, skipped in checks(report).values()), report.checks
    assert report.chain_head is not None


def test_point_in_time_balance_and_payment_come_from_the_log(scene: Scene) -> None:
    alice = wallet_id("alice", "USD")

    then = scene.audit.account_as_of(SYSTEM, alice, position=scene.after_credit)
    now = scene.audit.account_as_of(SYSTEM, alice)
    by_time = scene.audit.account_as_of(SYSTEM, alice, at=scene.credited_at)

    assert (then.balance, then.entries_total) == (5_000, 1)
    assert (now.balance, [e.amount for e in now.entries]) == (
        5_000 - 1_250 - 1_000 + 400,
        [5_000, -1_250, -1_000, 400],
    )
    assert by_time.balance == 5_000
    paid = scene.audit.payment_as_of(SYSTEM, scene.payment_id, position=scene.paid_at_position)
    latest = scene.audit.payment_as_of(SYSTEM, scene.payment_id)
    assert (paid.status, paid.refunded) == (PaymentStatus.SUCCESS, 0)
    assert (latest.status, latest.refunded, [p.amount for p in latest.postings]) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        400,
        [1_000, 400],
    )


def test_altering_one_stored_event_is_found_at_its_position(scene: Scene, store: Store) -> None:
    # The credit's wallet posting holds the amount 5000: rewrite it in the table.
    position = scene.after_credit
    store.tamper(position)

    report = scene.audit.verify(SYSTEM)

    assert not report.ok
    chain = [d for d in report.discrepancies if d.check == CHAIN]
    assert [d.position for d in chain] == [position]
    checkpoint_breaks = [d for d in report.discrepancies if d.check == CHECKPOINTS]
    assert checkpoint_breaks == []  # the stored links are intact: only that event changed


def test_rewriting_the_chain_after_a_change_breaks_the_signed_checkpoints(
    scene: Scene, store: Store
) -> None:
    assert scene.audit.log.checkpoints(), "interval 5: checkpoints were signed"
    store.tamper(scene.after_credit)
    table = "stored_events_chain" if store.backend == "sqlite" else "payledger_events_chain"
    store.sql(f"DELETE FROM {table}")
    migrate(load_settings(store.environment))  # backfill re-links the altered log

    report = scene.audit.verify(SYSTEM)

    assert [d.check for d in report.discrepancies if d.check == CHAIN] == []
    assert any(d.check == CHECKPOINTS for d in report.discrepancies)


def test_a_log_without_a_chain_is_linked_on_migrate(scene: Scene, store: Store) -> None:
    table = "stored_events_chain" if store.backend == "sqlite" else "payledger_events_chain"
    store.sql(f"DELETE FROM {table}")
    assert not scene.audit.verify(SYSTEM).ok

    migrate(load_settings(store.environment))

    assert scene.audit.verify(SYSTEM).ok


def test_an_export_verifies_offline_and_a_changed_export_does_not(
    scene: Scene, store: Store, tmp_path: Path
) -> None:
    export = tmp_path / "audit.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "export", str(export)], env=store.environment)
    assert result.exit_code == 0, result.output

    offline = runner.invoke(
        main, ["audit", "verify", "--file", str(export), "--public-key", KEY.public_key.hex()]
    )
    wrong_key = runner.invoke(
        main,
        ["audit", "verify", "--file", str(export), "--public-key", OTHER_KEY.public_key.hex()],
    )
    lines = export.read_text().splitlines()
    event = lines[scene.after_credit]
    assert f'"p":{scene.after_credit},' in event
    row: dict[str, Any] = json.loads(event)
    state = base64.b64decode(row["s"]).replace(b"5000", b"9000")
    row["s"] = base64.b64encode(state).decode()
    lines[scene.after_credit] = json.dumps(row)
    export.write_text("\n".join(lines) + "\n")
    changed = runner.invoke(main, ["audit", "verify", "--file", str(export), "--json"])

    assert offline.exit_code == 0, offline.output
    assert "OK" in offline.output
    assert wrong_key.exit_code == 1
    assert "untrusted key" in wrong_key.output
    assert changed.exit_code == 1
    report = json.loads(changed.output.strip().splitlines()[-1])
    assert [d["position"] for d in report["discrepancies"] if d["check"] == CHAIN] == [
        scene.after_credit
    ]


def test_cli_verify_reports_the_live_log(scene: Scene, store: Store) -> None:
    result = CliRunner().invoke(main, ["audit", "verify"], env=store.environment)

    assert result.exit_code == 0, result.output
    assert "hash_chain" in result.output
    assert "OK" in result.output


def test_cli_prints_the_public_key_that_checks_the_checkpoints(store: Store) -> None:
    result = CliRunner().invoke(main, ["audit", "public-key"], env=store.environment)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == KEY.public_key.hex()
