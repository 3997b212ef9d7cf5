"""Success rate over time as an SVG drawn on the server: no chart library, no script.

`outcome_chart()` computes the geometry (bars of settled payments per bucket, a line of the
success rate); the template only writes the shapes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from application.results_dashboard import OutcomeBucket

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the rate axis
RIGHT = 44  # room for the count axis
TOP = 12
BOTTOM = 28  # room for the time labels
LABELS_MAX = 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    failed_y: float  # where the failed part (drawn on top of the succeeded part) starts
    failed_height: float
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    rate_points: str  # "x,y x,y ..." of the buckets where something settled
    rate_dots: list[tuple[float, float, str]]
    labels: list[Label]
    plot_top: float
    plot_bottom: float
    plot_left: float
    plot_right: float
    count_max: int
    empty: bool


def _label(bucket: OutcomeBucket, span: timedelta) -> str:
    return bucket.start.strftime("%H:%M" if span <= timedelta(days=1) else "%b %d %H:%M")


def outcome_chart(buckets: list[OutcomeBucket]) -> Chart:
    """Bars: settled payments per bucket (succeeded below, failed above); line: success rate
    (0 to 100 %, left axis) of the buckets where anything settled."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    count_max = max((bucket.settled for bucket in buckets), default=0)
    scale = plot_h / count_max if count_max else 0.0
    slot = plot_w / max(1, len(buckets))
    span = buckets[-1].end - buckets[0].start if buckets else timedelta()
    bars, points, dots, labels = [], [], [], []
    every = max(1, len(buckets) // LABELS_MAX)
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot
        ok_h, failed_h = bucket.succeeded * scale, bucket.failed * scale
        rate = bucket.success_rate
        shown = "no settled payment" if rate is None else f"{rate:.0%} succeeded"
        title = (
            f"{_label(bucket, span)}: {bucket.succeeded} succeeded, {bucket.failed} failed, "
            f"{bucket.unsettled} unsettled ({shown})"
        )
        bars.append(
            Bar(
                x + slot * 0.15,
                bottom - ok_h,
                slot * 0.7,
                ok_h,
                bottom - ok_h - failed_h,
                failed_h,
                title,
            )
        )
        if rate is not None:
            cx, cy = x + slot / 2, bottom - rate * plot_h
            points.append(f"{cx:.1f},{cy:.1f}")
            dots.append((round(cx, 1), round(cy, 1), title))
        if i % every == 0:
            labels.append(Label(x + slot / 2, _label(bucket, span)))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        rate_points=" ".join(points),
        rate_dots=dots,
        labels=labels,
        plot_top=TOP,
        plot_bottom=bottom,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        count_max=count_max,
        empty=count_max == 0,
    )
