"""Ledger benchmark on PostgreSQL: raw insert limit vs transfers via the application and HTTP.

Prints, all measured in this run on a fresh schema (dropped at the end):
  (a) raw limit: single-row INSERT transactions/s, psycopg, 16 concurrent clients;
  (b) ledger transfers/s through the application layer, 16 concurrent producers;
  (c) transfers/s over HTTP at 32 concurrent connections, with p50/p99 latency;
and the ratios (b)/(a) and (c)/(a).

Usage: uv run python bench/ledger.py [--seconds 10] [--http-workers 1] [--dsn postgresql://...]
The HTTP load comes from wrk (apt-get install wrk), signed in as an admin.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Server, secrets_env, wrk
from http_figures import transfers_script

from application.principal import SYSTEM
from application.runner import CommandRunner
from application.wallets import WalletService
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings

WALLETS = 400
START_BALANCE = 10**12


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


def http_transfers(
    settings_env: dict[str, str], workers: int, connections: int, seconds: float
) -> tuple[float, float, float]:
    """Transfers/s over HTTP (wrk, signed in as an admin): rate, p50 ms, p99 ms."""
    env = {**settings_env, "PAYLEDGER_PROJECTIONS_IN_PROCESS": "false", **secrets_env()}
    with Server(env, workers=workers) as server:
        wrk(server.base, transfers_script(server.token), connections, 1)  # warm up
        result = wrk(server.base, transfers_script(server.token), connections, seconds)
    if result.bad_status or result.socket_errors:
        raise RuntimeError(
            f"wrk saw {result.bad_status} non-2xx and {result.socket_errors} socket errors"
        )
    return result.rate, result.p50_ms, result.p99_ms


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
