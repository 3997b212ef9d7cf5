"""The dashboard's pieces that need no server: money as people read it, and the SVG chart's
geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.results_dashboard import OutcomeBucket
from entrypoints.http.dashboard.chart import BOTTOM, HEIGHT, LEFT, TOP, outcome_chart
from entrypoints.http.dashboard.panels import minor, money, percent

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 6, 10, tzinfo=UTC)


def _bucket(i: int, succeeded: int, failed: int, unsettled: int = 0) -> OutcomeBucket:
    start = T0 + i * timedelta(hours=1)
    return OutcomeBucket(start, start + timedelta(hours=1), succeeded, failed, unsettled)


def test_money_uses_the_currencys_decimal_places() -> None:
    assert money(25000, "USD") == "250.00 USD"
    assert money(-1_234_567, "EUR") == "-12,345.67 EUR"
    assert money(500, "JPY") == "500 JPY"
    assert money(1234, "KWD") == "1.234 KWD"
    assert money(7, "XYZ") == "7 (minor units) XYZ"
    assert minor(25000, "USD") == "250.00"
    assert percent(None) == "n/a"
    assert percent(0.5) == "50.0%"


def test_bars_are_scaled_to_the_busiest_bucket_and_the_rate_line_to_100_percent() -> None:
    chart = outcome_chart([_bucket(0, 0, 0), _bucket(1, 3, 1), _bucket(2, 1, 1, unsettled=5)])
    plot_h = HEIGHT - TOP - BOTTOM
    assert chart.count_max == 4
    assert not chart.empty
    empty, busy, half = chart.bars
    assert empty.height == 0
    assert empty.failed_height == 0
    assert busy.height == pytest.approx(plot_h * 3 / 4)
    assert busy.failed_height == pytest.approx(plot_h / 4)
    assert busy.failed_y + busy.failed_height == pytest.approx(busy.y)  # failed sits on top
    assert half.height == pytest.approx(plot_h / 4)
    # Only buckets where something settled have a point: 75 % and 50 %.
    assert [round(y, 1) for _, y, _ in chart.rate_dots] == [
        round(TOP + plot_h * 0.25, 1),
        round(TOP + plot_h * 0.5, 1),
    ]
    assert len(chart.rate_points.split()) == 2
    assert all(bar.x >= LEFT for bar in chart.bars)
    assert "3 succeeded, 1 failed, 0 unsettled (75% succeeded)" in busy.title


def test_a_window_without_settled_payments_is_an_empty_chart() -> None:
    chart = outcome_chart([_bucket(i, 0, 0, unsettled=i) for i in range(24)])
    assert chart.empty
    assert chart.rate_points == ""
    assert len(chart.labels) == 6
