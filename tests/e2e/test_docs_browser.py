"""`/docs` in a real browser: headless Chromium loads Swagger UI from a `payledger serve`
process and renders every operation of the OpenAPI 3.1 document, without an error box and
without a single request leaving loopback (offline machines must get the same page).

One page load per module: the fixture drives the page (load, wait for it to render, run
"Try it out" on `GET /health`) and records what a person would see; the tests read that record.
Skipped without Chromium, failed without it when `PAYLEDGER_REQUIRE_SERVICES=1`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from entrypoints.http.docs import TOKEN_URL
from tests.support.browser import PageTraffic, chromium_page, require_chromium, stays_on_loopback
from tests.support.server import E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, running_server

pytestmark = pytest.mark.e2e

RENDER_TIMEOUT_MS = 30_000
# Where Swagger UI reports trouble: spec errors, an unsupported `openapi` version, a failed load.
SWAGGER_ERRORS = ".errors-wrapper, .version-pragma, .loading-container .errors"
NOT_RENDERED = "Unable to render this definition"


@dataclass(frozen=True)
class RenderedDocs:
    """What the docs page showed, and the spec it was built from."""

    spec: dict[str, Any]
    page_status: int
    dom_ids: frozenset[str]
    tag_texts: dict[str, str]
    version_stamp: str
    error_boxes: list[str]
    body_text: str
    health_status_shown: str
    me_before_authorize: str
    me_after_authorize: str
    token_requests: int
    traffic: PageTraffic


def _try_get_health(page: Page) -> str:
    """Run "Try it out" on GET /health from the page; the status code it shows."""
    operation = page.locator("#operations-health-GetHealth")
    if not operation.count():
        return "<GET /health is not on the page>"
    operation.locator(".opblock-summary-control").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=RENDER_TIMEOUT_MS)
    return status.inner_text().strip()


def _try_get_me(page: Page) -> str:
    """Run "Try it out" on GET /users/me (it needs a token); the status code it shows."""
    operation = page.locator("#operations-users-GetMe")
    if not operation.count():
        return "<GET /users/me is not on the page>"
    if not operation.locator(".execute").count():
        operation.locator(".opblock-summary-control").click()
        operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=RENDER_TIMEOUT_MS)
    shown = status.inner_text().strip()
    operation.locator(".btn-clear").click()  # the next run shows its own response
    return shown


def _authorize(page: Page, email: str, password: str) -> None:
    """Sign in through Swagger UI's Authorize dialog (the OAuth2 password flow)."""
    page.locator(".auth-wrapper .authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.locator("#oauth_username").fill(email)
    dialog.locator("#oauth_password").fill(password)
    dialog.locator(".auth-btn-wrapper .authorize").click()
    dialog.locator(
        ".auth-btn-wrapper .btn-done, .auth-btn-wrapper button:has-text('Logout')"
    ).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    dialog.locator(".close-modal").click()


def _render(page: Page, traffic: PageTraffic, base_url: str, spec: dict[str, Any]) -> RenderedDocs:
    response = page.goto(f"{base_url}/docs", wait_until="load", timeout=RENDER_TIMEOUT_MS)
    assert response is not None
    # On a timeout, record what the page shows anyway: the tests then say what is missing.
    with suppress(PlaywrightTimeoutError):
        page.wait_for_selector(f".opblock, {SWAGGER_ERRORS}", timeout=RENDER_TIMEOUT_MS)
    dom_ids = page.eval_on_selector_all("[id^='operations-']", "found => found.map(e => e.id)")
    tag_texts = {
        tag["name"]: page.locator(f"#operations-tag-{tag['name']}").inner_text()
        for tag in spec.get("tags", [])
        if page.locator(f"#operations-tag-{tag['name']}").count()
    }
    stamp = page.locator(".info .version-stamp")
    health = _try_get_health(page)
    me_before = _try_get_me(page)
    _authorize(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD)
    me_after = _try_get_me(page)
    return RenderedDocs(
        spec=spec,
        page_status=response.status,
        dom_ids=frozenset(dom_ids),
        tag_texts=tag_texts,
        version_stamp=stamp.inner_text().strip() if stamp.count() else "",
        error_boxes=page.locator(SWAGGER_ERRORS).all_inner_texts(),
        body_text=page.locator("body").inner_text(),
        health_status_shown=health,
        me_before_authorize=me_before,
        me_after_authorize=me_after,
        token_requests=sum(url.endswith(TOKEN_URL) for url in traffic.requests),
        traffic=traffic,
    )


@pytest.fixture(scope="module")
def docs() -> Iterator[RenderedDocs]:
    chromium = require_chromium()
    with running_server("sqlite") as server:
        spec = httpx.get(f"{server.base_url}/openapi.json", timeout=10.0).json()
        with chromium_page(chromium) as (page, traffic):
            rendered = _render(page, traffic, server.base_url, spec)
        yield rendered


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(tag, operationId) for every operation and each of its tags."""
    for item in spec["paths"].values():
        for operation in item.values():
            for tag in operation["tags"]:
                yield tag, operation["operationId"]


def test_the_page_renders_the_openapi_31_document_without_an_error(docs: RenderedDocs) -> None:
    assert docs.page_status == 200
    assert docs.spec["openapi"].startswith("3.1")
    assert docs.error_boxes == []
    assert NOT_RENDERED not in docs.body_text
    assert docs.version_stamp == "OAS 3.1"
    assert docs.spec["info"]["title"] in docs.body_text


def test_every_operation_of_the_spec_is_on_the_page(docs: RenderedDocs) -> None:
    expected = {f"operations-{tag}-{op_id}" for tag, op_id in _operations(docs.spec)}
    assert len(expected) >= 28
    rendered = {dom_id for dom_id in docs.dom_ids if not dom_id.startswith("operations-tag-")}
    assert rendered == expected


def test_every_tag_is_a_section_with_its_description(docs: RenderedDocs) -> None:
    declared = {tag["name"]: tag["description"] for tag in docs.spec["tags"]}
    assert set(docs.tag_texts) == set(declared)
    for name, description in declared.items():
        assert name in docs.tag_texts[name]
        assert description in docs.tag_texts[name], name


def test_try_it_out_calls_this_server(docs: RenderedDocs) -> None:
    assert docs.health_status_shown == "200"
    assert any(url.endswith("/health") for url in docs.traffic.requests)


def test_authorize_signs_in_and_try_it_out_then_sends_the_token(docs: RenderedDocs) -> None:
    assert docs.me_before_authorize == "401"
    assert docs.token_requests == 1
    assert docs.me_after_authorize == "200"


def test_every_request_of_the_page_stays_on_loopback(docs: RenderedDocs) -> None:
    requests = docs.traffic.requests
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in requests), requests
    assert [url for url in requests if not stays_on_loopback(url)] == []
    assert docs.traffic.blocked == []
    assert docs.traffic.failed == []
    # The one error a person sees: the deliberate call before signing in.
    unauthorized = "the server responded with a status of 401"
    assert [e for e in docs.traffic.errors if unauthorized not in e] == []
    assert len(docs.traffic.errors) <= 1
