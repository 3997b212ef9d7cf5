"""Ledger benchmark on PostgreSQL: raw insert limit vs transfers via the application and HTTP.

Prints, all measured in this run on a fresh schema (dropped at the end):
  (a) raw limit: single-row INSERT transactions/s, psycopg, 16 concurrent clients;
  (b) ledger transfers/s through the application layer, 16 concurrent producers;
  (c) transfers/s over HTTP at 32 concurrent connections, with p50/p99 latency;
and the ratios (b)/(a) and (c)/(a).

Usage: uv run python bench/ledger.py [--seconds 10] [--http-workers 1] [--dsn postgresql://...]
The HTTP load comes from wrk when it is installed (apt-get install wrk), else from httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.principal import SYSTEM
from application.runner import CommandRunner
from application.wallets import WalletService
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings

WALLETS = 400
START_BALANCE = 10**12
ADMIN_EMAIL = "admin@bench.test"
ADMIN_PASSWORD = "bench-admin-password"


def raw_inserts(dsn: str, schema: str, clients: int, seconds: float) -> float:
    """Single-row INSERT commits/s into a table shaped like the event store's."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {schema}.raw_events (originator_id uuid, originator_version int, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
    state = os.urandom(200)
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                conn.execute(
                    f"INSERT INTO {schema}.raw_events VALUES (%s, 1, 'bench', %s)",
                    (uuid.uuid4(), state),
                    prepare=True,
                )
                counts[i] += 1

    run_threads(client, clients)
    return sum(counts) / seconds


def run_threads(target, n: int) -> None:  # type: ignore[no-untyped-def]
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def customers() -> list[str]:
    return [f"bench-{i}" for i in range(WALLETS)]


def app_transfers(settings: Settings, producers: int, seconds: float) -> tuple[float, int]:
    """Transfers/s through the application layer (group commit, cached aggregates)."""
    container = build_sync_container(settings, create_tables=False)
    wallets = container.get(WalletService)
    names = customers()
    for name in names:
        wallets.open_wallet(SYSTEM, name, "USD")
        wallets.credit_wallet(SYSTEM, name, START_BALANCE, "USD")
    counts = [0] * producers
    deadline = time.monotonic() + seconds

    def producer(i: int) -> None:
        rng = random.Random(i)
        while time.monotonic() < deadline:
            a, b = rng.sample(names, 2)
            wallets.transfer(SYSTEM, a, b, 1, "USD")
            counts[i] += 1

    run_threads(producer, producers)
    conflicts = container.get(CommandRunner).conflicts
    container.close()
    return sum(counts) / seconds, conflicts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def http_load(
    base: str, token: str, connections: int, seconds: float
) -> tuple[float, list[float]]:
    names = customers()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker(i: int) -> None:
            rng = random.Random(1000 + i)
            while time.monotonic() < deadline:
                a, b = rng.sample(names, 2)
                body = {"from_customer_id": a, "to_customer_id": b, "amount": 1, "currency": "USD"}
                started = time.perf_counter()
                response = await client.post("/transfers", json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        await asyncio.gather(*(worker(i) for i in range(connections)))
    return len(latencies) / seconds, latencies


WRK_SCRIPT = """
local wallets = %d
local bearer = "Bearer %s"
request = function()
  local a = math.random(0, wallets - 1)
  local b = math.random(0, wallets - 2)
  if b >= a then b = b + 1 end
  local body = string.format(
    '{"from_customer_id":"bench-%%d","to_customer_id":"bench-%%d","amount":1,"currency":"USD"}',
    a, b)
  return wrk.format("POST", "/transfers",
    {["Content-Type"] = "application/json", ["Authorization"] = bearer}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def wrk_load(base: str, token: str, connections: int, seconds: float) -> tuple[float, float, float]:
    """Load from wrk (C, light on the CPU the server needs): rate, p50 ms, p99 ms."""
    script = Path(tempfile.mkdtemp()) / "transfers.lua"
    script.write_text(WRK_SCRIPT % (WALLETS, token))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50_us, p99_us, bad_status, socket_errors = line.split()[1:]
    if int(bad_status) or int(socket_errors):
        raise RuntimeError(f"wrk saw {bad_status} non-2xx and {socket_errors} socket errors")
    return int(requests) / (int(duration_us) / 1e6), float(p50_us) / 1000, float(p99_us) / 1000


def http_transfers(
    settings_env: dict[str, str], workers: int, connections: int, seconds: float
) -> tuple[float, float, float]:
    port = free_port()
    env = {
        **os.environ,
        **settings_env,
        "PAYLEDGER_PORT": str(port),
        "PAYLEDGER_PROJECTIONS_IN_PROCESS": "false",
        "PAYLEDGER_LOG_LEVEL": "warning",
        # Every request carries the first admin's token and is checked, as in production.
        "PAYLEDGER_JWT_SECRET": secrets.token_urlsafe(32),
        "PAYLEDGER_ADMIN_EMAIL": ADMIN_EMAIL,
        "PAYLEDGER_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    exe = Path(sys.executable).parent / "payledger"
    server = subprocess.Popen(
        [str(exe), "serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        form = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        token = httpx.post(f"{base}/token", data=form, timeout=30).json()["access_token"]
        asyncio.run(http_load(base, token, connections, 1.0))  # warm caches and connections
        if shutil.which("wrk"):
            return wrk_load(base, token, connections, seconds)
        rate, latencies = asyncio.run(http_load(base, token, connections, seconds))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    quantiles = statistics.quantiles(latencies, n=100)
    return rate, quantiles[49] * 1000, quantiles[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--http-workers", type=int, default=1)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    env = {
        "PAYLEDGER_DATABASE_URL": args.dsn,
        "PAYLEDGER_DATABASE_SCHEMA": schema,
        # PostgreSQL needs a card-fingerprint secret to serve: one for this run.
        "PAYLEDGER_CARD_FINGERPRINT_SECRET": secrets.token_urlsafe(32),
    }
    settings = load_settings(env)
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        raw = raw_inserts(args.dsn, schema, 16, args.seconds)
        print(f"(a) raw single-row INSERT commits/s, 16 clients: {raw:,.0f}", flush=True)
        migrate(settings)
        app_rate, conflicts = app_transfers(settings, 16, args.seconds)
        print(
            f"(b) transfers/s via application, 16 producers: {app_rate:,.0f} "
            f"(conflicts retried: {conflicts})",
            flush=True,
        )
        http_rate, p50, p99 = http_transfers(env, args.http_workers, 32, args.seconds)
        print(
            f"(c) transfers/s over HTTP, 32 connections, {args.http_workers} server "
            f"processes: {http_rate:,.0f} (p50 {p50:.1f} ms, p99 {p99:.1f} ms)"
        )
        print(f"ratio (b)/(a) = {app_rate / raw:.2f}   ratio (c)/(a) = {http_rate / raw:.2f}")
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
