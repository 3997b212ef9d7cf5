"""Helpers for application tests: the real use cases on an in-memory log, and readers of
the log and of state."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from adapters.fingerprint import HmacFingerprinter
from application.charges import ChargeService
from application.holds import HoldService
from application.ledger import Ledger
from application.payments import PaymentRules, PaymentService
from application.ports.clock import Clock
from application.ports.fingerprint import Fingerprinter
from application.ports.gateway import LegacyGateway, PaymentGateway
from application.principal import Principal
from application.refunds import RefundService
from application.runner import CommandRunner
from application.settlement import PaymentSettlement
from application.wallets import WalletService
from domain.journal import JournalTransaction, Posting
from domain.user import UserRole

MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
POPO_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "MAPPER_TOPIC": MAPPER_TOPIC,
    # eventsourcing looks up `PAYLEDGER_<KEY>` before `<KEY>`, and os.environ is merged in:
    # pin the prefixed keys too, so a developer's shell can never send unit tests to a database.
    "PAYLEDGER_PERSISTENCE_MODULE": "eventsourcing.popo",
    "PAYLEDGER_MAPPER_TOPIC": MAPPER_TOPIC,
}

# The caller of the use cases in unit tests (its scope is the empty string, as before).
# An admin (acts for every customer): the use cases' own rules are what these tests check;
# access control has its own tests.
CALLER = Principal("", frozenset({UserRole.ADMIN}))

# The secret of the fingerprints unit tests make (a real HMAC, a test key).
TEST_FINGERPRINT_SECRET = b"unit-test-card-fingerprint-secret"

LOG_PAGE_SIZE = 500
LOG_PAGES_MAX = 10_000


@dataclass
class App:
    """The use cases wired as the composition root wires them, on one in-memory log."""

    ledger: Ledger
    runner: CommandRunner
    wallets: WalletService
    holds: HoldService
    payments: PaymentService
    settlement: PaymentSettlement
    refunds: RefundService
    charges: ChargeService
    clock: Clock
    legacy: LegacyGateway
    fingerprinter: Fingerprinter


def make_ledger(env: dict[str, str] | None = None) -> Ledger:
    """A Ledger on the in-memory event store with the msgspec mapper."""
    return Ledger(env=env or POPO_ENV)


def make_app(
    clock: Clock,
    gateway: PaymentGateway | None = None,
    rules: PaymentRules | None = None,
    ledger: Ledger | None = None,
    legacy: LegacyGateway | None = None,
    fingerprinter: Fingerprinter | None = None,
) -> App:
    """The application on `ledger` (a new in-memory one by default); legacy payments go to
    `legacy` (a counting gateway of their own by default)."""
    from tests.unit.application.payment_fakes import CountingGateway

    ledger = ledger or make_ledger()
    gateway = gateway or CountingGateway()
    legacy = legacy or CountingGateway()
    fingerprinter = fingerprinter or HmacFingerprinter(TEST_FINGERPRINT_SECRET)
    runner = CommandRunner(ledger, clock)
    settlement = PaymentSettlement(runner, gateway, legacy)
    return App(
        ledger=ledger,
        runner=runner,
        wallets=WalletService(runner),
        holds=HoldService(runner),
        payments=PaymentService(runner, gateway, rules or PaymentRules(), fingerprinter),
        settlement=settlement,
        refunds=RefundService(runner, gateway, legacy),
        charges=ChargeService(runner, gateway, settlement, fingerprinter),
        clock=clock,
        legacy=legacy,
        fingerprinter=fingerprinter,
    )


def log_position(app: App) -> int:
    return app.ledger.log_position() or 0


def read_log(app: App, after: int = 0) -> list[tuple[int, Any]]:
    """Every (position, domain event) after `after`, in log order."""
    ledger = app.ledger
    events: list[tuple[int, Any]] = []
    for _ in range(LOG_PAGES_MAX):
        page = ledger.recorder.select_notifications(start=after + 1, limit=LOG_PAGE_SIZE)
        if not page:
            return events
        for notification in page:
            events.append((notification.id, ledger.mapper.to_domain_event(notification)))
            after = notification.id
    raise AssertionError("the log is longer than the test expects")


def journal_postings(app: App) -> list[Posting]:
    """Every posting of every journal transaction in the log."""
    return [
        posting
        for _, event in read_log(app)
        if isinstance(event, JournalTransaction.Recorded)
        for posting in event.postings
    ]


def replayed_balances(app: App) -> dict[UUID, int]:
    """Account balances folded from the journal alone (wallets and system accounts)."""
    totals: dict[UUID, int] = defaultdict(int)
    for posting in journal_postings(app):
        totals[posting.account_id] += posting.amount_minor
    return dict(totals)


def count_events(app: App, event_class: type) -> int:
    return sum(isinstance(event, event_class) for _, event in read_log(app))


def wallet_state(app: App, customer_id: str, currency: str) -> tuple[int, int, int, int]:
    """(balance, held, available, version) of a wallet, straight from the event store."""
    wallet = app.wallets.get_wallet(CALLER, customer_id, currency)
    return wallet.balance, wallet.held, wallet.available, wallet.version


def ledger_state(app: App, *wallets: tuple[str, str]) -> tuple[object, ...]:
    """What a failed command must leave untouched: the log position and the wallets."""
    return (log_position(app), *(wallet_state(app, *wallet) for wallet in wallets))


def caller(scope: str) -> Principal:
    """An admin whose idempotency keys live in `scope`."""
    return Principal(scope, frozenset({UserRole.ADMIN}))
