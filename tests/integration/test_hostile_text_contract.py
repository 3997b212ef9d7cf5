"""Hostile but valid text through every view, on SQLite and PostgreSQL (issue 8).

Every event type the write side can record is recorded with text a client may legitimately
send (any script, quotes, backslashes, SQL-looking text, emoji, bidirectional marks, strings
at their length limits), through the real use cases into a real event store; both
projections then run over the whole log into their SQL views, and whatever a view shows
reads back exactly as it was sent. A view that cannot store an event would stop here.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from adapters.clock import SystemClock
from adapters.views.factory import open_ledger_view, open_payments_view, open_view_database
from adapters.views.sql import ViewDatabase
from application.charges import ChargeRequest
from application.errors import GatewayRefundFailedError
from application.idempotency import command_id
from application.ledger import Ledger
from application.payment_projection import PaymentsProjection
from application.payments import PaymentRequest
from application.ports.gateway import Card
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from domain.account import Account
from domain.hold import Hold
from domain.journal import JournalTransaction
from domain.money import CUSTOMER_ID_LENGTH_MAX, Money
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.request_claim import RequestClaim
from domain.splits import Split
from domain.text import DESCRIPTION_LENGTH_MAX, PARTY_LENGTH_MAX, REASON_LENGTH_MAX
from domain.wallet_directory import WalletDirectory
from tests.support.services import POSTGRES, postgres_schema
from tests.support.views import postgres_connection
from tests.unit.application.payment_fakes import CountingGateway, fail
from tests.unit.application.support import CALLER, App, make_app, read_log

pytestmark = pytest.mark.integration

APP = "payledger"
MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
AGGREGATES = (Account, Hold, JournalTransaction, Payment, RequestClaim, WalletDirectory)
EVENT_TYPES = 19  # a new one must be driven below too
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"  # the counting gateway declines it
PEER = "peer"  # the other side of every transfer and hold post

# Customer ids must be printable; free text may hold format characters (RTL marks, ZWJ).
HOSTILE_IDS = [
    "Zoë Åström 日本語 Ελληνικά",
    'O\'Brien "quoted" \\ back\\slash',
    "'); DROP TABLE ledger_wallets; --",
    "💸🏦 emoji 🇺🇸",
    "%s %d {0} ${x} `rm -rf`",
    "e\u0301 combining, \u2400 not a NUL",
    "𠜎" * CUSTOMER_ID_LENGTH_MAX,  # 200 four-byte CJK characters: the limit
]
HOSTILE_TEXT = [
    "\u200f\u202eright-to-left override\u202c\u200e",
    "👩\u200d👩\u200d👧 a family (ZWJ)",
    "\u2028line and paragraph\u2029separators",
    "\ufeffbyte order mark and \u00a0no-break space",
    "🏦" * DESCRIPTION_LENGTH_MAX,  # 500 emoji: 2,000 bytes of UTF-8
]


def all_event_types() -> set[type]:
    """Every event class of every aggregate (the write side can record nothing else): the
    nested classes that declare fields (eventsourcing also gives each aggregate bare
    `Event`, `Created` and `Snapshot` bases, never recorded as such)."""
    return {
        member
        for aggregate in AGGREGATES
        for member in vars(aggregate).values()
        if inspect.isclass(member) and issubclass(member, Aggregate.Event) and own_fields(member)
    }


def own_fields(event_class: type[Aggregate.Event]) -> set[str]:
    base = Aggregate.Created if issubclass(event_class, Aggregate.Created) else Aggregate.Event
    return field_names(event_class) - field_names(base)


def field_names(cls: type) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]


@dataclass
class Backend:
    ledger_env: dict[str, str]
    open_database: Callable[[], ViewDatabase]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "ledger.sqlite3"
        yield Backend(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)},
            lambda: open_view_database("sqlite", sqlite_path=path),
        )
        return
    with postgres_schema() as schema:
        yield Backend(
            POSTGRES.eventsourcing_env(schema),
            lambda: open_view_database("postgres", postgres=postgres_connection(schema)),
        )


def drive(app: App, customer: str, text: str) -> list[UUID]:
    """Record every kind of event with `customer` as an id and `text` in every free-text
    field (cut to each field's limit); returns the payments made."""
    payee, reason = text[:PARTY_LENGTH_MAX], text[:REASON_LENGTH_MAX]
    wallets, holds = app.wallets, app.holds
    wallets.open_wallet(CALLER, customer, "USD", idempotency_key=f"open {customer}")
    wallets.credit_wallet(CALLER, customer, 100_000, "USD", text)
    wallets.debit_wallet(CALLER, customer, 1_000, "USD", text)
    wallets.transfer(CALLER, customer, PEER, 500, "USD", text)
    voided = holds.place_hold(CALLER, customer, 200, "USD", None, text).value
    holds.void_hold(CALLER, voided.id, reason)
    posted = holds.place_hold(CALLER, customer, 300, "USD", 3_600, text).value
    holds.post_hold(CALLER, posted.id, 100, PEER, text)

    splits = (Split(payee, bps=9_000), Split("platform", bps=1_000))
    paid = app.payments.create_payment(
        CALLER, PaymentRequest(customer, payee, 10_000, "USD", PaymentMethod.WALLET, text, splits)
    ).value
    app.settlement.advance(paid.id)
    app.refunds.refund_payment(CALLER, paid.id, 1_000, reason)
    rejected = PaymentRequest(customer, payee, 0, "XYZ", PaymentMethod.LEGACY, text)
    refused = app.payments.create_payment(CALLER, rejected).value
    declined = card_payment(app, customer, payee, text, DECLINED_CARD)
    app.settlement.advance(declined)
    card_paid = card_payment(app, customer, payee, text, GOOD_CARD)
    app.settlement.advance(card_paid)
    refuse_a_refund(app, card_paid, reason)
    card = Card(GOOD_CARD, 12, 2030)
    charge = ChargeRequest(customer, payee, Money(150_000, "USD"), card, description=text)
    charged = app.charges.create_charge(CALLER, charge).value
    return [paid.id, refused.id, declined, card_paid, charged.id]


def card_payment(app: App, customer: str, payee: str, text: str, number: str) -> UUID:
    request = PaymentRequest(
        customer, payee, 2_000, "USD", PaymentMethod.CARD, text, card=Card(number, 12, 2030)
    )
    return app.payments.create_payment(CALLER, request).value.id


def refuse_a_refund(app: App, payment_id: UUID, reason: str) -> None:
    """A refund the gateway refuses (`RefundRequested`, then `RefundFailed`)."""
    key = f"refund {payment_id}"
    refund_id = command_id(CALLER.idempotency_scope, key)
    assert isinstance(app.refunds.gateway, CountingGateway)
    app.refunds.gateway.script_refund(str(refund_id), fail("REFUND_REFUSED"))
    with pytest.raises(GatewayRefundFailedError):
        app.refunds.refund_payment(CALLER, payment_id, 500, reason, idempotency_key=key)


def project(ledger: Ledger, database: Callable[[], ViewDatabase]) -> tuple[Any, Any]:
    ledger_view: LedgerViewRecorder = open_ledger_view(database(), application_name=APP)
    payments_view: PaymentsViewRecorder = open_payments_view(database(), application_name=APP)
    ProjectionRunner(ledger, LedgerProjection(view=ledger_view)).catch_up()
    ProjectionRunner(ledger, PaymentsProjection(view=payments_view)).catch_up()
    return ledger_view, payments_view


def test_hostile_text_in_every_event_type_reads_back_unchanged_from_every_view(
    backend: Backend,
) -> None:
    ledger = Ledger(env={**backend.ledger_env, "MAPPER_TOPIC": MAPPER_TOPIC})
    app = make_app(SystemClock(), CountingGateway(), ledger=ledger)
    try:
        app.wallets.open_wallet(CALLER, PEER, "USD")
        made: dict[str, tuple[str, list[UUID]]] = {}
        for customer, text in zip(HOSTILE_IDS, [*HOSTILE_TEXT, *HOSTILE_TEXT], strict=False):
            assert len(customer) <= CUSTOMER_ID_LENGTH_MAX
            made[customer] = (text, drive(app, customer, text))

        recorded = {type(event) for _, event in read_log(app)}
        assert len(all_event_types()) == EVENT_TYPES
        assert all_event_types() - recorded == set(), "an event type went untested"

        ledger_view, payments_view = project(ledger, backend.open_database)
        try:
            assert ledger_view.position() == payments_view.position() == ledger.log_position()
            check_ledger_view(ledger_view, made)
            check_payments_view(payments_view, made)
        finally:
            ledger_view.close()
            payments_view.close()
    finally:
        ledger.close()


def check_ledger_view(view: LedgerViewRecorder, made: dict[str, tuple[str, list[UUID]]]) -> None:
    accounts = {row.account for row in view.balances()}
    for customer, (text, _) in made.items():
        [wallet] = view.wallets_of(customer)
        assert wallet.customer_id == customer
        entries = view.statement(wallet.id, None, 50)
        descriptions = {entry.description for entry in entries}
        assert text in descriptions  # the credit, debit and transfer
        assert f"wallet:{customer}" in accounts
        assert f"payable:{text[:PARTY_LENGTH_MAX]}" in accounts


def check_payments_view(
    view: PaymentsViewRecorder, made: dict[str, tuple[str, list[UUID]]]
) -> None:
    for customer, (text, payments) in made.items():
        rows = view.list_payments(None, customer, None, None, None, 50)
        assert {row.id for row in rows} == set(payments)
        for row in rows:
            assert (row.payer_id, row.recipient) == (customer, text[:PARTY_LENGTH_MAX])
