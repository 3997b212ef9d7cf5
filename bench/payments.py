"""Payments benchmark on PostgreSQL: payments/s over HTTP against the raw insert limit.

Measured in one run, on a fresh schema (dropped at the end):
  (a) raw limit: single-row INSERT commits/s with psycopg at 16 clients (as bench/ledger.py);
  (d) wallet payments: POST /payments/s at 32 connections, p50/p99, and how fast the payment
      processor then settles them (payments settled/s, end to end);
  (e) card payments through the simulated gateway (zero latency, no random failures): same;
  (f) reads: GET /payments/{id} (random ids of payments made above) and
      GET /wallets/{id}?currency=USD (random payers), each at 32 connections, p50/p99.
Ratios of (d) and (e) are against (a). Needs wrk (apt-get install wrk) for the HTTP load.

Usage: uv run python bench/payments.py [--seconds 10] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger import free_port, raw_inserts

PAYERS = 200
ADMIN_EMAIL = "admin@bench.test"
ADMIN_PASSWORD = "bench-admin-password"

WRK_SCRIPT = """
local payers = %d
local method = "%s"
local bearer = "Bearer %s"
request = function()
  local body
  if method == "wallet" then
    body = string.format('{"amount":100,"currency":"USD","recipient":"school-1",'
      .. '"method":"wallet","payer_id":"payer-%%d"}', math.random(0, payers - 1))
  else
    body = '{"amount":100,"currency":"USD","recipient":"shop-1","method":"card",'
      .. '"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040}}'
  end
  return wrk.format("POST", "/payments",
    {["Content-Type"] = "application/json", ["Authorization"] = bearer}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def wrk_payments(
    base: str, token: str, method: str, seconds: float
) -> tuple[int, float, float, float]:
    script = Path(tempfile.mkdtemp()) / f"{method}.lua"
    script.write_text(WRK_SCRIPT % (PAYERS, method, token))
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{int(seconds)}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p99, bad = line.split()[1:]
    if int(bad):
        raise RuntimeError(f"{bad} non-2xx responses")
    return (
        int(requests),
        int(requests) / (int(duration_us) / 1e6),
        float(p50) / 1e3,
        float(p99) / 1e3,
    )


GET_SCRIPT = """
local paths = {%s}
local bearer = "Bearer %s"
request = function()
  return wrk.format("GET", paths[math.random(1, #paths)], {["Authorization"] = bearer})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""
READ_IDS = 500  # payments whose ids the read load picks from


def wrk_gets(base: str, token: str, paths: list[str], seconds: float) -> tuple[float, float, float]:
    """GETs of random `paths` at 32 connections: rate, p50 ms, p99 ms."""
    script = Path(tempfile.mkdtemp()) / "gets.lua"
    script.write_text(GET_SCRIPT % (", ".join(f'"{path}"' for path in paths), token))
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{int(seconds)}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p99, bad = line.split()[1:]
    if int(bad):
        raise RuntimeError(f"{bad} non-2xx responses")
    return int(requests) / (int(duration_us) / 1e6), float(p50) / 1e3, float(p99) / 1e3


def settled_count(base: str, token: str) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {token}"}
    summary = httpx.get(f"{base}/summary", headers=headers, timeout=30).json()
    done = summary["success"] + summary["failed"] + summary["refunded"]
    return summary["total"], done


def drain(base: str, token: str, started: float, timeout_s: float = 600) -> float:
    """Seconds from `started` until every payment has left CREATED/PROCESSING."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        total, done = settled_count(base, token)
        if done >= total:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("payments did not settle in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--parts", default="def", help="which of (d), (e), (f) to run")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    port = free_port()
    env = {
        **os.environ,
        "PAYLEDGER_DATABASE_URL": args.dsn,
        "PAYLEDGER_DATABASE_SCHEMA": schema,
        "PAYLEDGER_CARD_FINGERPRINT_SECRET": secrets.token_urlsafe(32),
        "PAYLEDGER_PORT": str(port),
        "PAYLEDGER_PROJECTIONS_IN_PROCESS": "true",
        "PAYLEDGER_FAILURE_RATE": "0",
        "PAYLEDGER_LOG_LEVEL": "warning",
        # Every request carries the first admin's token and is checked, as in production.
        "PAYLEDGER_JWT_SECRET": secrets.token_urlsafe(32),
        "PAYLEDGER_ADMIN_EMAIL": ADMIN_EMAIL,
        "PAYLEDGER_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    server = None
    try:
        raw = raw_inserts(args.dsn, schema, 16, args.seconds)
        print(f"(a) raw single-row INSERT commits/s, 16 clients: {raw:,.0f}", flush=True)
        exe = Path(sys.executable).parent / "payledger"
        server = subprocess.Popen(
            [str(exe), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        form = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        token = httpx.post(f"{base}/token", data=form, timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for i in range(PAYERS):
                client.post("/wallets", json={"customer_id": f"payer-{i}", "currency": "USD"})
                client.post(
                    f"/wallets/payer-{i}/credit", json={"amount": 10**12, "currency": "USD"}
                )
        drain(base, token, time.monotonic())
        for part, label, method in (("d", "(d) wallet", "wallet"), ("e", "(e) card", "card")):
            if part not in args.parts:
                continue
            before, _ = settled_count(base, token)
            started = time.monotonic()
            _, rate, p50, p99 = wrk_payments(base, token, method, args.seconds)
            elapsed = drain(base, token, started)
            settled = (settled_count(base, token)[0] - before) / elapsed
            print(
                f"{label} payments: POST {rate:,.0f}/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms), "
                f"settled end to end {settled:,.0f}/s; ratios {rate / raw:.3f} and "
                f"{settled / raw:.3f}",
                flush=True,
            )
        if "f" not in args.parts:
            return
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            payment_paths = []
            for i in range(READ_IDS):
                body = {
                    "amount": 100,
                    "currency": "USD",
                    "recipient": "school-1",
                    "method": "wallet",
                    "payer_id": f"payer-{i % PAYERS}",
                }
                made = client.post("/payments", json=body).json()
                payment_paths.append(f"/payments/{made['id']}")
        drain(base, token, time.monotonic())
        wallet_paths = [f"/wallets/payer-{i}?currency=USD" for i in range(PAYERS)]
        for label, paths in (("payment", payment_paths), ("wallet", wallet_paths)):
            rate, p50, p99 = wrk_gets(base, token, paths, args.seconds)
            print(f"(f) GET one {label}: {rate:,.0f}/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms)")
        print(json.dumps(httpx.get(f"{base}/summary", headers=headers).json()["by_status"]))
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
