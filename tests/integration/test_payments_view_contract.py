"""One contract for the payments read model on every backend: in memory, SQLite and
PostgreSQL.

Each test runs against all three; the end-to-end tests then run the real
`PaymentsProjection` over payments made through a real `PaymentService` on each SQL backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.clock import SystemClock
from adapters.views.factory import open_payments_view, open_view_database
from application.ledger import Ledger
from application.payment_projection import PaymentsProjection
from application.payments import PaymentRequest, PaymentRules
from application.ports.gateway import (
    CARD_DECLINED,
    PROCESSING_ERROR,
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    RefundRequest,
    RefundResult,
)
from application.ports.views import PaymentsViewRecorder
from application.projection_runner import ProjectionRunner
from application.results import CurrencyAmounts, Payment, PaymentRow, Summary
from domain.payment import CREATED, FAILED, PARTIALLY_REFUNDED, PROCESSING, REFUNDED, SUCCESS
from domain.payment import Payment as PaymentAggregate
from domain.payment_terms import (
    FRAUD_SUSPECTED,
    INSUFFICIENT_FUNDS,
    INVALID_AMOUNT,
    PaymentMethod,
    PaymentStatus,
)
from domain.splits import Split
from tests.support.services import POSTGRES, postgres_schema
from tests.support.views import postgres_connection
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration

APP = "payledger"
MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
TIMEOUT_S = 5.0
PAGE_SIZE_MAX = 1000
LOG_PAGES_MAX = 1000

P1, P2, P3, P4, P5, P6, P7, P8 = (
    UUID(f"00000000-0000-4000-8000-00000000000{i}") for i in range(1, 9)
)
UNKNOWN = UUID("00000000-0000-4000-8000-0000000000ff")


# Backends.


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def view(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PaymentsViewRecorder]:
    if request.param == "memory":
        memory_view = open_payments_view(open_view_database("memory"), application_name=APP)
        yield memory_view
        memory_view.close()
    elif request.param == "sqlite":
        sqlite_database = open_view_database("sqlite", sqlite_path=tmp_path / "view.db")
        sqlite_view = open_payments_view(sqlite_database, application_name=APP)
        yield sqlite_view
        sqlite_view.close()
    else:
        with postgres_schema() as schema:
            pg_database = open_view_database("postgres", postgres=postgres_connection(schema))
            pg_view = open_payments_view(pg_database, application_name=APP)
            try:
                yield pg_view
            finally:
                pg_view.close()


def _t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _all(view: PaymentsViewRecorder, **filters: Any) -> list[PaymentRow]:
    arguments: dict[str, Any] = {
        "status": None,
        "payer_id": None,
        "created_from": None,
        "created_to": None,
        "before_position": None,
        "limit": PAGE_SIZE_MAX,
        **filters,
    }
    return view.list_payments(**arguments)


def _ids(rows: list[PaymentRow]) -> list[UUID]:
    return [row.id for row in rows]


def _state(view: PaymentsViewRecorder) -> tuple[Any, ...]:
    """Everything the view shows, to assert that a failed write changed nothing."""
    return (_all(view), view.summary(), view.position())


def _create(
    view: PaymentsViewRecorder,
    payment_id: UUID,
    position: int,
    payer_id: str = "alice",
    amount: int = 1000,
    currency: str = "EUR",
    method: str = "card",
) -> None:
    view.record_payment_created(
        payment_id,
        payer_id,
        f"shop-{payer_id}",
        amount,
        currency,
        method,
        _t(position),
        Tracking(APP, position),
    )


def _status(
    view: PaymentsViewRecorder, payment_id: UUID, status: str, position: int, reason: str | None
) -> None:
    view.record_status_changed(payment_id, status, reason, _t(position), Tracking(APP, position))


def _captured(view: PaymentsViewRecorder, payment_id: UUID, amount: int, position: int) -> None:
    view.record_payment_captured(payment_id, amount, _t(position), Tracking(APP, position))


def _refunded(view: PaymentsViewRecorder, payment_id: UUID, amount: int, position: int) -> None:
    view.record_payment_refunded(payment_id, amount, _t(position), Tracking(APP, position))


def _populate(view: PaymentsViewRecorder) -> None:
    """Eight payments in every status, two currencies and four payers (positions 1-24).

    P1 SUCCESS alice EUR 1000      P5 REFUNDED dave EUR 300 (two refunds)
    P2 FAILED bob EUR 2500 declined P6 CREATED alice EUR 400
    P3 PARTIALLY_REFUNDED alice USD P7 PROCESSING bob USD 900
    P4 FAILED carol EUR 50 fraud    P8 FAILED erin EUR 60 declined
    """
    _create(view, P1, 1, "alice", 1000, "EUR", "wallet")
    _create(view, P2, 2, "bob", 2500, "EUR")
    _create(view, P3, 3, "alice", 700, "USD")
    _create(view, P4, 4, "carol", 50, "EUR")
    _status(view, P1, PROCESSING, 5, None)
    _captured(view, P1, 1000, 6)
    _status(view, P2, PROCESSING, 7, None)
    _status(view, P2, FAILED, 8, CARD_DECLINED)
    _status(view, P3, PROCESSING, 9, None)
    _captured(view, P3, 700, 10)
    _refunded(view, P3, 200, 11)
    _status(view, P4, FAILED, 12, FRAUD_SUSPECTED)
    view.insert_tracking(Tracking(APP, 13))
    _create(view, P5, 14, "dave", 300, "EUR", "wallet")
    _status(view, P5, PROCESSING, 15, None)
    _captured(view, P5, 300, 16)
    _refunded(view, P5, 100, 17)
    _refunded(view, P5, 200, 18)
    _create(view, P6, 19, "alice", 400, "EUR")
    _create(view, P7, 20, "bob", 900, "USD")
    _status(view, P7, PROCESSING, 21, None)
    _create(view, P8, 22, "erin", 60, "EUR")
    _status(view, P8, PROCESSING, 23, None)
    _status(view, P8, FAILED, 24, CARD_DECLINED)


# The contract: rows.


def test_a_created_payment_is_listed_with_its_details(view: PaymentsViewRecorder) -> None:
    _create(view, P1, 3, "alice", 1234, "USD", "wallet")

    assert _all(view) == [
        PaymentRow(
            id=P1,
            status=CREATED,
            amount=1234,
            currency="USD",
            payer_id="alice",
            recipient="shop-alice",
            method="wallet",
            failure_reason=None,
            refunded=0,
            created_at=_t(3),
            updated_at=_t(3),
            position=3,
        )
    ]
    assert view.position() == 3


def test_each_transition_updates_status_reason_and_time(view: PaymentsViewRecorder) -> None:
    _create(view, P1, 1, amount=1000)
    seen: list[tuple[str, str | None, int, datetime]] = []

    def step(write: Callable[[], None]) -> None:
        write()
        [row] = _all(view)
        assert (row.created_at, row.position, row.amount) == (_t(1), 1, 1000)
        seen.append((row.status, row.failure_reason, row.refunded, row.updated_at))

    step(lambda: _status(view, P1, PROCESSING, 2, None))
    step(lambda: _status(view, P1, FAILED, 3, PROCESSING_ERROR))
    step(lambda: _status(view, P1, PROCESSING, 5, None))  # a retry clears the reason
    step(lambda: _captured(view, P1, 1000, 6))
    step(lambda: _refunded(view, P1, 300, 8))
    step(lambda: _refunded(view, P1, 699, 9))
    step(lambda: _refunded(view, P1, 1, 10))

    assert seen == [
        (PROCESSING, None, 0, _t(2)),
        (FAILED, PROCESSING_ERROR, 0, _t(3)),
        (PROCESSING, None, 0, _t(5)),
        (SUCCESS, None, 0, _t(6)),
        (PARTIALLY_REFUNDED, None, 300, _t(8)),
        (PARTIALLY_REFUNDED, None, 999, _t(9)),
        (REFUNDED, None, 1000, _t(10)),
    ]
    assert view.position() == 10


def test_a_payment_rejected_at_creation_is_failed_with_its_reason(
    view: PaymentsViewRecorder,
) -> None:
    _create(view, P1, 1, amount=5_000_000)
    _status(view, P1, FAILED, 2, FRAUD_SUSPECTED)

    [row] = _all(view)
    assert (row.status, row.failure_reason, row.updated_at) == (FAILED, FRAUD_SUSPECTED, _t(2))


def test_a_refund_completes_against_the_captured_amount(view: PaymentsViewRecorder) -> None:
    # The status compares refunds with what was captured, as the aggregate does.
    _create(view, P1, 1, amount=1000)
    _captured(view, P1, 800, 2)
    _refunded(view, P1, 800, 3)

    [row] = _all(view)
    assert (row.status, row.refunded) == (REFUNDED, 800)


# The contract: the list.


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [P8, P7, P6, P5, P4, P3, P2, P1]),
        ({"status": FAILED}, [P8, P4, P2]),
        ({"status": SUCCESS}, [P1]),
        ({"status": PARTIALLY_REFUNDED}, [P3]),
        ({"status": REFUNDED}, [P5]),
        ({"status": CREATED}, [P6]),
        ({"status": PROCESSING}, [P7]),
        ({"payer_id": "alice"}, [P6, P3, P1]),
        ({"payer_id": "nobody"}, []),
        ({"payer_id": "alice", "status": SUCCESS}, [P1]),
        ({"created_from": _t(3), "created_to": _t(19)}, [P5, P4, P3]),  # half-open
        ({"created_from": _t(19)}, [P8, P7, P6]),
        ({"created_to": _t(2)}, [P1]),
        ({"created_from": _t(5), "created_to": _t(5)}, []),
        ({"payer_id": "alice", "created_from": _t(2)}, [P6, P3]),
        ({"status": FAILED, "before_position": 22}, [P4, P2]),
        ({"before_position": 1}, []),
        ({"status": FAILED, "payer_id": "bob", "created_to": _t(3)}, [P2]),
        ({"limit": 2}, [P8, P7]),
        ({"limit": 0}, []),
    ],
)
def test_lists_payments_newest_first_with_filters(
    view: PaymentsViewRecorder, filters: dict[str, Any], expected: list[UUID]
) -> None:
    _populate(view)

    assert _ids(_all(view, **filters)) == expected


def test_the_time_filters_compare_instants_in_any_time_zone(view: PaymentsViewRecorder) -> None:
    _populate(view)
    created_from = _t(3).astimezone(timezone(timedelta(hours=2)))
    created_to = _t(19).astimezone(timezone(timedelta(hours=-5)))

    rows = _all(view, created_from=created_from, created_to=created_to)

    assert _ids(rows) == [P5, P4, P3]
    assert rows[-1].created_at == _t(3)


def test_refuses_a_time_filter_without_a_time_zone(view: PaymentsViewRecorder) -> None:
    _populate(view)

    with pytest.raises(ValueError):
        _all(view, created_from=datetime(2026, 1, 2))
    with pytest.raises(ValueError):
        _all(view, limit=-1)


def test_pages_through_the_list_by_position(view: PaymentsViewRecorder) -> None:
    _populate(view)
    pages: list[list[UUID]] = []
    before = None
    for _ in range(10):  # bounded: 8 payments in pages of 3 take 3 pages, then an empty one
        page = _all(view, before_position=before, limit=3)
        pages.append(_ids(page))
        if not page:
            break
        before = page[-1].position

    assert pages == [[P8, P7, P6], [P5, P4, P3], [P2, P1], []]


def test_rows_show_the_state_each_payment_reached(view: PaymentsViewRecorder) -> None:
    _populate(view)

    rows = {row.id: row for row in _all(view)}
    assert {p: (r.status, r.failure_reason, r.refunded) for p, r in rows.items()} == {
        P1: (SUCCESS, None, 0),
        P2: (FAILED, CARD_DECLINED, 0),
        P3: (PARTIALLY_REFUNDED, None, 200),
        P4: (FAILED, FRAUD_SUSPECTED, 0),
        P5: (REFUNDED, None, 300),
        P6: (CREATED, None, 0),
        P7: (PROCESSING, None, 0),
        P8: (FAILED, CARD_DECLINED, 0),
    }
    assert [rows[p].updated_at for p in (P1, P5, P6)] == [_t(6), _t(18), _t(19)]
    assert [rows[p].position for p in (P1, P5, P8)] == [1, 14, 22]


# The contract: the summary.


def test_an_empty_view_summarises_to_zeros(view: PaymentsViewRecorder) -> None:
    assert view.summary() == Summary(
        total=0,
        success=0,
        failed=0,
        refunded=0,
        failure_reasons={},
        by_status=dict.fromkeys(tuple(PaymentStatus), 0),
        amounts=[],
    )


def test_summarises_counts_reasons_and_amounts_per_currency(view: PaymentsViewRecorder) -> None:
    _populate(view)

    summary = view.summary()

    assert summary == Summary(
        total=8,
        success=2,  # SUCCESS and PARTIALLY_REFUNDED
        failed=3,
        refunded=1,
        failure_reasons={CARD_DECLINED: 2, FRAUD_SUSPECTED: 1},
        by_status={
            CREATED: 1,
            PROCESSING: 1,
            SUCCESS: 1,
            FAILED: 3,
            PARTIALLY_REFUNDED: 1,
            REFUNDED: 1,
        },
        amounts=[
            CurrencyAmounts(
                "EUR",
                by_status={
                    CREATED: 400,
                    PROCESSING: 0,
                    SUCCESS: 1000,
                    FAILED: 2610,
                    PARTIALLY_REFUNDED: 0,
                    REFUNDED: 300,
                },
                captured=1300,
                refunded=300,
            ),
            CurrencyAmounts(
                "USD",
                by_status={
                    CREATED: 0,
                    PROCESSING: 900,
                    SUCCESS: 0,
                    FAILED: 0,
                    PARTIALLY_REFUNDED: 700,
                    REFUNDED: 0,
                },
                captured=700,
                refunded=200,
            ),
        ],
    )
    # Most frequent reason first, as the seed's summary shows them.
    assert list(summary.failure_reasons) == [CARD_DECLINED, FRAUD_SUSPECTED]
    assert list(summary.by_status) == list(PaymentStatus)


def test_a_retried_payment_counts_once_by_its_latest_status(view: PaymentsViewRecorder) -> None:
    _create(view, P1, 1, amount=100)
    _status(view, P1, PROCESSING, 2, None)
    _status(view, P1, FAILED, 3, PROCESSING_ERROR)
    _status(view, P1, PROCESSING, 4, None)
    _captured(view, P1, 100, 5)

    summary = view.summary()
    assert (summary.total, summary.success, summary.failed, summary.failure_reasons) == (
        1,
        1,
        0,
        {},
    )


# The contract: exactly once, all or nothing.

_WRITES: dict[str, Callable[[PaymentsViewRecorder, Tracking], None]] = {
    "created": lambda v, t: v.record_payment_created(
        UNKNOWN, "zoe", "shop", 10, "EUR", "card", _t(99), t
    ),
    "status_changed": lambda v, t: v.record_status_changed(P6, FAILED, "X", _t(99), t),
    "captured": lambda v, t: v.record_payment_captured(P7, 900, _t(99), t),
    "refunded": lambda v, t: v.record_payment_refunded(P3, 500, _t(99), t),
    "tracking_only": lambda v, t: v.insert_tracking(t),
}


@pytest.mark.parametrize("write", sorted(_WRITES))
@pytest.mark.parametrize("notification_id", [24, 13], ids=["repeated", "older"])
def test_rejects_a_tracked_event_again_and_changes_nothing(
    view: PaymentsViewRecorder, write: str, notification_id: int
) -> None:
    _populate(view)
    before = _state(view)

    with pytest.raises(IntegrityError):
        _WRITES[write](view, Tracking(APP, notification_id))

    assert _state(view) == before


@pytest.mark.parametrize("write", ["status_changed", "captured", "refunded"])
def test_rejects_a_change_to_an_unknown_payment_and_changes_nothing(
    view: PaymentsViewRecorder, write: str
) -> None:
    _create(view, P1, 1)
    before = _state(view)
    writes: dict[str, Callable[[Tracking], None]] = {
        "status_changed": lambda t: view.record_status_changed(UNKNOWN, FAILED, "X", _t(2), t),
        "captured": lambda t: view.record_payment_captured(UNKNOWN, 10, _t(2), t),
        "refunded": lambda t: view.record_payment_refunded(UNKNOWN, 10, _t(2), t),
    }

    with pytest.raises(LookupError):
        writes[write](Tracking(APP, 2))

    assert _state(view) == before
    assert view.position() == 1


def test_rejects_a_payment_created_twice_and_changes_nothing(view: PaymentsViewRecorder) -> None:
    _create(view, P1, 1)
    before = _state(view)

    with pytest.raises(IntegrityError):
        _create(view, P1, 2, payer_id="mallory")

    assert _state(view) == before


def test_a_batch_commits_all_its_writes_together(view: PaymentsViewRecorder) -> None:
    with view.batch():
        _populate(view)
        _refunded(view, P3, 500, 25)

    assert view.position() == 25
    assert view.summary().refunded == 2
    assert _ids(_all(view, status=REFUNDED)) == [P5, P3]


def test_a_failing_batch_changes_nothing(view: PaymentsViewRecorder) -> None:
    _populate(view)
    before = _state(view)

    def failing_batch() -> None:
        with view.batch():
            _create(view, UNKNOWN, 25, "zoe")
            _captured(view, P7, 900, 26)
            _refunded(view, P3, 500, 27)
            # Position 27 is tracked already: the whole batch must roll back.
            _status(view, P6, FAILED, 27, "X")

    with pytest.raises(IntegrityError):
        failing_batch()

    assert _state(view) == before


# The contract: position, waiting, reset.


def test_position_follows_tracking_and_wait_for_times_out_quickly(
    view: PaymentsViewRecorder,
) -> None:
    assert view.position() is None
    started = time.monotonic()
    assert view.wait_for(1, timeout_s=0.05) is False
    assert 0.05 <= time.monotonic() - started < 1.0
    assert view.wait_for(1, timeout_s=0) is False

    _create(view, P1, 3)
    view.insert_tracking(Tracking(APP, 5))
    view.insert_tracking(Tracking("another_application", 99))

    assert view.position() == 5
    assert view.wait_for(3, timeout_s=0) is True
    assert view.wait_for(5, timeout_s=0) is True
    started = time.monotonic()
    assert view.wait_for(6, timeout_s=0.05) is False
    assert time.monotonic() - started < 1.0


def test_wait_for_returns_once_the_position_is_reached(view: PaymentsViewRecorder) -> None:
    view.insert_tracking(Tracking(APP, 1))
    writer = threading.Timer(0.1, view.insert_tracking, args=(Tracking(APP, 7),))
    started = time.monotonic()
    writer.start()
    try:
        assert view.wait_for(7, timeout_s=TIMEOUT_S) is True
    finally:
        writer.join(TIMEOUT_S)
    assert 0.1 <= time.monotonic() - started < TIMEOUT_S
    assert view.position() == 7


def test_reset_empties_the_view_and_forgets_the_position(view: PaymentsViewRecorder) -> None:
    _populate(view)

    view.reset()

    assert _all(view) == []
    assert view.summary().total == 0
    assert view.position() is None
    # The log can be projected again from its start.
    _create(view, P1, 1)
    assert _ids(_all(view)) == [P1]
    assert view.position() == 1


# The real projection over payments made through the real service, on each SQL backend.

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
FLAKY_CARD = "4000000000000119"
SILENT_CARD = "4000000000003220"


class _ScriptedGateway:
    """A tiny card processor: cards ending 0002 are declined, 0119 fail transiently, 3220
    never answer (the payment stays PROCESSING); any other card pays; refunds succeed."""

    name = "scripted"

    def tokenize(self, card: Card) -> CardToken:
        return CardToken(f"tok_{card.number[-4:]}", "visa", card.number[-4:])

    def charge(self, request: ChargeRequest) -> ChargeResult:
        last4 = request.token[-4:]
        if last4 == DECLINED_CARD[-4:]:
            return ChargeResult("failed", failure_code=CARD_DECLINED)
        if last4 == FLAKY_CARD[-4:]:
            return ChargeResult("failed", failure_code=PROCESSING_ERROR)
        if last4 == SILENT_CARD[-4:]:
            return ChargeResult("unknown", message="timed out")
        return ChargeResult("succeeded", reference=f"ch_{request.idempotency_key}")

    def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult("succeeded", reference=f"re_{request.idempotency_key}")

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        raise NotImplementedError


class _Backend:
    """A SQL backend for the end-to-end test: the ledger's settings and a view factory."""

    def __init__(
        self,
        ledger_env: dict[str, str],
        make_view: Callable[[], tuple[PaymentsViewRecorder, Callable[[], None]]],
    ):
        self.ledger_env = {**ledger_env, "MAPPER_TOPIC": MAPPER_TOPIC}
        self.make_view = make_view


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Backend]:
    if request.param == "sqlite":
        # The view shares the ledger's database file, as a deployment on SQLite would.
        db_name = str(tmp_path / "ledger.db")

        def make_sqlite_view() -> tuple[PaymentsViewRecorder, Callable[[], None]]:
            database = open_view_database("sqlite", sqlite_path=db_name)
            view = open_payments_view(database, application_name=APP)
            return view, view.close

        yield _Backend(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db_name},
            make_sqlite_view,
        )
    else:
        with postgres_schema() as schema:

            def make_pg_view() -> tuple[PaymentsViewRecorder, Callable[[], None]]:
                database = open_view_database("postgres", postgres=postgres_connection(schema))
                view = open_payments_view(database, application_name=APP)
                return view, view.close

            yield _Backend(POSTGRES.eventsourcing_env(schema), make_pg_view)


