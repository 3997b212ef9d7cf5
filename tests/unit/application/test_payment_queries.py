"""Payment queries on the in-memory payments view: cursors, filters, waiting for a position."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from uuid import UUID

import pytest

from adapters.views.payments_view import SqlPaymentsView
from application.errors import (
    InvalidCursorError,
    InvalidPaymentStatusError,
    ViewNotCaughtUpError,
)
from application.payment_projection import PaymentsProjection
from application.payment_queries import (
    PaymentQueries,
    decode_position_cursor,
    encode_position_cursor,
)
from application.payments import PaymentRequest
from application.ports.gateway import (
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    RefundRequest,
    RefundResult,
)
from application.projection_runner import ProjectionRunner
from application.queries import POSITION_CURSOR_PATTERN, encode_cursor
from application.readiness import ReadinessProbe
from domain.payment import CREATED, FAILED, SUCCESS
from domain.payment_terms import PaymentMethod, PaymentStatus
from tests.support.views import memory_payments_view
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import CALLER, App, log_position, make_app

pytestmark = pytest.mark.unit

SHORT_WAIT_S = 0.05
LONG_WAIT_S = 5.0


class _WalletOnlyGateway:
    """These tests pay from wallets only: the card processor must never be asked."""

    name = "wallet-only"

    def tokenize(self, card: Card) -> CardToken:
        raise AssertionError("no card in these tests")

    def charge(self, request: ChargeRequest) -> ChargeResult:
        raise AssertionError("no card in these tests")

    def refund(self, request: RefundRequest) -> RefundResult:
        raise AssertionError("no card in these tests")

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        raise AssertionError("no card in these tests")


@pytest.fixture
def app(clock: FakeClock) -> App:
    return make_app(clock, _WalletOnlyGateway())


@pytest.fixture
def service(app: App) -> App:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 10_000, "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    return app


@pytest.fixture
def view() -> Iterator[SqlPaymentsView]:
    view = memory_payments_view()
    yield view
    view.close()


@pytest.fixture
def runner(app: App, view: SqlPaymentsView) -> ProjectionRunner:
    return ProjectionRunner(app.ledger, PaymentsProjection(view=view))


@pytest.fixture
def queries(service: App, view: SqlPaymentsView) -> PaymentQueries:
    return PaymentQueries(view, wait_timeout_s=SHORT_WAIT_S)


def pay(service: App, payer_id: str, amount: int) -> UUID:
    request = PaymentRequest(payer_id, "shop", amount, "USD", PaymentMethod.WALLET)
    return service.payments.create_payment(CALLER, request).value.id


@pytest.fixture
def five_payments(service: App, runner: ProjectionRunner) -> list[UUID]:
    """Payments of 1 to 5 by alice, projected; the oldest first."""
    ids = [pay(service, "alice", amount) for amount in range(1, 6)]
    runner.catch_up()
    return ids


def test_lists_payments_newest_first(five_payments: list[UUID], queries: PaymentQueries) -> None:
    page = queries.list(CALLER)

    assert [row.id for row in page.payments] == five_payments[::-1]
    assert [row.amount for row in page.payments] == [5, 4, 3, 2, 1]
    assert {row.status for row in page.payments} == {CREATED}
    assert page.next_cursor is None


def test_pages_through_payments_with_cursors(
    five_payments: list[UUID], queries: PaymentQueries
) -> None:
    pages = []
    cursor = None
    for _ in range(10):  # bounded: 5 payments in pages of 2 take 3 pages
        page = queries.list(CALLER, cursor=cursor, limit=2)
        pages.append([row.amount for row in page.payments])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [[5, 4], [3, 2], [1]]


def test_a_page_that_exactly_ends_the_list_has_no_next_cursor(
    five_payments: list[UUID], queries: PaymentQueries
) -> None:
    assert queries.list(CALLER, limit=5).next_cursor is None
    assert queries.list(CALLER, limit=4).next_cursor is not None
    # Limits are clamped to at least one row.
    page = queries.list(CALLER, limit=0)
    assert [row.amount for row in page.payments] == [5]
    assert page.next_cursor is not None


def test_filters_by_status_and_payer(
    service: App, runner: ProjectionRunner, queries: PaymentQueries
) -> None:
    paid = pay(service, "alice", 100)
    service.settlement.advance(paid)
    broke = pay(service, "bob", 100)
    service.settlement.advance(broke)  # bob's wallet is empty
    waiting = pay(service, "alice", 200)
    runner.catch_up()

    assert [r.id for r in queries.list(CALLER, status=SUCCESS).payments] == [paid]
    assert [r.id for r in queries.list(CALLER, status=FAILED).payments] == [broke]
    assert [r.id for r in queries.list(CALLER, payer_id="alice").payments] == [waiting, paid]
    assert [r.id for r in queries.list(CALLER, payer_id="alice", status=CREATED).payments] == [
        waiting
    ]
    assert queries.list(CALLER, status=FAILED).payments[0].failure_reason == "INSUFFICIENT_FUNDS"


def test_a_cursor_keeps_its_filters_meaning(
    service: App, runner: ProjectionRunner, queries: PaymentQueries
) -> None:
    mine = [pay(service, payer, 10) for payer in ("alice", "bob", "alice", "bob", "alice")]
    runner.catch_up()

    first = queries.list(CALLER, payer_id="alice", limit=2)
    second = queries.list(CALLER, payer_id="alice", limit=2, cursor=first.next_cursor)

    assert [r.id for r in first.payments] == [mine[4], mine[2]]
    assert [r.id for r in second.payments] == [mine[0]]
    assert second.next_cursor is None


def test_position_cursors_round_trip_and_match_their_documented_pattern() -> None:
    cursor = encode_position_cursor(12)

    assert cursor == "pos_12"
    assert re.fullmatch(POSITION_CURSOR_PATTERN.strip("^$"), cursor)
    assert decode_position_cursor(cursor) == 12


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "not a cursor at all",
        "pos_0",
        "pos_-3",
        "pos_x",
        "pos_1 ",
        "pos_" + "9" * 19,  # beyond a bigint
        encode_cursor(5),  # a statement's cursor is not a payments cursor
    ],
)
def test_refuses_a_malformed_cursor_before_reading(
    five_payments: list[UUID], queries: PaymentQueries, cursor: str
) -> None:
    with pytest.raises(InvalidCursorError):
        queries.list(CALLER, cursor=cursor, min_position=10_000)  # refused before any wait


@pytest.mark.parametrize("status", ["success", "PENDING", "", "FAILED "])
def test_refuses_an_unknown_status_before_reading(
    five_payments: list[UUID], queries: PaymentQueries, status: str
) -> None:
    started = time.monotonic()

    with pytest.raises(InvalidPaymentStatusError) as raised:
        queries.list(CALLER, status=status, min_position=10_000)

    assert not isinstance(raised.value, ViewNotCaughtUpError | InvalidCursorError)
    assert all(known in raised.value.message for known in tuple(PaymentStatus))
    assert time.monotonic() - started < SHORT_WAIT_S  # refused without waiting


def test_every_status_is_a_valid_filter(five_payments: list[UUID], queries: PaymentQueries) -> None:
    counts = {
        status: len(queries.list(CALLER, status=status).payments) for status in tuple(PaymentStatus)
    }

    assert counts == {status: 5 if status == CREATED else 0 for status in tuple(PaymentStatus)}


def test_a_read_behind_the_position_asked_for_times_out_and_changes_nothing(
    service: App, view: SqlPaymentsView, queries: PaymentQueries, app: App
) -> None:
    pay(service, "alice", 10)
    position = log_position(app)
    started = time.monotonic()

    with pytest.raises(ViewNotCaughtUpError):
        queries.list(CALLER, min_position=position)
    with pytest.raises(ViewNotCaughtUpError):
        queries.summary(CALLER, min_position=position)

    assert SHORT_WAIT_S <= time.monotonic() - started < 1.0
    assert view.position() is None
    assert queries.list(CALLER).payments == []


def test_a_read_waits_until_the_view_reaches_the_position(
    service: App, view: SqlPaymentsView, runner: ProjectionRunner, app: App
) -> None:
    queries = PaymentQueries(view, wait_timeout_s=LONG_WAIT_S)
    paid = pay(service, "alice", 10)
    position = log_position(app)
    catching_up = threading.Timer(0.05, runner.catch_up)
    catching_up.start()
    try:
        page = queries.list(CALLER, min_position=position)
    finally:
        catching_up.join(LONG_WAIT_S)

    assert [row.id for row in page.payments] == [paid]
    assert view.position() == position


def test_summarises_the_payments_once_caught_up(
    service: App, runner: ProjectionRunner, queries: PaymentQueries, app: App
) -> None:
    paid = pay(service, "alice", 300)
    service.settlement.advance(paid)
    service.refunds.refund_payment(CALLER, paid, 100)
    service.settlement.advance(pay(service, "bob", 50))
    pay(service, "alice", 0)  # refused by the rules: FAILED with INVALID_AMOUNT
    runner.catch_up()

    summary = queries.summary(CALLER, min_position=log_position(app))

    assert (summary.total, summary.success, summary.failed, summary.refunded) == (3, 1, 2, 0)
    assert summary.failure_reasons == {"INSUFFICIENT_FUNDS": 1, "INVALID_AMOUNT": 1}
    [usd] = summary.amounts
    assert (usd.currency, usd.captured, usd.refunded) == ("USD", 300, 100)


def test_readiness_reports_the_view_lag(
    service: App,
    runner: ProjectionRunner,
    view: SqlPaymentsView,
    queries: PaymentQueries,
    app: App,
) -> None:
    probe = ReadinessProbe(app.ledger, {"payments_view": view})
    pay(service, "alice", 10)

    behind = probe.check(lag_max=0)
    runner.catch_up()
    caught_up = probe.check(lag_max=0)

    assert (behind.ready, behind.view_position, behind.log_position) == (
        False,
        None,
        log_position(app),
    )
    assert behind.view_lag == log_position(app)
    assert (caught_up.ready, caught_up.view_lag) == (True, 0)
    assert view.position() == log_position(app)
