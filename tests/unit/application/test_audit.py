"""The audit folds and the hash chain on an in-memory log: replay equals live state, and
verification flags what does not add up."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from adapters.eventstore.audit_log import NotificationAuditLog
from application.audit.chain import GENESIS, link_of
from application.audit.replay import AuditReplay
from application.audit.service import AuditService
from application.audit.verify import CONSERVATION, PAYMENTS, Verifier
from application.errors import AccountNotFoundError, ForbiddenError, PaymentNotFoundError
from application.payments import PaymentRequest
from application.ports.audit_log import Row, StoredRecord
from application.principal import Principal
from domain.ids import system_account_id, wallet_id
from domain.journal import EXTERNAL_FUNDING
from domain.payment_terms import PaymentMethod, PaymentStatus
from domain.user import UserRole
from tests.unit.application.support import CALLER, App, log_position

pytestmark = pytest.mark.unit


def pay(app: App, amount: int, method: PaymentMethod = PaymentMethod.WALLET) -> UUID:
    request = PaymentRequest(
        payer_id="alice",
        recipient="school",
        amount_minor=amount,
        currency="USD",
        method=method,
        description="fees",
    )
    payment = app.payments.create_payment(CALLER, request).value
    app.settlement.advance(payment.id)
    return payment.id


@pytest.fixture
def busy(app: App) -> App:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 10_000, "USD")
    app.wallets.transfer(CALLER, "alice", "bob", 2_000, "USD")
    return app


def test_replayed_balances_equal_the_live_wallets_at_every_position(busy: App) -> None:
    replay = AuditReplay(NotificationAuditLog(busy.ledger.recorder), page_size=3)
    alice = wallet_id("alice", "USD")
    history = replay.account_as_of(alice).entries
    payment_id = pay(busy, 1_500)

    now = replay.account_as_of(alice)

    assert [e.balance_after for e in history] == [10_000, 8_000]
    for entry in history:
        assert replay.account_as_of(alice, position=entry.position).balance == entry.balance_after
        assert replay.account_as_of(alice, at=entry.posted_at).balance == entry.balance_after
    assert now.balance == busy.wallets.get_wallet(CALLER, "alice", "USD").balance == 6_500
    assert replay.account_as_of(alice, position=history[0].position - 1).entries_total == 0
    assert replay.payment_as_of(payment_id).status == PaymentStatus.SUCCESS


def test_a_system_account_is_replayed_from_the_journal(busy: App) -> None:
    busy.wallets.credit_wallet(CALLER, "bob", 700, "USD")
    replay = AuditReplay(NotificationAuditLog(busy.ledger.recorder))

    funding = replay.account_as_of(system_account_id(EXTERNAL_FUNDING, "USD"))

    assert (funding.account, funding.balance) == ("system:external_funding", -10_700)
    assert [e.amount for e in funding.entries] == [-10_000, -700]


def test_a_payment_is_replayed_through_its_refunds(busy: App) -> None:
    payment_id = pay(busy, 3_000)
    paid = log_position(busy)
    busy.refunds.refund_payment(CALLER, payment_id, 1_000)
    busy.refunds.refund_payment(CALLER, payment_id)
    replay = AuditReplay(NotificationAuditLog(busy.ledger.recorder))

    then = replay.payment_as_of(payment_id, position=paid)
    now = replay.payment_as_of(payment_id)

    assert (then.status, then.captured, then.refunded) == (PaymentStatus.SUCCESS, 3_000, 0)
    assert [s.status for s in now.history][-2:] == [
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    ]
    assert (now.refunded, [p.kind for p in now.postings]) == (
        3_000,
        ["payment", "refund", "refund"],
    )


def test_unknown_ids_are_not_found(app: App) -> None:
    replay = AuditReplay(NotificationAuditLog(app.ledger.recorder))
    with pytest.raises(AccountNotFoundError):
        replay.account_as_of(uuid4())
    with pytest.raises(PaymentNotFoundError):
        replay.payment_as_of(uuid4())


def test_events_pages_follow_the_log_without_gaps_or_repeats(busy: App) -> None:
    replay = AuditReplay(NotificationAuditLog(busy.ledger.recorder))
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = replay.events(after=after, limit=2)
        seen += [e.position for e in page.events]
        after = page.next_after

    assert seen == list(range(1, log_position(busy) + 1))
    assert [e.position for page in replay.stream() for e in page] == seen


def test_a_clean_log_verifies(busy: App) -> None:
    payment_id = pay(busy, 1_000)
    busy.refunds.refund_payment(CALLER, payment_id, 250)

    report = Verifier(NotificationAuditLog(busy.ledger.recorder), sample_every=1).run()

    assert report.ok, report.discrepancies
    assert report.events == log_position(busy)


class EditedLog(NotificationAuditLog):
    """The in-memory log with one stored event's bytes replaced on the way out."""

    def __init__(self, app: App, position: int, old: bytes, new: bytes) -> None:
        super().__init__(app.ledger.recorder)
        self._edit = (position, old, new)

    def records(self, after: int, upto: int | None, limit: int) -> list[Row]:
        position, old, new = self._edit
        return [
            (*r[:4], r[4].replace(old, new)) if r[0] == position else r  # type: ignore[misc]
            for r in super().records(after, upto, limit)
        ]


def test_an_unbalanced_journal_and_a_payment_without_its_capture_are_flagged(
    busy: App,
) -> None:
    payment_id = pay(busy, 1_000)
    journal = next(
        StoredRecord(*r)
        for r in NotificationAuditLog(busy.ledger.recorder).records(0, None, 100)
        if r[3].endswith("JournalTransaction.Recorded") and str(payment_id).encode() in r[4]
    )

    edited = EditedLog(busy, journal.position, b'"amount_minor":1000,', b'"amount_minor":1001,')
    report = Verifier(edited).run()

    found = {(d.check, d.position) for d in report.discrepancies}
    assert (CONSERVATION, journal.position) in found
    assert any(check == PAYMENTS for check, _ in found)
    assert not report.ok


def test_a_link_covers_the_previous_link_and_every_stored_field() -> None:
    args = (GENESIS, 7, UUID(int=1).bytes, 2, "a:B", b'{"x":1}')
    base = link_of(*args)

    assert len(base) == 32
    for changed in (
        (b"\x01" * 32, 7, UUID(int=1).bytes, 2, "a:B", b'{"x":1}'),
        (GENESIS, 8, UUID(int=1).bytes, 2, "a:B", b'{"x":1}'),
        (GENESIS, 7, UUID(int=2).bytes, 2, "a:B", b'{"x":1}'),
        (GENESIS, 7, UUID(int=1).bytes, 3, "a:B", b'{"x":1}'),
        (GENESIS, 7, UUID(int=1).bytes, 2, "a:C", b'{"x":1}'),
        (GENESIS, 7, UUID(int=1).bytes, 2, "a:B", b'{"x":2}'),
    ):
        assert link_of(*changed) != base


def test_customers_may_not_audit(busy: App) -> None:
    service = AuditService(NotificationAuditLog(busy.ledger.recorder), None, None, None)  # type: ignore[arg-type]
    customer = Principal("alice", frozenset({UserRole.CUSTOMER}))
    auditor = Principal("audrey", frozenset({UserRole.AUDITOR}))

    with pytest.raises(ForbiddenError):
        service.events(customer)
    with pytest.raises(ForbiddenError):
        service.account_as_of(customer, wallet_id("alice", "USD"))
    assert service.account_as_of(auditor, wallet_id("alice", "USD")).balance == 8_000
