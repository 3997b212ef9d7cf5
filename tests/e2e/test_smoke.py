"""A fresh install works: `payledger serve` with nothing configured (the embedded SQLite
default) starts, takes a wallet payment and a card payment over HTTP, settles both, and serves
its docs page with the assets that ship in the package.

CI also runs this module, with `tests/unit`, on the newest supported Python from a
non-editable install (`.ci/run`, step `py3.13`): there the server imports the installed wheel,
so the docs assets answering here proves the wheel carries them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

SETTLE_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05
UNSETTLED = frozenset({"CREATED", "PROCESSING"})
OPENING_BALANCE = 10_000
PRICE = 2_500
GOOD_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    # No random gateway failures: the smoke test must not flake on the simulated 20%.
    with running_server("sqlite", extra_settings={"PAYLEDGER_FAILURE_RATE": "0"}) as server:
        yield server


def _settled(http: httpx.Client, payment_id: str) -> dict[str, Any]:
    """The payment once it left CREATED and PROCESSING (bounded wait)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        payment: dict[str, Any] = api.expect(http.get(f"/payments/{payment_id}"), 200)
        if payment["status"] not in UNSETTLED or time.monotonic() > deadline:
            return payment
        time.sleep(POLL_INTERVAL_S)


def test_a_wallet_payment_and_a_card_payment_settle(server: RunningServer) -> None:
    payer, shop = api.new_customer("smoke-payer"), api.new_customer("smoke-shop")
    with api.client(server.base_url) as http:
        api.open_wallet(http, payer)
        api.expect(api.credit(http, payer, OPENING_BALANCE), 201)
        price = {"amount": PRICE, "currency": "USD", "recipient": shop}
        by_wallet = {**price, "method": "wallet", "payer_id": payer}
        by_card = {**price, "method": "card", "card": GOOD_CARD}
        created = [api.expect(http.post("/payments", json=b), 201) for b in (by_wallet, by_card)]
        settled = [_settled(http, payment["id"]) for payment in created]

        for payment in settled:
            assert (payment["status"], payment["captured"]) == ("SUCCESS", PRICE), (
                payment,
                server.log_tail(),
            )
        assert api.wallet(http, payer)["balance"] == OPENING_BALANCE - PRICE


def test_the_docs_page_and_its_assets_are_served(server: RunningServer) -> None:
    with api.client(server.base_url) as http:
        page = http.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
            response = http.get(f"/docs/assets/{asset}")
            assert response.status_code == 200, (asset, server.log_tail())
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
