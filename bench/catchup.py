"""Projection catch-up speed: events/s applied when a view is rebuilt from the whole log.

Writes a log of about --events events (wallets, credits, transfers, holds, wallet and card
payments, refunds) through the application, then times what `payledger projections rebuild
NAME` does for each view (reset, then catch up in the batches its runner reads) and prints
the median of --rounds rounds in events/s. The log is written once per backend and kept
when --data or --schema name an existing one, so runs on different code compare the same
log.

The raw limit, measured in the same run on the same log: the stored events table read in
pages of PAGE_SIZE rows (SELECT and fetch of the columns a runner reads, nothing decoded), with
the backend's own driver. A rebuild reads every one of those rows and then does more, so
each view's figure is also printed as a ratio to it.

Usage: uv run python bench/catchup.py [--backend sqlite|postgres|both] [--events 20000]
       [--rounds 3] [--data DIR] [--schema NAME] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dishka import Container

from application.errors import ApplicationError
from application.holds import HoldService
from application.ledger import Ledger
from application.payments import PaymentRequest, PaymentService
from application.ports.gateway import Card
from application.principal import SYSTEM
from application.refunds import RefundService
from application.settlement import PaymentSettlement
from application.wallets import WalletService
from domain.errors import DomainError
from domain.payment_terms import PaymentMethod
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.projections import projection_runner, rebuild
from entrypoints.settings import Settings, load_settings

CUSTOMERS = 200
ROUNDS_MAX = 1_000
# As the view runners' batches (VIEW_BATCH_SIZE in entrypoints/projections.py).
PAGE_SIZE = 2_000
EVENTS_TABLE = "payledger_events"  # PostgreSQL; the SQLite table is `stored_events`


def write_log(settings: Settings, events: int) -> int:
    """Commands of every kind until the log holds `events` events; returns its length."""
    container = build_sync_container(settings, create_tables=False)
    try:
        ledger = container.get(Ledger)
        position = ledger.log_position() or 0
        if position >= events:
            return position
        wallets, holds = container.get(WalletService), container.get(HoldService)
        refunds = container.get(RefundService)
        names = [f"bench-{i}" for i in range(CUSTOMERS)]
        for name in names:
            wallets.open_wallet(SYSTEM, name, "USD")
            wallets.credit_wallet(SYSTEM, name, 10**9, "USD", "top up")
        card = Card("4242424242424242", 12, 2040)
        for i in range(ROUNDS_MAX * CUSTOMERS):
            if (ledger.log_position() or 0) >= events:
                break
            a, b = names[i % CUSTOMERS], names[(i * 7 + 1) % CUSTOMERS]
            step = i % 5
            if step == 0:
                wallets.transfer(SYSTEM, a, b, 10, "USD", "rent")
            elif step == 1:
                hold = holds.place_hold(SYSTEM, a, 50, "USD", description="hotel").value
                holds.post_hold(SYSTEM, hold.id, 30, to_customer_id=b, description="hotel")
            elif step == 2:
                pay(container, PaymentRequest(a, "school-1", 100, "USD", PaymentMethod.WALLET))
            elif step == 3:
                request = PaymentRequest(a, "shop-1", 200, "USD", PaymentMethod.CARD, card=card)
                paid = pay(container, request)
                if i % 2:
                    # A declined card: nothing to refund.
                    with contextlib.suppress(DomainError, ApplicationError):
                        refunds.refund_payment(SYSTEM, paid, 50, "partial")
            else:
                wallets.debit_wallet(SYSTEM, a, 5, "USD", "fee")
        return ledger.log_position() or 0
    finally:
        container.close()


def pay(container: Container, request: PaymentRequest) -> Any:
    payment_id = container.get(PaymentService).create_payment(SYSTEM, request).value.id
    container.get(PaymentSettlement).advance(payment_id)
    return payment_id


def rebuild_rates(settings: Settings, name: str, rounds: int) -> list[float]:
    """Events/s of `rounds` rebuilds of the view `name`, as the CLI's rebuild does it."""
    container = build_sync_container(settings, create_tables=False)
    try:
        view, runner = projection_runner(container, name)
        rates = []
        for _ in range(rounds):
            started = time.perf_counter()
            applied = rebuild(view, runner)
            rates.append(applied / (time.perf_counter() - started))
    finally:
        container.close()
    return rates


def raw_read_rate(settings: Settings) -> float:
    """Events/s of reading the stored events table in pages of `PAGE_SIZE` rows."""
    if settings.database.backend == "sqlite":
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        with contextlib.closing(sqlite3.connect(settings.database.sqlite_path)) as conn:
            return _paged_read_rate(lambda after: conn.execute(statement, (after, PAGE_SIZE)))
    query = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(Identifier(settings.database.schema), Identifier(EVENTS_TABLE))
    with psycopg.connect(settings.database.url) as conn, conn.cursor() as cur:
        return _paged_read_rate(lambda after: cur.execute(query, (after, PAGE_SIZE), prepare=True))


def _paged_read_rate(select: Callable[[int], Any]) -> float:
    started = time.perf_counter()
    after, count = 0, 0
    while rows := select(after).fetchall():
        count += len(rows)
        after = rows[-1][0]
    return count / (time.perf_counter() - started)


def measure(label: str, settings: Settings, events: int, rounds: int) -> None:
    migrate(settings)
    started = time.perf_counter()
    length = write_log(settings, events)
    print(f"{label}: log of {length:,} events ready in {time.perf_counter() - started:.0f} s")
    raw_rates = [raw_read_rate(settings) for _ in range(rounds)]
    raw = statistics.median(raw_rates)
    print(
        f"{label} raw limit, the events table read in pages of {PAGE_SIZE}: {raw:,.0f} events/s "
        f"(median of {rounds}; {', '.join(f'{r:,.0f}' for r in raw_rates)})",
        flush=True,
    )
    for name in ("ledger", "payments"):
        rates = rebuild_rates(settings, name, rounds)
        median = statistics.median(rates)
        print(
            f"{label} {name} view catch-up: {median:,.0f} events/s "
            f"(median of {rounds}; {', '.join(f'{r:,.0f}' for r in rates)}) "
            f"= {median / raw:.3f} x raw",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="SQLite directory to keep (and reuse) the log in")
    parser.add_argument("--schema", help="PostgreSQL schema to keep (and reuse) the log in")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    quiet = {"PAYLEDGER_FAILURE_RATE": "0.1", "PAYLEDGER_LOG_LEVEL": "warning"}
    if args.backend in ("sqlite", "both"):
        data = args.data or tempfile.mkdtemp(prefix="catchup-")
        settings = load_settings({"PAYLEDGER_DATA_DIR": data, **quiet})
        measure("sqlite", settings, args.events, args.rounds)
    if args.backend in ("postgres", "both"):
        schema = args.schema or f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
        settings = load_settings(
            {
                "PAYLEDGER_DATABASE_URL": args.dsn,
                "PAYLEDGER_DATABASE_SCHEMA": schema,
                "PAYLEDGER_DATABASE_POOL_SIZE": "2",
                "PAYLEDGER_CARD_FINGERPRINT_SECRET": secrets.token_urlsafe(32),
                **quiet,
            }
        )
        try:
            measure("postgres", settings, args.events, args.rounds)
        finally:
            if args.schema is None:
                with psycopg.connect(args.dsn, autocommit=True) as conn:
                    conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main()