def _pay(
    service: App,
    payer_id: str,
    amount: int,
    currency: str,
    card_number: str | None = None,
    splits: tuple[Split, ...] = (),
) -> UUID:
    card = Card(card_number, 12, 2030) if card_number else None
    method = PaymentMethod.CARD if card else PaymentMethod.WALLET
    request = PaymentRequest(payer_id, "shop", amount, currency, method, splits=splits, card=card)
    return service.payments.create_payment(CALLER, request).value.id


def _drive(service: App, ledger: App) -> dict[UUID, str]:
    """Payments that end in every status; returns each one's expected status."""
    ledger.wallets.open_wallet(CALLER, "alice", "USD")
    ledger.wallets.credit_wallet(CALLER, "alice", 100_000, "USD")
    ledger.wallets.open_wallet(CALLER, "bob", "EUR")
    ledger.wallets.credit_wallet(CALLER, "bob", 500, "EUR")
    expected: dict[UUID, str] = {}

    split = _pay(
        service,
        "alice",
        25_000,
        "USD",
        splits=(Split("school", bps=9000), Split("platform", bps=1000)),
    )
    service.settlement.advance(split)
    service.refunds.refund_payment(CALLER, split, 10_001, "partial")
    service.refunds.refund_payment(CALLER, split)  # the rest
    expected[split] = REFUNDED
    partial = _pay(service, "alice", 3_000, "USD")
    service.settlement.advance(partial)
    service.refunds.refund_payment(CALLER, partial, 1_000)
    expected[partial] = PARTIALLY_REFUNDED
    card_paid = _pay(service, "carol", 5_000, "EUR", GOOD_CARD)
    service.settlement.advance(card_paid)
    expected[card_paid] = SUCCESS
    card_refunded = _pay(service, "carol", 700, "USD", GOOD_CARD)
    service.settlement.advance(card_refunded)
    service.refunds.refund_payment(CALLER, card_refunded)
    expected[card_refunded] = REFUNDED
    declined = _pay(service, "carol", 1_000, "EUR", DECLINED_CARD)
    service.settlement.advance(declined)
    expected[declined] = FAILED
    flaky = _pay(service, "dave", 1_500, "EUR", FLAKY_CARD)
    service.settlement.advance(flaky)
    service.payments.retry_payment(CALLER, flaky)
    service.settlement.advance(flaky)  # fails again: FAILED after two attempts
    expected[flaky] = FAILED
    silent = _pay(service, "dave", 800, "EUR", SILENT_CARD)
    service.settlement.advance(silent)
    expected[silent] = PROCESSING
    expected[_pay(service, "carol", 1_000_001, "USD", GOOD_CARD)] = FAILED  # fraud rule
    expected[_pay(service, "alice", 0, "USD")] = FAILED  # invalid amount
    broke = _pay(service, "bob", 600, "EUR")
    service.settlement.advance(broke)
    expected[broke] = FAILED  # insufficient funds
    expected[_pay(service, "alice", 100, "USD")] = CREATED  # not processed yet
    return expected


