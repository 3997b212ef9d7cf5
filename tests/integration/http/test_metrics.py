"""GET /metrics: Prometheus text with the conflict counter and the read-model lag."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.http.support import position_of

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
