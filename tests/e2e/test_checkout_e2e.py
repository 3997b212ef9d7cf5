"""Hosted checkout end to end, over HTTP against real `payledger serve` processes on
PostgreSQL with the simulated gateway: start a checkout, follow the redirect to the hosted
page, press Pay (or Cancel), land on our page showing the settled payment; the payment is in
`/payments`. With two server processes, each step may land on either: the simulated
gateway's sessions live in the database, not in one process's memory."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

FORM = re.compile(r'<form method="post" action="([^"]*)"><button>([^<]*)</button></form>')
SETTLE_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def checkout_peer(pg_server: RunningServer) -> Iterator[RunningServer]:
    """A second server on `pg_server`'s schema, both answering for one public address (as
    replicas behind one load balancer do); its workers are off, so `pg_server` reconciles."""
    settings = {
        "PAYLEDGER_PROJECTIONS_IN_PROCESS": "false",
        "PAYLEDGER_PUBLIC_URL": pg_server.base_url,
    }
    with running_server(
        "postgres", shared_schema=pg_server.schema, extra_settings=settings
    ) as peer:
        yield peer


def button(http: httpx.Client, page_url: str, name: str) -> str:
    """The absolute URL a button of the hosted page posts to."""
    page = http.get(page_url)
    assert page.status_code == 200, api.describe(page)
    actions = {text: action for action, text in FORM.findall(page.text)}
    assert set(actions) == {"Pay", "Cancel"}, page.text
    return urljoin(page_url, actions[name])


def payment_id_of(url: str) -> str:
    [payment_id] = parse_qs(urlsplit(url).query)["payment"]
    return payment_id


def listed(http: httpx.Client, payment_id: str) -> api.Json:
    position = api.expect(http.get("/ready"), 200)["log_position"]
    rows = api.expect(http.get("/payments", params={"min_position": position}), 200)["payments"]
    [row] = [row for row in rows if row["id"] == payment_id]
    return row


def test_a_checkout_paid_on_the_hosted_page_is_a_settled_payment(
    pg_server: RunningServer,
) -> None:
    with httpx.Client(
        base_url=pg_server.base_url,
        timeout=30,
        follow_redirects=True,
        headers=pg_server.admin_headers,
    ) as http:
        hosted = http.get("/checkout/", params={"price": 4_321})  # seed 002's spelling
        assert hosted.status_code == 200, api.describe(hosted)
        assert "/simulated-gateway/checkout/cs_sim_" in str(hosted.url)
        assert "4321 USD" in hosted.text

        landed = http.post(button(http, str(hosted.url), "Pay"))

        assert landed.status_code == 200, api.describe(landed)
        assert str(landed.url).startswith(f"{pg_server.base_url}/checkout/success?payment=")
        assert "Payment received" in landed.text
        payment_id = payment_id_of(str(landed.url))
        found = api.expect(http.get(f"/payments/{payment_id}"), 200)
        assert (found["status"], found["method"], found["captured"]) == (
            "SUCCESS",
            "checkout",
            4_321,
        )
        row = listed(http, payment_id)
        assert (row["status"], row["method"], row["amount"]) == ("SUCCESS", "checkout", 4_321)


def test_a_checkout_cancelled_on_the_hosted_page_is_a_cancelled_payment(
    pg_server: RunningServer,
) -> None:
    with httpx.Client(
        base_url=pg_server.base_url,
        timeout=30,
        follow_redirects=True,
        headers=pg_server.admin_headers,
    ) as http:
        hosted = http.get("/checkout", params={"price": 999})
        landed = http.post(button(http, str(hosted.url), "Cancel"))

        assert "Payment cancelled" in landed.text
        payment_id = payment_id_of(str(landed.url))
        found = api.expect(http.get(f"/payments/{payment_id}"), 200)
        assert (found["status"], found["failure_reason"]) == ("FAILED", "CHECKOUT_CANCELLED")
        assert listed(http, payment_id)["status"] == "FAILED"


def test_each_step_on_another_process_still_settles_once(
    pg_server: RunningServer, checkout_peer: RunningServer
) -> None:
    """Started on the peer, paid on the page `pg_server` serves, settled by `pg_server`'s
    reconciler without anyone opening the success page, then shown by the peer."""
    with httpx.Client(timeout=30, headers=pg_server.admin_headers) as http:
        started = http.get(f"{checkout_peer.base_url}/checkout", params={"price": 1_500})
        assert started.status_code == 303, api.describe(started)
        page_url = started.headers["location"]
        assert page_url.startswith(f"{pg_server.base_url}/simulated-gateway/checkout/")
        paid = http.post(button(http, page_url, "Pay"))
        assert paid.status_code == 303, api.describe(paid)
        payment_id = payment_id_of(paid.headers["location"])

        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:  # the reconciler of `pg_server` asks the gateway about it
            found = api.expect(http.get(f"{pg_server.base_url}/payments/{payment_id}"), 200)
            if found["status"] != "PROCESSING" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (found["status"], found["captured"]) == ("SUCCESS", 1_500), found

        shown = http.get(f"{checkout_peer.base_url}/checkout/success?payment={payment_id}")
        assert "Payment received" in shown.text
        again = api.expect(http.get(f"{checkout_peer.base_url}/payments/{payment_id}"), 200)
        assert again == found  # settled once, whoever asked
