"""Take `docs/dashboard.png`: a fresh server with demo data, the dashboard in headless
Chromium (Debian's; Playwright downloads nothing), signed in through the form.

    uv run python scripts/dashboard_screenshot.py [--out docs/dashboard.png]

It runs `payledger seed-demo` (admin `admin@schooly.com` / `adminpassword`) in a temporary
data folder, starts `payledger serve` there, makes wallets, transfers and payments (some fail,
some are refunded) through the API, then signs in and takes the picture. It also measures how
long the open page takes to show a new payment (API answer -> figure on the page, no reload).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect as expect_page
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PAYLEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
ADMIN, PASSWORD = "admin@schooly.com", "adminpassword"
CUSTOMERS = ("alice", "bob", "carol", "dave", "erin")
STARTUP_TIMEOUT_S = 30.0
TIMEOUT_MS = 20_000
LIVE_SAMPLES = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLEDGER_")}
    env.update({"PAYLEDGER_DATA_DIR": str(data_dir), "PAYLEDGER_PORT": str(port)})
    return env


def _wait_healthy(base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def _demo_data(api: httpx.Client) -> None:
    """Wallets in two currencies, top-ups and transfers, and payments of every outcome."""
    rng = random.Random(7)  # the same picture every run
    for customer in CUSTOMERS:
        for currency in ("USD", "EUR"):
            api.post("/wallets", json={"customer_id": customer, "currency": currency})
            top_up = {"amount": rng.randrange(10_000, 90_000), "currency": currency}
            api.post(f"/wallets/{customer}/credit", json=top_up)
    for _ in range(6):
        payer, payee = rng.sample(CUSTOMERS, 2)
        body = {"from_customer_id": payer, "to_customer_id": payee, "amount": 1_500}
        api.post("/transfers", json={**body, "currency": "USD"})
    succeeded = []
    for n in range(40):
        currency = rng.choice(("USD", "USD", "EUR", "JPY"))
        amount = rng.randrange(500, 60_000) if n % 13 else 2_000_000  # fraud above 10,000
        body = {"amount": amount, "currency": currency, "recipient": f"shop-{n % 5}"}
        answer = api.post("/payments?wait=true", json=body).json()
        if answer.get("status") == "SUCCESS":
            succeeded.append(answer["id"])
    api.post("/payments", json={"amount": 0, "currency": "USD", "recipient": "shop-0"})
    for payment_id in succeeded[:3]:
        api.post(f"/payments/{payment_id}/refund", json={})
    api.post(f"/payments/{succeeded[3]}/refund", json={"amount": 100})


def _live_latency_s(page, api: httpx.Client) -> list[float]:
    """Seconds from a payment's 201 to the new total on the open page."""
    total = page.locator("#panel-totals [data-figure=total]")
    samples = []
    for _ in range(LIVE_SAMPLES):
        before = int(total.inner_text())
        body = {"amount": 1234, "currency": "USD", "recipient": "shop-live"}
        assert api.post("/payments", json=body).status_code == 201
        started = time.monotonic()
        expect_page(total).to_have_text(str(before + 1), timeout=TIMEOUT_MS)
        samples.append(time.monotonic() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    payledger = str(Path(sys.executable).with_name("payledger"))
    with tempfile.TemporaryDirectory(prefix="payledger-shot-") as data:
        env = _env(Path(data), port)
        subprocess.run([payledger, "seed-demo"], env=env, check=True, capture_output=True)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603
            [payledger, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_healthy(base_url)
            token = httpx.post(
                f"{base_url}/token", data={"username": ADMIN, "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as api:
                _demo_data(api)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
                    )
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(f"{base_url}/dashboard")
                    page.fill("input[name=username]", ADMIN)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("form.login button[type=submit]")
                    page.wait_for_selector("#live[data-state=live]", timeout=TIMEOUT_MS)
                    samples = _live_latency_s(page, api)
                    page.wait_for_timeout(1500)  # the update highlight fades
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.out), full_page=True)
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"wrote {args.out}")
    print(
        f"live update (payment 201 -> figure on the open page, SQLite, {LIVE_SAMPLES} samples): "
        f"median {statistics.median(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