def _created_positions(ledger: App) -> dict[UUID, int]:
    """The log position of every payment's creation."""
    positions: dict[UUID, int] = {}
    start = 1
    for _ in range(LOG_PAGES_MAX):
        notifications = ledger.ledger.recorder.select_notifications(start, 100)
        if not notifications:
            return positions
        for notification in notifications:
            event = ledger.ledger.mapper.to_domain_event(notification)
            if isinstance(event, PaymentAggregate.Created):
                positions[event.originator_id] = notification.id
        start = notifications[-1].id + 1
    raise AssertionError("the log did not end")


def _expected_summary(payments: list[Payment]) -> Summary:
    """The summary folded straight from the payments, independently of any view."""
    by_status = {s: sum(p.status == s for p in payments) for s in tuple(PaymentStatus)}
    reasons: dict[str, int] = {}
    for payment in payments:
        if payment.status == FAILED and payment.failure_reason:
            reasons[payment.failure_reason] = reasons.get(payment.failure_reason, 0) + 1
    amounts = []
    for currency in sorted({p.currency for p in payments}):
        mine = [p for p in payments if p.currency == currency]
        amounts.append(
            CurrencyAmounts(
                currency,
                {s: sum(p.amount for p in mine if p.status == s) for s in tuple(PaymentStatus)},
                sum(p.captured for p in mine),
                sum(p.refunded for p in mine),
            )
        )
    return Summary(
        total=len(payments),
        success=by_status[SUCCESS] + by_status[PARTIALLY_REFUNDED],
        failed=by_status[FAILED],
        refunded=by_status[REFUNDED],
        failure_reasons=reasons,
        by_status=by_status,
        amounts=amounts,
    )


