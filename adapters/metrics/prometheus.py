"""The `Metrics` port on prometheus_client, and the Prometheus text of `GET /metrics`.

Counters and histograms live in a registry of this object's own (one per container, so
test apps in one process never share counts): gateway calls by operation and outcome
(`payledger_gateway_call_duration_seconds`), payments settled by outcome and the lag from
request to outcome (`payledger_settlement_lag_seconds`). What is read when scraped (log and
follower positions, lags, failures, conflicts, payments by status) comes in a `Snapshot`
the caller builds. `render` adds the process-wide default registry (HTTP request metrics
of Litestar's Prometheus middleware, process CPU and memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from application.results import RelayStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GATEWAY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SETTLEMENT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


@dataclass(frozen=True)
class FollowerState:
    """One follower of the log as scraped."""

    name: str
    position: int | None
    lag: int
    failing: bool
    failures_total: int


@dataclass(frozen=True)
class Snapshot:
    """What is read at scrape time; `None` where the store could not be read."""

    ready: bool
    log_position: int | None
    followers: Sequence[FollowerState]
    conflicts_total: int
    payments_by_status: Mapping[str, int] | None = None
    relay: RelayStatus | None = None  # the NATS relay (status `off` when not configured)


class PrometheusMetrics:
    """Implements `application.ports.metrics.Metrics`; renders the exposition text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._gateway = Histogram(
            "payledger_gateway_call_duration_seconds",
            "Calls to the payment gateway, by operation and outcome.",
            ("operation", "outcome"),
            buckets=GATEWAY_BUCKETS_S,
            registry=self.registry,
        )
        self._settled = Counter(
            "payledger_payments_settled",
            "Payments that reached an outcome in this process, by outcome.",
            ("status",),
            registry=self.registry,
        )
        self._lag = Histogram(
            "payledger_settlement_lag_seconds",
            "Time from a payment's request to its outcome.",
            ("status",),
            buckets=SETTLEMENT_BUCKETS_S,
            registry=self.registry,
        )

    def gateway_called(self, operation: str, outcome: str, duration_s: float) -> None:
        """Time one gateway call."""
        self._gateway.labels(operation, outcome).observe(duration_s)

    def payment_settled(self, status: str, lag_s: float) -> None:
        """Count an outcome and its lag."""
        self._settled.labels(status).inc()
        self._lag.labels(status).observe(max(0.0, lag_s))

    def render(self, snapshot: Snapshot) -> bytes:
        """The Prometheus text: process-wide metrics, this object's, and the snapshot's."""
        scraped = CollectorRegistry(auto_describe=False)
        scraped.register(_SnapshotCollector(snapshot))
        return b"".join(generate_latest(r) for r in (REGISTRY, self.registry, scraped))


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        yield _gauge("payledger_ready", "1 when /ready would answer 200.", int(snapshot.ready))
        conflicts = CounterMetricFamily(
            "payledger_concurrency_conflicts",
            "Commands that hit an optimistic-concurrency conflict and were retried, in this "
            "process.",
            value=snapshot.conflicts_total,
        )
        yield conflicts
        if snapshot.log_position is None and not snapshot.followers:
            return
        yield _gauge(
            "payledger_log_position",
            "Highest notification id in the event log.",
            snapshot.log_position or 0,
        )
        yield from _followers(snapshot.followers)
        if snapshot.payments_by_status is not None:
            payments = GaugeMetricFamily(
                "payledger_payments", "Payments by status (payments read model).", labels=["status"]
            )
            for status, count in sorted(snapshot.payments_by_status.items()):
                payments.add_metric([status], count)
            yield payments
        if snapshot.relay is not None:
            yield from _relay(snapshot.relay)


def _relay(relay: RelayStatus) -> Iterator[Metric]:
    on = relay.status == "on"
    yield _gauge("payledger_relay_enabled", "1 when the NATS relay is configured.", int(on))
    if not on:
        return
    yield _gauge(
        "payledger_relay_position",
        "Last log position the NATS relay published (acknowledged by the server).",
        relay.position or 0,
    )
    yield _gauge("payledger_relay_lag", "Events the NATS relay is behind the log.", relay.lag)
    yield _gauge(
        "payledger_relay_lag_seconds",
        "Age of the oldest event the NATS relay has not published yet (0 when caught up).",
        relay.lag_s,
    )
    yield CounterMetricFamily(
        "payledger_relay_published",
        "Messages the NATS relay of this process had acknowledged (re-sends included).",
        value=relay.published_total,
    )
    yield CounterMetricFamily(
        "payledger_relay_duplicates",
        "Re-sent messages the stream already had (dropped by its duplicate window).",
        value=relay.duplicates_total,
    )


def _followers(followers: Sequence[FollowerState]) -> Iterator[Metric]:
    behind = max(followers, key=lambda f: f.lag, default=None)
    yield _gauge(
        "payledger_view_position",
        "Last log position applied by the follower furthest behind.",
        (behind.position or 0) if behind else 0,
    )
    yield _gauge(
        "payledger_view_lag",
        "Events the follower furthest behind is behind the log.",
        behind.lag if behind else 0,
    )
    position = GaugeMetricFamily(
        "payledger_follower_position",
        "Last log position each follower (read model, payment processor) applied.",
        labels=["follower"],
    )
    lag = GaugeMetricFamily(
        "payledger_follower_lag", "Events each follower is behind the log.", labels=["follower"]
    )
    failing = GaugeMetricFamily(
        "payledger_follower_failing",
        "1 while a follower running in this process is stuck on an event it cannot apply.",
        labels=["follower"],
    )
    failures = CounterMetricFamily(
        "payledger_projection_failures",
        "Distinct failures to apply an event, by follower, in this process.",
        labels=["follower"],
    )
    for follower in followers:
        position.add_metric([follower.name], follower.position or 0)
        lag.add_metric([follower.name], follower.lag)
        failing.add_metric([follower.name], int(follower.failing))
        failures.add_metric([follower.name], follower.failures_total)
    yield from (position, lag, failing, failures)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
