"""Headless Chromium for tests that look at a page as a person would.

Playwright drives the machine's own Chromium (Debian's `chromium` package); it never downloads
a browser of its own. `require_chromium()` skips the calling test when Chromium is missing, or
fails it when `PAYLEDGER_REQUIRE_SERVICES=1` (as CI sets), like the other real services in
`tests.support.services`. `PAYLEDGER_TEST_CHROMIUM` points at another Chromium binary.

`chromium_page()` opens one page and records every request it makes. Requests that would leave
loopback are recorded and aborted, so a test can assert that none was attempted without any
traffic ever reaching another host.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Route, sync_playwright

from tests.support.services import services_required

CHROMIUM_ENV = "PAYLEDGER_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium phones home (component updates, sync,
# safe browsing) at start; on a machine without internet that is noise and delay.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)
LAUNCH_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1280, "height": 900}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# URLs with these schemes never touch the network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when this machine has none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    if Path(DEFAULT_CHROMIUM).is_file():
        return DEFAULT_CHROMIUM
    return shutil.which("chromium")


def require_chromium() -> str:
    """The Chromium binary; skip the calling test without one, or fail when
    `PAYLEDGER_REQUIRE_SERVICES=1`."""
    path = chromium_path()
    if path is not None:
        return path
    where = os.environ.get(CHROMIUM_ENV) or f"{DEFAULT_CHROMIUM} or on PATH"
    problem = f"Chromium not found at {where} (install it: apt-get install -y chromium)"
    if services_required():
        pytest.fail(f"{problem} (PAYLEDGER_REQUIRE_SERVICES=1)")
    pytest.skip(problem)


def stays_on_loopback(url: str) -> bool:
    """True for URLs that cannot leave this machine: loopback hosts or local schemes."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOOPBACK_HOSTS


@dataclass
class PageTraffic:
    """What a page did: every request URL, the ones aborted for leaving loopback, the ones that
    failed, and the errors its scripts reported."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_route(self, route: Route) -> None:
        url = route.request.url
        if stays_on_loopback(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_request_failed(self, request: Request) -> None:
        self.failed.append(f"{request.url}: {request.failure}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")


@contextmanager
def chromium_page(executable: str) -> Iterator[tuple[Page, PageTraffic]]:
    """A fresh page in headless `executable`, with its traffic recorded (see the module doc)."""
    traffic = PageTraffic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=list(CHROMIUM_ARGS),
            headless=True,
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            # Service workers could fetch outside the page's view of the network: none allowed.
            context = browser.new_context(viewport=VIEWPORT, service_workers="block")
            context.route("**/*", traffic.on_route)
            page = context.new_page()
            page.on("request", traffic.on_request)
            page.on("requestfailed", traffic.on_request_failed)
            page.on("console", traffic.on_console)
            page.on("pageerror", traffic.on_page_error)
            yield page, traffic
        finally:
            browser.close()
