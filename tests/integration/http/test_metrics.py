"""GET /metrics: Prometheus text with the conflict counter and the read-model lag."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.http.support import memory_settings, position_of, running_client

pytestmark = pytest.mark.integration


def samples(client: TestClient[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by name and labels (parsed as Prometheus parses it)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(client: TestClient[Any], name: str, **labels: str) -> float:
    return samples(client)[(name, tuple(sorted(labels.items())))]


def test_metrics_report_the_log_and_view_positions(funded_client: TestClient[Any]) -> None:
    written = funded_client.post("/wallets/alice/debit", json={"amount": 10, "currency": "USD"})
    position = position_of(written)
    funded_client.get("/wallets/alice", params={"min_position": position})

    assert metric(funded_client, "payledger_log_position") >= position
    assert metric(funded_client, "payledger_view_position") >= position
    assert metric(funded_client, "payledger_concurrency_conflicts_total") == 0
    assert metric(funded_client, "payledger_view_lag") >= 0


def test_metrics_count_requests_by_route_gateway_calls_and_settled_payments() -> None:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040}
    body = {"amount": 900, "currency": "USD", "recipient": "shop", "method": "card", "card": card}
    with running_client(memory_settings(failure_rate=0)) as client:
        paid = client.post("/payments", params={"wait": "true"}, json=body)
        assert paid.status_code == 201, paid.text
        assert paid.json()["status"] == "SUCCESS"
        end = client.get("/ready").json()["log_position"]
        assert client.get("/payments", params={"min_position": end}).status_code == 200

        found = samples(client)
        route = {"app_name": "payledger", "method": "POST", "path": "/payments"}
        requests = found[("payledger_http_requests_total", labels(**route, status_code="201"))]
        assert requests >= 1  # process-wide: other apps in this test process count too
        assert (
            found[
                (
                    "payledger_http_request_duration_seconds_count",
                    labels(**route, status_code="201"),
                )
            ]
            >= 1
        )
        charge = labels(operation="charge", outcome="succeeded")
        assert found[("payledger_gateway_call_duration_seconds_count", charge)] == 1
        assert found[("payledger_payments_settled_total", labels(status="SUCCESS"))] == 1
        assert found[("payledger_settlement_lag_seconds_count", labels(status="SUCCESS"))] == 1
        assert found[("payledger_payments", labels(status="SUCCESS"))] == 1
        assert found[("payledger_follower_lag", labels(follower="payment_processor"))] >= 0


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))