def _assert_view_matches(
    service: App, ledger: App, view: PaymentsViewRecorder, ids: list[UUID]
) -> None:
    positions = _created_positions(ledger)
    rows = _all(view)
    assert sorted(_ids(rows), key=str) == sorted(ids, key=str)
    assert [row.position for row in rows] == sorted((positions[i] for i in ids), reverse=True)
    payments = [service.payments.get_payment(CALLER, payment_id) for payment_id in ids]
    shown = {row.id: row for row in rows}
    for payment in payments:
        assert shown[payment.id] == PaymentRow(
            id=payment.id,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            payer_id=payment.payer_id,
            recipient=payment.recipient,
            method=payment.method,
            failure_reason=payment.failure_reason,
            refunded=payment.refunded,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            position=positions[payment.id],
        )
    assert view.summary() == _expected_summary(payments)


def test_projection_of_real_payments_matches_the_payments(backend: _Backend) -> None:
    ledger = make_app(SystemClock(), ledger=Ledger(env=backend.ledger_env))
    service = make_app(SystemClock(), _ScriptedGateway(), PaymentRules(), ledger=ledger.ledger)
    view, close_view = backend.make_view()
    try:
        expected = _drive(service, ledger)
        assert {i: service.payments.get_payment(CALLER, i).status for i in expected} == expected
        reasons = sorted(
            service.payments.get_payment(CALLER, i).failure_reason or "" for i in expected
        )
        assert [r for r in reasons if r] == sorted(
            [CARD_DECLINED, PROCESSING_ERROR, FRAUD_SUSPECTED, INVALID_AMOUNT, INSUFFICIENT_FUNDS]
        )
        runner = ProjectionRunner(ledger.ledger, PaymentsProjection(view=view), batch_size=7)
        last_id = ledger.ledger.recorder.max_notification_id()
        assert last_id is not None

        assert runner.catch_up() > 0
        assert view.position() == last_id
        _assert_view_matches(service, ledger, view, list(expected))
        assert runner.catch_up() == 0

        # Feeding an event again changes nothing: each event is applied once.
        before = _state(view)
        first = ledger.ledger.recorder.select_notifications(1, 1)[0]
        projection = PaymentsProjection(view=view)
        with pytest.raises(IntegrityError):
            projection.process_event(
                ledger.ledger.mapper.to_domain_event(first), Tracking(APP, first.id)
            )
        assert _state(view) == before

        # Later payments are picked up from the view's position; a fresh view instance on
        # the same tables (a restarted worker) carries on where the last one stopped.
        later = _pay(service, "alice", 50, "USD")
        service.settlement.advance(later)
        restarted, close_restarted = backend.make_view()
        try:
            assert restarted.position() == last_id
            again = ProjectionRunner(ledger.ledger, PaymentsProjection(view=restarted))
            assert again.catch_up() >= 3
            _assert_view_matches(service, ledger, restarted, [*expected, later])

            # Reset, then a rebuild from the start of the log gives the same view.
            rebuilt_from = _state(restarted)
            restarted.reset()
            assert again.catch_up() > 0
            assert _state(restarted) == rebuilt_from
        finally:
            close_restarted()
    finally:
        close_view()
        ledger.ledger.close()


def test_filters_by_method_so_charges_can_be_listed_alone(view: PaymentsViewRecorder) -> None:
    card, wallet, charge = uuid4(), uuid4(), uuid4()
    _create(view, card, 1, method="card")
    _create(view, wallet, 2, method="wallet")
    _create(view, charge, 3, method="charge")

    assert _ids(_all(view, method="charge")) == [charge]
    assert _ids(_all(view, method="card")) == [card]
    assert _ids(_all(view)) == [charge, wallet, card]
