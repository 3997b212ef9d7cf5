"""`/dashboard` in a real browser: headless Chromium signs in through the form, sees the
figures, and, while a payment is made through the API, sees the page change by itself (no
reload: server-sent events), with every request on loopback.

Runs on SQLite (the signal comes from this process's saves) and on PostgreSQL (LISTEN/NOTIFY).
Skipped without Chromium, failed without it when `PAYLEDGER_REQUIRE_SERVICES=1`.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect as expect_page

from tests.e2e.api import client, expect
from tests.support.browser import PageTraffic, chromium_page, require_chromium, stays_on_loopback
from tests.support.server import E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, RunningServer, running_server

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000


def _pay(server: RunningServer, recipient: str, amount: int, wait: bool = True) -> None:
    with client(server.base_url) as api:
        body = {"amount": amount, "currency": "USD", "recipient": recipient}
        expect(api.post(f"/payments?wait={str(wait).lower()}", json=body), 201)


def _sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/dashboard", timeout=TIMEOUT_MS)
    assert page.url == f"{base_url}/dashboard/login"
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard", timeout=TIMEOUT_MS)


def _figure(page: Page, name: str) -> str:
    return page.locator(f"#panel-totals [data-figure={name}]").inner_text().strip()


def _assert_quiet(traffic: PageTraffic) -> None:
    assert any("/dashboard/assets/dashboard.js" in url for url in traffic.requests)
    assert any("/dashboard/events" in url for url in traffic.requests)
    assert [url for url in traffic.requests if not stays_on_loopback(url)] == []
    assert traffic.blocked == []
    assert traffic.errors == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_dashboard_signs_in_shows_the_figures_and_updates_live(backend: str) -> None:
    chromium = require_chromium()
    with running_server(backend) as server:
        _pay(server, "before-sign-in", 1250)
        _pay(server, "before-sign-in", 999)
        with chromium_page(chromium) as (page, traffic):
            _sign_in(page, server.base_url, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD)
            cookies = {c["name"]: c for c in page.context.cookies()}
            session = cookies["payledger_dashboard"]
            assert session["httpOnly"] is True
            assert session["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""  # scripts cannot read it

            assert _figure(page, "total") == "2"
            assert "before-sign-in" in page.locator("#panel-recent").inner_text()
            page.wait_for_selector("#live[data-state=live]", timeout=TIMEOUT_MS)

            # A mark on the window: a reload would wipe it.
            page.evaluate("window.__no_reload = 'still here'")
            navigations = page.evaluate("performance.getEntriesByType('navigation').length")
            recipient = f"live-{uuid.uuid4().hex[:8]}"
            _pay(server, recipient, 4321)
            total = page.locator("#panel-totals [data-figure=total]")
            expect_page(total).to_have_text("3", timeout=TIMEOUT_MS)
            page.locator("#panel-recent", has_text=recipient).wait_for(timeout=TIMEOUT_MS)
            assert "43.21 USD" in page.locator("#panel-recent").inner_text()
            assert page.evaluate("window.__no_reload") == "still here"
            assert page.evaluate("performance.getEntriesByType('navigation').length") == navigations
            assert page.url == f"{server.base_url}/dashboard"

            # Signing out ends the session: the page leads back to the form.
            page.click("header form button[type=submit]")
            page.wait_for_url(f"{server.base_url}/dashboard/login", timeout=TIMEOUT_MS)
            page.goto(f"{server.base_url}/dashboard", timeout=TIMEOUT_MS)
            assert page.url == f"{server.base_url}/dashboard/login"
            _assert_quiet(traffic)


def test_a_customer_signing_in_is_refused_in_the_browser() -> None:
    chromium = require_chromium()
    with running_server("sqlite") as server:
        email, password = f"c-{uuid.uuid4().hex[:8]}@example.com", "customer-password"
        with client(server.base_url) as api:
            expect(api.post("/users", json={"email": email, "password": password}), 201)
        with chromium_page(chromium) as (page, traffic):
            page.goto(f"{server.base_url}/dashboard/login", timeout=TIMEOUT_MS)
            page.fill("input[name=username]", email)
            page.fill("input[name=password]", password)
            with page.expect_response("**/dashboard/login") as answer:
                page.click("form.login button[type=submit]")
            assert answer.value.status == 403
            assert "Only admins may open the dashboard." in page.locator("body").inner_text()
            assert page.context.cookies() == []
            assert [url for url in traffic.requests if not stays_on_loopback(url)] == []
