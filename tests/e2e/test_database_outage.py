"""A database outage fails fast and heals by itself: a real `payledger serve` reaches
PostgreSQL through a TCP proxy the test controls (the shared server is never stopped).

- With the proxy down (connections dropped, new ones refused), a request that needs the
  database answers a `503 service_unavailable` problem with `Retry-After` within a few
  seconds, `/ready` answers 503 within 2 s, `/health` stays 200, and nothing is a 500.
- With the proxy back, the same server recovers without a restart: `/ready` turns 200 and
  the requests refused during the outage go through.
- A bounce (every pooled connection killed, the database back at once, as after a
  PostgreSQL restart) is invisible to clients: stale connections are never handed out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer, running_server
from tests.support.services import POSTGRES, require_postgres
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

FAIL_FAST_S = 5.0  # "within a few seconds": the pool waits 2 s for a connection
READY_WITHIN_S = 2.0
RECOVERY_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def proxy() -> Iterator[TcpProxy]:
    require_postgres()
    with TcpProxy(POSTGRES.host, POSTGRES.port) as started:
        yield started


@pytest.fixture(scope="module")
def server(proxy: TcpProxy) -> Iterator[RunningServer]:
    url = f"postgresql://{POSTGRES.user}@{proxy.url_host}/{POSTGRES.dbname}"
    with running_server("postgres", extra_settings={"PAYLEDGER_DATABASE_URL": url}) as running:
        yield running


def request(http: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[int, float]:
    """Status and seconds of one request (never raises on a status)."""
    started = time.monotonic()
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    if response.status_code == 503:
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] in ("service_unavailable", "not_ready"), problem
        assert int(response.headers["retry-after"]) >= 1, response.headers
    return response.status_code, elapsed


def wait_ready(http: httpx.Client, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if http.get("/ready").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"/ready never answered 200 within {timeout_s} s")


def test_an_outage_answers_503_fast_and_the_server_recovers_without_a_restart(
    proxy: TcpProxy, server: RunningServer
) -> None:
    customer = api.new_customer("outage")
    statuses: list[int] = []
    with api.client(server.base_url) as http:
        api.open_wallet(http, customer)
        api.expect(api.credit(http, customer, 1_000), 201)

        proxy.stop()
        try:
            during = {
                "credit": request(
                    http,
                    "POST",
                    f"/wallets/{customer}/credit",
                    json={"amount": 5, "currency": "USD"},
                    headers={"Idempotency-Key": "during-outage"},
                ),
                "wallet": request(http, "GET", f"/wallets/{customer}", params={"currency": "USD"}),
                "list": request(http, "GET", "/payments"),
                "ready": request(http, "GET", "/ready"),
                "health": request(http, "GET", "/health"),
            }
        finally:
            proxy.start()
        statuses.extend(status for status, _ in during.values())
        assert {name: status for name, (status, _) in during.items()} == {
            "credit": 503,
            "wallet": 503,
            "list": 503,
            "ready": 503,
            "health": 200,
        }, server.log_tail()
        slowest = max(seconds for name, (_, seconds) in during.items() if name != "ready")
        assert slowest < FAIL_FAST_S, during
        assert during["ready"][1] < READY_WITHIN_S, during

        wait_ready(http, RECOVERY_TIMEOUT_S)
        after = [
            request(
                http,
                "POST",
                f"/wallets/{customer}/credit",
                json={"amount": 5, "currency": "USD"},
                headers={"Idempotency-Key": "during-outage"},
            )[0],
            request(http, "GET", f"/wallets/{customer}", params={"currency": "USD"})[0],
            request(http, "GET", "/payments")[0],
        ]
        statuses.extend(after)
        assert after == [201, 200, 200], server.log_tail()
        assert api.wallet(http, customer)["balance"] == 1_005
    assert 500 not in statuses
    assert "internal_error" not in server.log_tail(100_000)


def test_a_database_bounce_is_invisible_to_clients(proxy: TcpProxy, server: RunningServer) -> None:
    customer = api.new_customer("bounce")
    with api.client(server.base_url) as http:
        api.open_wallet(http, customer)
        wait_ready(http, RECOVERY_TIMEOUT_S)
        accepted_before = proxy.connections_accepted

        proxy.stop()  # every pooled connection dies...
        proxy.start()  # ...and the database is back at once, as after a restart

        results = [
            request(http, "GET", f"/wallets/{customer}", params={"currency": "USD"})[0],
            request(
                http, "POST", f"/wallets/{customer}/credit", json={"amount": 7, "currency": "USD"}
            )[0],
            request(http, "GET", "/payments")[0],
            request(http, "GET", "/ready")[0],
        ]
        assert results == [200, 201, 200, 200], server.log_tail()
        assert proxy.connections_accepted > accepted_before  # new connections replaced them
