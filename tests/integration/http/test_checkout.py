"""Hosted checkout (seed 002) over HTTP with the simulated gateway: `GET /checkout` redirects
to the gateway's page, which this server also serves, and whose only links lead back here.

The app's public URL is the test client's own address, so the redirect can be followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import (
    PROBLEM_CONTENT_TYPE,
    expect_problem,
    ledger_state,
    memory_settings,
    running_client,
)
from tests.support.fake_stripe import API_KEY, FakeStripe, running_fake_stripe

pytestmark = pytest.mark.integration

BASE_URL = "http://testserver.local"  # where the TestClient sends requests
HOSTED_PAGE = f"{BASE_URL}/simulated-gateway/checkout/"
SUCCESS_URL = f"{BASE_URL}/checkout/success"
CANCEL_URL = f"{BASE_URL}/checkout/cancel"
LINK = re.compile(r'<a href="([^"]*)">([^<]*)</a>')


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(public_url=BASE_URL)) as client:
        yield client


@pytest.fixture
def stripe_checkout() -> Iterator[tuple[TestClient[Any], FakeStripe]]:
    """The app with `gateway=stripe` pointed at the fake Stripe server."""
    with running_fake_stripe() as fake:
        settings = memory_settings(
            public_url=BASE_URL,
            gateway="stripe",
            stripe_api_key=API_KEY,
            stripe_api_base=fake.base_url,
        )
        with running_client(settings) as client:
            yield client, fake


def start(client: TestClient[Any], **params: Any) -> Any:
    return client.get("/checkout", params=params, follow_redirects=False)


def hosted_page_of(client: TestClient[Any], **params: Any) -> str:
    """The URL `GET /checkout` redirects to (asserting the 303)."""
    response = start(client, **params)
    assert response.status_code == 303, (response.status_code, response.text)
    location: str = response.headers["location"]
    return location


def links(html: str) -> dict[str, str]:
    """{link text: href} of a page."""
    return {text: href for href, text in LINK.findall(html)}


def page_with(client: TestClient[Any], success_url: str, cancel_url: str = CANCEL_URL) -> Any:
    """The simulated hosted page of a real session, asked with these return URLs."""
    session = urlsplit(hosted_page_of(client, price=5_000)).path
    params: dict[str, str | int] = {"amount": 5_000, "currency": "USD"}
    params.update(success_url=success_url, cancel_url=cancel_url)
    return client.get(session, params=params)


def test_checkout_redirects_to_the_simulated_hosted_page(client: TestClient[Any]) -> None:
    location = hosted_page_of(client, price=5_000)

    assert location.startswith(HOSTED_PAGE), location
    session_id = urlsplit(location).path.removeprefix(urlsplit(HOSTED_PAGE).path)
    assert session_id.startswith("cs_sim_"), session_id
    query = parse_qs(urlsplit(location).query)
    assert query == {
        "amount": ["5000"],
        "currency": ["USD"],
        "success_url": [SUCCESS_URL],
        "cancel_url": [CANCEL_URL],
    }


def test_each_checkout_is_a_new_session(client: TestClient[Any]) -> None:
    first = hosted_page_of(client, price=5_000)
    second = hosted_page_of(client, price=5_000)
    assert urlsplit(first).path != urlsplit(second).path


def test_the_hosted_page_offers_pay_and_cancel_back_to_this_server_only(
    client: TestClient[Any],
) -> None:
    response = client.get("/checkout", params={"price": 5_000, "currency": "EUR"})

    assert response.status_code == 200, response.text
    assert str(response.url).startswith(HOSTED_PAGE)
    assert response.headers["content-type"].startswith("text/html")
    assert "5000 EUR" in response.text
    assert links(response.text) == {"Pay": SUCCESS_URL, "Cancel": CANCEL_URL}
    paid = client.get(urlsplit(SUCCESS_URL).path)
    cancelled = client.get(urlsplit(CANCEL_URL).path)
    assert (paid.status_code, cancelled.status_code) == (200, 200)
    assert "Payment received" in paid.text
    assert "Nothing was charged" in cancelled.text


def test_without_a_public_url_the_pages_live_at_the_listening_address() -> None:
    settings = memory_settings(host="127.0.0.1", port=8123)
    with running_client(settings) as client:
        location = hosted_page_of(client, price=100)
    assert location.startswith("http://127.0.0.1:8123/simulated-gateway/checkout/cs_sim_")
    query = parse_qs(urlsplit(location).query)
    assert query["success_url"] == ["http://127.0.0.1:8123/checkout/success"]
    assert query["cancel_url"] == ["http://127.0.0.1:8123/checkout/cancel"]


def test_checkout_records_nothing_in_the_ledger(client: TestClient[Any]) -> None:
    before = ledger_state(client)
    client.get("/checkout", params={"price": 5_000})
    assert ledger_state(client) == before


@pytest.mark.parametrize("price", ["0", "-1", "-5000", "abc", "", "12.5", "1" * 20])
def test_a_bad_price_is_a_validation_problem(client: TestClient[Any], price: str) -> None:
    body = expect_problem(start(client, price=price), 422, "validation_error")
    assert body["errors"][0]["source"] == "query"
    assert body["errors"][0]["path"] == "price"


def test_a_missing_price_is_a_validation_problem(client: TestClient[Any]) -> None:
    expect_problem(start(client), 422, "validation_error")


@pytest.mark.parametrize("currency", ["XXX", "usd", "ZZZ"])
def test_an_unknown_currency_is_a_422_problem(client: TestClient[Any], currency: str) -> None:
    expect_problem(start(client, price=5_000, currency=currency), 422, "unknown_currency")


@pytest.mark.parametrize("currency", ["", "US", "EURO"])
def test_a_currency_that_is_not_three_letters_is_a_validation_problem(
    client: TestClient[Any], currency: str
) -> None:
    expect_problem(start(client, price=5_000, currency=currency), 422, "validation_error")


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.example/checkout/success",
        "//evil.example/checkout/success",
        "/checkout/success",
        "javascript:alert(1)",
        "https://testserver.local/checkout/success",  # another scheme is another origin
    ],
)
@pytest.mark.parametrize("which", ["success", "cancel"])
def test_the_hosted_page_refuses_foreign_return_urls(
    client: TestClient[Any], foreign: str, which: str
) -> None:
    if which == "success":
        response = page_with(client, success_url=foreign)
    else:
        response = page_with(client, success_url=SUCCESS_URL, cancel_url=foreign)
    assert "not valid" in response.text
    assert links(response.text) == {}
    assert foreign not in response.text


@pytest.mark.parametrize(
    "foreign",
    [
        f"{BASE_URL}.evil.example/checkout/success",
        f"{BASE_URL}@evil.example/checkout/success",
        f"{BASE_URL}:8443/checkout/success",
    ],
)
def test_the_hosted_page_refuses_urls_that_only_start_like_ours(
    client: TestClient[Any], foreign: str
) -> None:
    response = page_with(client, success_url=foreign)
    assert links(response.text) == {}
    assert foreign not in response.text


def test_the_hosted_page_escapes_what_it_shows(client: TestClient[Any]) -> None:
    session = urlsplit(hosted_page_of(client, price=5_000)).path
    params: dict[str, str | int] = {
        "amount": 5_000,
        "currency": "<b>",
        "success_url": f"{SUCCESS_URL}?a=1&b=\"'><script>",
        "cancel_url": CANCEL_URL,
    }
    response = client.get(session, params=params)
    assert response.status_code == 200, response.text
    assert "<script>" not in response.text
    assert "<b>" not in response.text


@pytest.mark.parametrize("amount", ["0", "-1", "abc"])
def test_the_hosted_page_refuses_a_bad_amount(client: TestClient[Any], amount: str) -> None:
    session = urlsplit(hosted_page_of(client, price=5_000)).path
    params = {"amount": amount, "success_url": SUCCESS_URL, "cancel_url": CANCEL_URL}
    expect_problem(client.get(session, params=params), 422, "validation_error")


# With Stripe as the gateway.


def test_with_stripe_checkout_redirects_to_stripes_hosted_page(
    stripe_checkout: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe_checkout
    location = hosted_page_of(client, price=5_000)
    assert location.startswith("https://checkout.stripe.test/c/pay/cs_test_fake_"), location
    assert fake.requests("/v1/checkout/sessions") == 1


def test_with_stripe_down_checkout_is_a_bad_gateway_problem(
    stripe_checkout: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe_checkout
    fake.fail_next(1, 500)
    response = start(client, price=5_000)
    assert response.status_code == 502, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
