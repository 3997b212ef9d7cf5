"""Payments benchmark on PostgreSQL: payments/s over HTTP against the raw insert limit.

Measured in one run, on a fresh schema (dropped at the end):
  (a) raw limit: single-row INSERT commits/s with psycopg at 16 clients (as bench/ledger.py);
  (d) wallet payments: POST /payments/s at 32 connections, p50/p99, and how fast the payment
      processor then settles them (payments settled/s, end to end);
  (e) card payments through the simulated gateway (zero latency, no random failures): same.
Ratios are against (a). Needs wrk (apt-get install wrk) for the HTTP load.

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

WRK_SCRIPT = """
local payers = %d
local method = "%s"
request = function()
  local body
  if method == "wallet" then
    body = string.format('{"amount":100,"currency":"USD","recipient":"school-1",'
      .. '"method":"wallet","payer_id":"payer-%%d"}', math.random(0, payers - 1))
  else
    body = '{"amount":100,"currency":"USD","recipient":"shop-1","method":"card",'
      .. '"card":{"number":"4242424242424242","exp_month":12,"exp_year":2040}}'
  end
  return wrk.format("POST", "/payments", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def wrk_payments(base: str, method: str, seconds: float) -> tuple[int, float, float, float]:
    script = Path(tempfile.mkdtemp()) / f"{method}.lua"
    script.write_text(WRK_SCRIPT % (PAYERS, method))
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


def settled_count(base: str) -> tuple[int, int]:
    summary = httpx.get(f"{base}/summary", timeout=30).json()
    done = summary["success"] + summary["failed"] + summary["refunded"]
    return summary["total"], done


def drain(base: str, started: float, timeout_s: float = 600) -> float:
    """Seconds from `started` until every payment has left CREATED/PROCESSING."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        total, done = settled_count(base)
        if done >= total:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("payments did not settle in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
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
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(PAYERS):
                client.post("/wallets", json={"customer_id": f"payer-{i}", "currency": "USD"})
                client.post(
                    f"/wallets/payer-{i}/credit", json={"amount": 10**12, "currency": "USD"}
                )
        drain(base, time.monotonic())
        for label, method in (("(d) wallet", "wallet"), ("(e) card", "card")):
            before, _ = settled_count(base)
            started = time.monotonic()
            _, rate, p50, p99 = wrk_payments(base, method, args.seconds)
            elapsed = drain(base, started)
            settled = (settled_count(base)[0] - before) / elapsed
            print(
                f"{label} payments: POST {rate:,.0f}/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms), "
                f"settled end to end {settled:,.0f}/s; ratios {rate / raw:.3f} and "
                f"{settled / raw:.3f}",
                flush=True,
            )
        print(json.dumps(httpx.get(f"{base}/summary").json()["by_status"]))
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
