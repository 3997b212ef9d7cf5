"""The dashboard's query: buckets of outcomes over time, the snapshot's panels, who may read
it, and optional panels whose source is missing or failing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from application.dashboard import (
    DEFAULT_WINDOW,
    WINDOWS,
    DashboardQueries,
    ReadinessRelayLag,
    bucket_bounds,
)
from application.errors import ForbiddenError
from application.payment_queries import PaymentQueries
from application.principal import Principal
from application.readiness import ReadinessProbe
from application.results import RELAY_OFF, RelayStatus
from application.results_dashboard import InstallmentsOverview, RelayLag, WebhookHealth
from domain.payment import FAILED, PROCESSING, SUCCESS
from domain.user import UserRole
from tests.support.views import memory_ledger_view, memory_payments_view
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import CALLER, make_ledger

pytestmark = pytest.mark.unit

APP = "payledger"
NOW = datetime(2026, 5, 6, 14, 25, 30, tzinfo=UTC)


def _id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


class Sources:
    """Optional panels' sources that answer, or raise when told to."""

    def __init__(self) -> None:
        self.broken = False

    def installments_overview(self) -> InstallmentsOverview:
        if self.broken:
            raise RuntimeError("installments store down")
        return InstallmentsOverview(3, {"ACTIVE": 2, "PAID": 1}, {"USD": 5000}, 1)

    def webhook_health(self) -> WebhookHealth:
        return WebhookHealth(2, 10, 1, 0)


@pytest.fixture
def parts() -> Iterator[tuple[DashboardQueries, ReadinessProbe, Sources]]:
    ledger = make_ledger()
    payments_view, ledger_view = memory_payments_view(), memory_ledger_view()
    probe = ReadinessProbe(ledger, {"payments_view": payments_view, "nats_relay": ledger_view})
    sources = Sources()
    dashboard = DashboardQueries(
        PaymentQueries(payments_view),
        payments_view,
        ledger_view,
        probe,
        FakeClock(NOW),
        installments=sources,
        webhooks=sources,
    )
    yield dashboard, probe, sources
    probe.close()
    payments_view.close()
    ledger_view.close()
    ledger.close()


def _payments(dashboard: DashboardQueries) -> None:
    """An hour ago: one success. This hour: a success refunded in part, a failure, one
    still processing, and one created (unsettled)."""
    view = dashboard.payments_view
    at = [NOW - timedelta(hours=1), NOW, NOW, NOW, NOW]
    for n, moment in enumerate(at, start=1):
        view.record_payment_created(
            _id(n), "alice", "shop", 1000, "USD", "card", moment, Tracking(APP, n)
        )
    view.record_payment_captured(_id(1), 1000, NOW, Tracking(APP, 6))
    view.record_payment_captured(_id(2), 1000, NOW, Tracking(APP, 7))
    view.record_payment_refunded(_id(2), 400, NOW, Tracking(APP, 8))
    view.record_status_changed(_id(3), FAILED, "CARD_DECLINED", NOW, Tracking(APP, 9))
    view.record_status_changed(_id(4), PROCESSING, None, NOW, Tracking(APP, 10))


def test_buckets_are_aligned_and_the_last_one_holds_now() -> None:
    for window, (length, count) in WINDOWS.items():
        bounds = bucket_bounds(NOW, window)
        assert len(bounds) == count + 1
        assert bounds[-2] <= NOW < bounds[-1], window
        assert all(b - a == length for a, b in itertools.pairwise(bounds))
        # Aligned: a little later, the same bounds.
        assert bucket_bounds(NOW + timedelta(seconds=1), window) == bounds
    assert bucket_bounds(NOW, "24h")[-1] == datetime(2026, 5, 6, 15, tzinfo=UTC)


def test_the_snapshot_folds_statuses_into_outcomes_per_bucket(parts: tuple) -> None:
    dashboard, _, _ = parts
    _payments(dashboard)
    snapshot = dashboard.snapshot(CALLER)
    assert snapshot.window == DEFAULT_WINDOW
    last, before = snapshot.outcomes[-1], snapshot.outcomes[-2]
    # The partly refunded payment succeeded (it was paid); processing and created are unsettled.
    assert (last.succeeded, last.failed, last.unsettled) == (1, 1, 2)
    assert last.success_rate == 0.5
    assert (before.succeeded, before.failed, before.unsettled) == (1, 0, 0)
    assert all(b.settled == 0 and b.success_rate is None for b in snapshot.outcomes[:-2])
    assert snapshot.summary.total == 5
    assert snapshot.summary.by_status[SUCCESS] == 1
    assert [row.id for row in snapshot.recent] == [_id(n) for n in (5, 4, 3, 2, 1)]
    assert snapshot.wallets == []
    assert snapshot.generated_at == NOW


def test_an_unknown_window_is_the_default_one(parts: tuple) -> None:
    dashboard, _, _ = parts
    assert dashboard.snapshot(CALLER, "1y").window == DEFAULT_WINDOW
    assert len(dashboard.snapshot(CALLER, "1h").outcomes) == WINDOWS["1h"][1]


@pytest.mark.parametrize("role", [None, UserRole.CUSTOMER, UserRole.AUDITOR])
def test_only_admins_read_the_dashboard(parts: tuple, role: UserRole | None) -> None:
    dashboard, _, _ = parts
    caller = Principal("someone", frozenset({role}) if role else frozenset())
    with pytest.raises(ForbiddenError):
        dashboard.snapshot(caller)


def test_optional_panels_show_their_source_and_none_without_one(parts: tuple) -> None:
    dashboard, _, _ = parts
    snapshot = dashboard.snapshot(CALLER)
    assert snapshot.installments == InstallmentsOverview(
        3, {"ACTIVE": 2, "PAID": 1}, {"USD": 5000}, 1
    )
    assert snapshot.webhooks == WebhookHealth(2, 10, 1, 0)
    assert snapshot.relay is None


def test_a_failing_source_leaves_its_panel_empty_not_the_page(parts: tuple) -> None:
    dashboard, _, sources = parts
    sources.broken = True
    snapshot = dashboard.snapshot(CALLER)
    assert snapshot.installments is None
    assert snapshot.webhooks == WebhookHealth(2, 10, 1, 0)


def test_the_relay_panel_shows_the_lag_readiness_reports(parts: tuple) -> None:
    dashboard, _, _ = parts
    status = RelayStatus("on", "nats://127.0.0.1:4222", position=40, lag=7, lag_s=1.5)
    dashboard.relay = ReadinessRelayLag(lambda: status)
    assert dashboard.snapshot(CALLER).relay == RelayLag(40, 7, 1.5)
    dashboard.relay = ReadinessRelayLag(lambda: RELAY_OFF)
    assert dashboard.snapshot(CALLER).relay is None


def test_positions_change_when_a_view_moves(parts: tuple) -> None:
    dashboard, _, _ = parts
    before = dashboard.positions()
    _payments(dashboard)
    assert dashboard.positions() != before
