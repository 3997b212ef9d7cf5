"""Hosted checkout (seed 002) over HTTP with the simulated gateway: `GET /checkout` records a
payment and redirects to the gateway's page, which this server also serves; its Pay and
Cancel buttons settle the session and send the payer back to pages that show the payment as
the ledger has it.

The app's public URL is the test client's own address, so the redirects can be followed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit
from uuid import uuid4

import pytest
from dishka import Provider, Scope, provide
from litestar.testing import TestClient

from adapters.gateways.simulated import SimulatedPaymentGateway
from adapters.gateways.simulated_checkout import SimulatedCheckoutSessions
from application.ports.gateway import PaymentGateway
from tests.integration.http.support import (
    Json,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    running_client,
)

pytestmark = pytest.mark.integration

BASE_URL = "http://testserver.local"  # where the TestClient sends requests
HOSTED_PAGE = f"{BASE_URL}/simulated-gateway/checkout/"
SUCCESS_URL = f"{BASE_URL}/checkout/success"
CANCEL_URL = f"{BASE_URL}/checkout/cancel"
FORM = re.compile(r'<form method="post" action="([^"]*)"><button>([^<]*)</button></form>')
SETTLE_TIMEOUT_S = 10.0


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(public_url=BASE_URL)) as client:
        yield client


def start(client: TestClient[Any], **params: Any) -> Any:
    return client.get("/checkout", params=params, follow_redirects=False)


def hosted_page_of(client: TestClient[Any], **params: Any) -> str:
    """The URL `GET /checkout` redirects to (asserting the 303)."""
    response = start(client, **params)
    assert response.status_code == 303, (response.status_code, response.text)
    location: str = response.headers["location"]
    return location


def buttons(html: str) -> dict[str, str]:
    """{button text: form action} of a page."""
    return {text: action for action, text in FORM.findall(html)}


def press(client: TestClient[Any], page_url: str, button: str) -> str:
    """Press a button of the simulated page; where it sends the payer (asserting the 303)."""
    page = client.get(urlsplit(page_url).path)
    assert page.status_code == 200, page.text
    action = urljoin(urlsplit(page_url).path, buttons(page.text)[button])
    response = client.post(action, follow_redirects=False)
    assert response.status_code == 303, (response.status_code, response.text)
    location: str = response.headers["location"]
    return location


def payment_id_of(url: str) -> str:
    [payment_id] = parse_qs(urlsplit(url).query)["payment"]
    return payment_id


def visit(client: TestClient[Any], url: str) -> Any:
    parts = urlsplit(url)
    return client.get(parts.path, params=parse_qs(parts.query))


def settled(client: TestClient[Any], payment_id: str) -> Json:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found = expect(client.get(f"/payments/{payment_id}"), 200)
        if found["status"] != "PROCESSING" or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_checkout_records_a_processing_payment_then_redirects_to_the_hosted_page(
    client: TestClient[Any],
) -> None:
    before = ledger_state(client)[1]
    location = hosted_page_of(client, price=5_000)

    assert location.startswith(HOSTED_PAGE), location
    session_id = urlsplit(location).path.removeprefix(urlsplit(HOSTED_PAGE).path)
    assert session_id.startswith("cs_sim_"), session_id
    listed = expect(client.get("/payments", params={"min_position": ready_position(client)}), 200)
    [row] = listed["payments"]
    assert (row["status"], row["method"], row["amount"], row["currency"]) == (
        "PROCESSING",
        "checkout",
        5_000,
        "USD",
    )
    found = expect(client.get(f"/payments/{row['id']}"), 200)
    assert found["history"][-1]["reason"] == "checkout opened"
    assert ledger_state(client)[1] == before  # no money moves until the gateway says so


def test_each_checkout_is_a_new_session(client: TestClient[Any]) -> None:
    first = hosted_page_of(client, price=5_000)
    second = hosted_page_of(client, price=5_000)
    assert urlsplit(first).path != urlsplit(second).path


def test_pay_on_the_hosted_page_settles_the_payment_and_the_success_page_shows_it(
    client: TestClient[Any],
) -> None:
    page = client.get(urlsplit(hosted_page_of(client, price=5_000, currency="EUR")).path)
    assert page.headers["content-type"].startswith("text/html")
    assert "5000 EUR" in page.text
    assert set(buttons(page.text)) == {"Pay", "Cancel"}

    back = press(client, str(page.url), "Pay")

    assert back.startswith(f"{SUCCESS_URL}?payment="), back
    payment_id = payment_id_of(back)
    shown = visit(client, back)
    assert shown.status_code == 200
    assert "Payment received" in shown.text
    assert "5000 EUR" in shown.text
    found = expect(client.get(f"/payments/{payment_id}"), 200)
    assert (found["status"], found["method"], found["captured"]) == ("SUCCESS", "checkout", 5_000)
    assert postings(client, found["transaction_id"]) == {
        "system:gateway_clearing": -5_000,
        "payable:merchant": 5_000,
    }
    # The page is the gateway's word, not the browser's: showing it again changes nothing.
    assert "Payment received" in visit(client, back).text
    assert expect(client.get(f"/payments/{payment_id}"), 200) == found


def test_the_reconciler_settles_a_paid_checkout_without_the_success_page(
    client: TestClient[Any],
) -> None:
    back = press(client, hosted_page_of(client, price=1_200), "Pay")
    found = settled(client, payment_id_of(back))
    assert (found["status"], found["captured"]) == ("SUCCESS", 1_200), found


def test_before_paying_the_success_page_says_it_is_still_confirming(
    client: TestClient[Any],
) -> None:
    location = hosted_page_of(client, price=900)
    session_id = urlsplit(location).path.rsplit("/", 1)[-1]
    payment_id = only_payment_id(client)
    shown = client.get("/checkout/success", params={"payment": payment_id})
    assert "Confirming your payment" in shown.text
    assert 'http-equiv="refresh"' in shown.text
    assert "went through" not in shown.text
    assert expect(client.get(f"/payments/{payment_id}"), 200)["status"] == "PROCESSING"
    assert session_id.startswith("cs_sim_")


@pytest.mark.parametrize(
    "params",
    [{}, {"payment": "nonsense"}, {"payment": str(uuid4())}, {"payment": ""}],
    ids=["no reference", "not an id", "unknown id", "empty"],
)
def test_the_success_page_opened_directly_claims_nothing(
    client: TestClient[Any], params: dict[str, str]
) -> None:
    for path in ("/checkout/success", "/checkout/cancel"):
        shown = client.get(path, params=params)
        assert shown.status_code == 200, shown.text
        assert "Payment not found" in shown.text
        assert "went through" not in shown.text


def test_the_success_page_does_not_show_other_payments(client: TestClient[Any]) -> None:
    body = {"amount": 100, "currency": "USD", "recipient": "shop", "method": "card"}
    body["payment_method"] = "pm_card_visa"
    created = expect(client.post("/payments", json=body), 201)
    shown = client.get("/checkout/success", params={"payment": created["id"]})
    assert "Payment not found" in shown.text


def test_cancel_on_the_hosted_page_records_the_payment_cancelled(client: TestClient[Any]) -> None:
    location = hosted_page_of(client, price=700)
    back = press(client, location, "Cancel")

    assert back.startswith(f"{CANCEL_URL}?payment="), back
    shown = visit(client, back)
    assert "Payment cancelled" in shown.text
    assert "Nothing was charged" in shown.text
    found = expect(client.get(f"/payments/{payment_id_of(back)}"), 200)
    assert (found["status"], found["failure_reason"], found["retryable"]) == (
        "FAILED",
        "CHECKOUT_CANCELLED",
        False,
    )
    # A cancelled session can no longer be paid: Pay now leads to the cancel page.
    response = client.post(f"{urlsplit(location).path}/pay", follow_redirects=False)
    assert response.headers["location"] == back
    assert expect(client.get(f"/payments/{payment_id_of(back)}"), 200) == found


def test_the_cancel_link_closes_an_open_checkout_so_it_can_no_longer_be_paid(
    client: TestClient[Any],
) -> None:
    location = hosted_page_of(client, price=800)
    payment_id = only_payment_id(client)
    shown = client.get("/checkout/cancel", params={"payment": payment_id})
    assert "Payment cancelled" in shown.text
    response = client.post(f"{urlsplit(location).path}/pay", follow_redirects=False)
    assert response.headers["location"].startswith(CANCEL_URL)
    found = expect(client.get(f"/payments/{payment_id}"), 200)
    assert (found["status"], found["failure_reason"]) == ("FAILED", "CHECKOUT_CANCELLED")


def test_the_cancel_page_after_paying_shows_the_payment_went_through(
    client: TestClient[Any],
) -> None:
    back = press(client, hosted_page_of(client, price=600), "Pay")
    shown = client.get("/checkout/cancel", params={"payment": payment_id_of(back)})
    assert "Payment received" in shown.text
    assert expect(client.get(f"/payments/{payment_id_of(back)}"), 200)["status"] == "SUCCESS"


def test_a_checkout_above_the_fraud_threshold_is_refused_and_recorded(
    client: TestClient[Any],
) -> None:
    expect_problem(start(client, price=1_000_001), 422, "checkout_refused")
    listed = expect(client.get("/payments", params={"min_position": ready_position(client)}), 200)
    [row] = listed["payments"]
    assert (row["status"], row["failure_reason"]) == ("FAILED", "FRAUD_SUSPECTED")


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/success/?payment=abc&x=1", "/checkout/success?payment=abc&x=1"),
        ("/success?payment=abc", "/checkout/success?payment=abc"),
        ("/cancel/?payment=abc", "/checkout/cancel?payment=abc"),
        ("/cancel/", "/checkout/cancel"),
    ],
)
def test_seed_002_return_paths_redirect_to_ours(
    client: TestClient[Any], path: str, target: str
) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 307, response.text
    assert response.headers["location"] == target


def test_seed_002_checkout_path_with_a_trailing_slash_works(client: TestClient[Any]) -> None:
    response = client.get("/checkout/?price=50", follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(HOSTED_PAGE)
    shown = visit(client, press(client, response.headers["location"], "Pay"))
    assert "Payment received" in shown.text


def test_without_a_public_url_the_pages_live_at_the_listening_address() -> None:
    settings = memory_settings(host="127.0.0.1", port=8123)
    with running_client(settings) as client:
        location = hosted_page_of(client, price=100)
        assert location.startswith("http://127.0.0.1:8123/simulated-gateway/checkout/cs_sim_")
        back = press(client, location, "Pay")
    assert back.startswith("http://127.0.0.1:8123/checkout/success?payment="), back


@pytest.mark.parametrize("price", ["0", "-1", "-5000", "abc", "", "12.5", "1" * 20])
def test_a_bad_price_is_a_validation_problem(client: TestClient[Any], price: str) -> None:
    body = expect_problem(start(client, price=price), 422, "validation_error")
    assert body["errors"][0]["source"] == "query"
    assert body["errors"][0]["path"] == "price"


def test_a_missing_price_is_a_validation_problem(client: TestClient[Any]) -> None:
    expect_problem(start(client), 422, "validation_error")


@pytest.mark.parametrize("currency", ["XXX", "ZZZ"])
def test_an_unknown_currency_is_a_422_problem(client: TestClient[Any], currency: str) -> None:
    expect_problem(start(client, price=5_000, currency=currency), 422, "unknown_currency")


@pytest.mark.parametrize("currency", ["", "US", "EURO", "usd"])
def test_a_currency_that_is_not_three_letters_is_a_validation_problem(
    client: TestClient[Any], currency: str
) -> None:
    expect_problem(start(client, price=5_000, currency=currency), 422, "validation_error")


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.example/checkout/success",
        "//evil.example/checkout/success",
        "javascript:alert(1)",
        f"{BASE_URL}.evil.example/checkout/success",
        f"{BASE_URL}@evil.example/checkout/success",
    ],
)
def test_the_hosted_page_takes_no_return_url_from_its_query(
    client: TestClient[Any], foreign: str
) -> None:
    location = hosted_page_of(client, price=5_000)
    params = {"success_url": foreign, "cancel_url": foreign, "amount": 1}
    page = client.get(urlsplit(location).path, params=params)
    assert foreign not in page.text
    assert "5000 USD" in page.text
    for button in ("Pay", "Cancel"):
        target = client.post(f"{urlsplit(location).path}/{button.lower()}", params=params)
        assert foreign not in target.headers.get("location", ""), target.headers
    assert "evil" not in str(client.get(urlsplit(location).path).text)


class SharedSimulatedGateway(Provider):
    """The simulated gateway over one sessions store shared by several apps."""

    scope = Scope.APP

    def __init__(self, store: SimulatedCheckoutSessions, base_url: str) -> None:
        super().__init__()
        self._store, self._base_url = store, base_url

    @provide(override=True)
    def gateway(self) -> PaymentGateway:
        base = f"{self._base_url}/simulated-gateway"
        return SimulatedPaymentGateway(checkout_base_url=base, checkout_sessions=self._store)


def test_the_hosted_page_refuses_a_session_that_leads_elsewhere() -> None:
    """A session whose return URLs are not this server's (made by another deployment on the
    same gateway) gets no buttons and no redirect: no open redirect through us."""
    store = SimulatedCheckoutSessions.in_memory()
    ours = memory_settings(public_url=BASE_URL)
    with running_client(ours, SharedSimulatedGateway(store, BASE_URL)) as client:
        path = urlsplit(hosted_page_of(client, price=5_000)).path
        assert set(buttons(client.get(path).text)) == {"Pay", "Cancel"}
    other_url = "http://other.example"
    other = memory_settings(public_url=other_url)
    with running_client(other, SharedSimulatedGateway(store, other_url)) as client:
        assert "not valid" in client.get(path).text
        response = client.post(f"{path}/pay", follow_redirects=False)
        assert "location" not in response.headers
        assert "not valid" in response.text
    session_id = path.rsplit("/", 1)[-1]
    assert store.find(session_id).status == "open"  # type: ignore[union-attr]


@pytest.mark.parametrize("session_id", ["cs_sim_nobody", "<script>alert(1)<script>"])
def test_an_unknown_session_shows_not_valid_and_escapes_what_it_shows(
    client: TestClient[Any], session_id: str
) -> None:
    page = client.get(f"/simulated-gateway/checkout/{session_id}")
    assert page.status_code == 200, page.text
    assert "not valid" in page.text
    assert "<script>" not in page.text
    response = client.post(f"/simulated-gateway/checkout/{session_id}/pay", follow_redirects=False)
    assert "location" not in response.headers
    assert "not valid" in response.text


# Helpers.


def ready_position(client: TestClient[Any]) -> int:
    position: int = expect(client.get("/ready"), 200)["log_position"]
    return position


def only_payment_id(client: TestClient[Any]) -> str:
    listed = expect(client.get("/payments", params={"min_position": ready_position(client)}), 200)
    [row] = listed["payments"]
    payment_id: str = row["id"]
    return payment_id


def postings(client: TestClient[Any], transaction_id: str) -> dict[str, int]:
    transaction = expect(client.get(f"/transactions/{transaction_id}"), 200)
    return {p["account"]: p["amount"] for p in transaction["postings"]}
