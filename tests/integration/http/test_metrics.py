"""GET /metrics: Prometheus text with the conflict counter and the read-model lag."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import position_of

pytestmark = pytest.mark.integration


def metric(client: TestClient[Any], name: str) -> int:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {
        line.split()[0]: int(line.split()[1])
        for line in response.text.splitlines()
        if line and not line.startswith("#")
    }
    return values[name]


def test_metrics_report_the_log_and_view_positions(funded_client: TestClient[Any]) -> None:
    written = funded_client.post("/wallets/alice/debit", json={"amount": 10, "currency": "USD"})
    position = position_of(written)
    funded_client.get("/wallets/alice", params={"min_position": position})

    assert metric(funded_client, "payledger_log_position") >= position
    assert metric(funded_client, "payledger_view_position") >= position
    assert metric(funded_client, "payledger_concurrency_conflicts_total") == 0
    assert metric(funded_client, "payledger_view_lag") >= 0
