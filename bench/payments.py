"""Payments benchmark on PostgreSQL: payments/s over HTTP against the raw insert limit.

Measured in one run, on a fresh schema (dropped at the end):
  (a) raw limit: single-row INSERT commits/s with psycopg at 16 clients (as bench/ledger.py);
  (d) wallet payments: POST /payments/s at 32 connections, p50/p99, and how fast the payment
      processor then settles them (payments settled/s, end to end);
  (e) card payments through the simulated gateway (zero latency, no random failures): same.
Ratios are against (a). Needs wrk (apt-get install wrk) for the HTTP load; requests carry
an admin's bearer token.

Usage: uv run python bench/payments.py [--seconds 10] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Server, lua_headers, secrets_env, wrk
from http_figures import seed_wallets
from ledger import raw_inserts

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
  return wrk.format("POST", "/payments", nil, body)
end
"""


def wrk_payments(server: Server, method: str, seconds: float) -> tuple[int, float, float, float]:
    script = lua_headers(server.token, json_body=True) + WRK_SCRIPT % (PAYERS, method)
    result = wrk(server.base, script, 32, seconds)
    if result.bad_status:
        raise RuntimeError(f"{result.bad_status} non-2xx responses")
    return result.requests, result.rate, result.p50_ms, result.p99_ms


def settled_count(server: Server) -> tuple[int, int]:
    summary = server.get("/summary")
    done = int(str(summary["success"])) + int(str(summary["failed"]))
    return int(str(summary["total"])), done + int(str(summary["refunded"]))


def drain(server: Server, started: float, timeout_s: float = 600) -> float:
    """Seconds from `started` until every payment has left CREATED/PROCESSING."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        total, done = settled_count(server)
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
    env = {
        "PAYLEDGER_DATABASE_URL": args.dsn,
        "PAYLEDGER_DATABASE_SCHEMA": schema,
        "PAYLEDGER_PROJECTIONS_IN_PROCESS": "true",
        "PAYLEDGER_FAILURE_RATE": "0",
        **secrets_env(),
    }
    try:
        raw = raw_inserts(args.dsn, schema, 16, args.seconds)
        print(f"(a) raw single-row INSERT commits/s, 16 clients: {raw:,.0f}", flush=True)
        with Server(env) as server:
            seed_wallets(server, [f"payer-{i}" for i in range(PAYERS)], 10**12)
            drain(server, time.monotonic())
            for label, method in (("(d) wallet", "wallet"), ("(e) card", "card")):
                before, _ = settled_count(server)
                started = time.monotonic()
                _, rate, p50, p99 = wrk_payments(server, method, args.seconds)
                elapsed = drain(server, started)
                settled = (settled_count(server)[0] - before) / elapsed
                print(
                    f"{label} payments: POST {rate:,.0f}/s (p50 {p50:.1f} ms, "
                    f"p99 {p99:.1f} ms), settled end to end {settled:,.0f}/s; ratios "
                    f"{rate / raw:.3f} and {settled / raw:.3f}",
                    flush=True,
                )
            print(json.dumps(server.get("/summary")["by_status"]))
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
