"""Helpers for application tests: an in-memory Ledger, and readers of its log and state."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from application.ledger import Ledger
from application.ports import Clock
from domain.journal import JournalTransaction, Posting

MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
POPO_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "MAPPER_TOPIC": MAPPER_TOPIC,
    # eventsourcing looks up `PAYLEDGER_<KEY>` before `<KEY>`, and os.environ is merged in:
    # pin the prefixed keys too, so a developer's shell can never send unit tests to a database.
    "PAYLEDGER_PERSISTENCE_MODULE": "eventsourcing.popo",
    "PAYLEDGER_MAPPER_TOPIC": MAPPER_TOPIC,
}

LOG_PAGE_SIZE = 500
LOG_PAGES_MAX = 10_000


def make_ledger(clock: Clock) -> Ledger:
    """A Ledger on the in-memory event store with the msgspec mapper."""
    return Ledger(env=POPO_ENV, clock=clock)


def log_position(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def read_log(ledger: Ledger, after: int = 0) -> list[tuple[int, Any]]:
    """Every (position, domain event) after `after`, in log order."""
    events: list[tuple[int, Any]] = []
    for _ in range(LOG_PAGES_MAX):
        page = ledger.recorder.select_notifications(start=after + 1, limit=LOG_PAGE_SIZE)
        if not page:
            return events
        for notification in page:
            events.append((notification.id, ledger.mapper.to_domain_event(notification)))
            after = notification.id
    raise AssertionError("the log is longer than the test expects")


def journal_postings(ledger: Ledger) -> list[Posting]:
    """Every posting of every journal transaction in the log."""
    return [
        posting
        for _, event in read_log(ledger)
        if isinstance(event, JournalTransaction.Recorded)
        for posting in event.postings
    ]


def replayed_balances(ledger: Ledger) -> dict[UUID, int]:
    """Account balances folded from the journal alone (wallets and system accounts)."""
    totals: dict[UUID, int] = defaultdict(int)
    for posting in journal_postings(ledger):
        totals[posting.account_id] += posting.amount_minor
    return dict(totals)


def count_events(ledger: Ledger, event_class: type) -> int:
    return sum(isinstance(event, event_class) for _, event in read_log(ledger))


def wallet_state(ledger: Ledger, customer_id: str, currency: str) -> tuple[int, int, int, int]:
    """(balance, held, available, version) of a wallet, straight from the event store."""
    wallet = ledger.get_wallet(customer_id, currency)
    return wallet.balance, wallet.held, wallet.available, wallet.version


def ledger_state(ledger: Ledger, *wallets: tuple[str, str]) -> tuple[object, ...]:
    """What a failed command must leave untouched: the log position and the wallets."""
    return (log_position(ledger), *(wallet_state(ledger, *wallet) for wallet in wallets))
