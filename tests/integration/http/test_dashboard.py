"""`/dashboard` over HTTP: the sign-in form, the session cookie's flags, who is refused, and
what the page and its live stream show. (The live page in a browser:
`tests/e2e/test_dashboard_browser.py`.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.http.dashboard.session import COOKIE_NAME
from tests.integration.http.people_support import sign_in, sign_up
from tests.integration.http.support import (
    ADMIN_EMAIL,
    TEST_PASSWORD,
    admin_headers,
    memory_settings,
    running_client,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CUSTOMER_EMAIL = "carol@example.com"


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(signed_in=False) as client:
        client.follow_redirects = False
        yield client


def _admin(client: TestClient[Any]) -> dict[str, str]:
    return admin_headers(client)


def _log_in(client: TestClient[Any], email: str, password: str = TEST_PASSWORD, **headers: str):
    return client.post(
        "/dashboard/login", data={"username": email, "password": password}, headers=headers
    )


def _set_cookie(response: Any) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_without_a_session_the_page_leads_to_the_sign_in_form(client: TestClient[Any]) -> None:
    response = client.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"
    form = client.get("/dashboard/login")
    assert form.status_code == 200
    assert '<form class="login" method="post" action="/dashboard/login">' in form.text
    assert client.get("/dashboard/events").status_code == 401


def test_an_admin_signs_in_with_a_cookie_scripts_cannot_read(client: TestClient[Any]) -> None:
    _admin(client)
    response = _log_in(client, ADMIN_EMAIL)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = _set_cookie(response)
    assert cookie.startswith(f"{COOKIE_NAME}=ey")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/dashboard", "max-age=1800"} <= flags
    assert "secure" not in flags  # plain http here: a Secure cookie would never come back
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert 'id="panel-totals"' in page.text


def test_the_cookie_is_secure_when_the_service_is_reached_over_https() -> None:
    settings = memory_settings(public_url="https://payments.example.com")
    with running_client(settings, signed_in=False) as client:
        client.follow_redirects = False
        _admin(client)
        cookie = _set_cookie(_log_in(client, ADMIN_EMAIL))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_password_gets_the_form_again_and_no_cookie(client: TestClient[Any]) -> None:
    _admin(client)
    response = _log_in(client, ADMIN_EMAIL, "not-the-password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/dashboard").status_code == 303


def test_failed_sign_ins_are_rate_limited_like_the_token_endpoint() -> None:
    settings = memory_settings(login_attempts_per_minute=2)
    with running_client(settings, signed_in=False) as client:
        _admin(client)
        statuses = [_log_in(client, ADMIN_EMAIL, "wrong-password").status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        limited = _log_in(client, ADMIN_EMAIL)  # even the right password waits now
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "Too many sign-in attempts" in limited.text
        assert "set-cookie" not in limited.headers


def test_a_customer_is_refused_and_gets_no_session(client: TestClient[Any]) -> None:
    sign_up(client, CUSTOMER_EMAIL)
    response = _log_in(client, CUSTOMER_EMAIL)
    assert response.status_code == 403
    assert "Only admins may open the dashboard." in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/dashboard").status_code == 303


def test_a_customers_token_in_the_cookie_opens_nothing(client: TestClient[Any]) -> None:
    token = sign_in(client, sign_up(client, CUSTOMER_EMAIL) and CUSTOMER_EMAIL)
    client.cookies.set(COOKIE_NAME, token["Authorization"].removeprefix("Bearer "))
    page = client.get("/dashboard")
    assert page.status_code == 403
    assert "panel-totals" not in page.text
    assert client.get("/dashboard/events").status_code == 403


def test_a_forged_or_garbage_cookie_is_no_session(client: TestClient[Any]) -> None:
    client.cookies.set(COOKIE_NAME, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    assert client.get("/dashboard").status_code == 303
    client.cookies.set(COOKIE_NAME, "x" * 10_000)
    assert client.get("/dashboard").status_code == 303


def test_a_sign_in_posted_from_another_site_is_refused(client: TestClient[Any]) -> None:
    _admin(client)
    response = _log_in(client, ADMIN_EMAIL, origin="https://evil.example")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    own = _log_in(client, ADMIN_EMAIL, origin="http://testserver.local")
    assert own.status_code == 303


def test_signing_out_clears_the_cookie(client: TestClient[Any]) -> None:
    _admin(client)
    _log_in(client, ADMIN_EMAIL)
    response = client.post("/dashboard/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"
    cookie = _set_cookie(response)
    assert cookie.startswith(f'{COOKIE_NAME}=""') or cookie.startswith(f"{COOKIE_NAME}=;")
    assert "max-age=0" in cookie.lower()
    assert client.get("/dashboard").status_code == 303


def test_the_session_cookie_is_not_a_key_to_the_api(client: TestClient[Any]) -> None:
    _admin(client)
    token = _set_cookie(_log_in(client, ADMIN_EMAIL)).split(";")[0].split("=", 1)[1]
    client.cookies.set(COOKIE_NAME, token)  # as if the browser sent it everywhere
    response = client.get("/summary")
    assert response.status_code == 401


def test_pages_forbid_framing_caching_and_foreign_scripts(client: TestClient[Any]) -> None:
    _admin(client)
    _log_in(client, ADMIN_EMAIL)
    for path in ("/dashboard", "/dashboard/login"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self';" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


def test_the_page_shows_the_figures_and_not_available_panels(client: TestClient[Any]) -> None:
    auth = _admin(client)
    _log_in(client, ADMIN_EMAIL)
    for amount in (1250, 20_000_00):  # 20,000.00 USD is above the fraud threshold
        body = {"amount": amount, "currency": "USD", "recipient": "shop"}
        assert client.post("/payments", json=body, headers=auth).status_code == 201
    client.post("/wallets", json={"customer_id": "alice", "currency": "EUR"}, headers=auth)

    def shown() -> bool:
        text = client.get("/dashboard").text
        return 'data-figure="total">2<' in text and "FRAUD_SUSPECTED" in text and "EUR" in text

    eventually(shown)
    page = client.get("/dashboard").text
    assert 'data-reason="FRAUD_SUSPECTED">1<' in page
    # The 12.50 payment goes to the simulated legacy gateway, which fails a share at random.
    assert any(f'data-amount="USD/FAILED">{n}<' in page for n in ("20,000.00", "20,012.50"))
    assert '<svg class="chart"' in page
    for panel in ("relay",):  # no NATS configured
        section = page.split(f'id="panel-{panel}"')[1].split("</section>")[0]
        assert "Not available" in section, panel

    assert '<script src="/dashboard/assets/dashboard.js" defer></script>' in page
    script = client.get("/dashboard/assets/dashboard.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert client.get("/dashboard/assets/dashboard.css").status_code == 200


def test_text_from_payments_is_escaped_in_the_page(client: TestClient[Any]) -> None:
    auth = _admin(client)
    _log_in(client, ADMIN_EMAIL)
    body = {"amount": 100, "currency": "USD", "recipient": "<script>alert(1)</script>"}
    assert client.post("/payments", json=body, headers=auth).status_code == 201
    eventually(lambda: "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/dashboard").text)
    assert "<script>alert(1)" not in client.get("/dashboard").text


def test_the_dashboard_is_not_in_the_api_document(client: TestClient[Any]) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/dashboard")]


def test_the_installments_panel_counts_plans_and_what_they_owe(client: TestClient[Any]) -> None:
    auth = _admin(client)
    _log_in(client, ADMIN_EMAIL)
    body = {"customer_id": "alice", "amount": 9_000, "currency": "EUR", "count": 3}
    assert client.post("/installments/orders", json=body, headers=auth).status_code == 201

    def section() -> str:
        page = client.get("/dashboard").text
        return page.split('id="panel-installments"')[1].split("</section>")[0]

    eventually(lambda: "PENDING" in section())
    shown = section()
    assert '<span class="n">1</span><span class="k">plans</span>' in shown
    assert "outstanding EUR" in shown
    assert "90.00" in shown
