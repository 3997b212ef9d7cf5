"""Projection catch-up speed: events/s applied when a view is rebuilt from the whole log.

Writes a log of about --events events (wallets, credits, transfers, holds, wallet and card
payments, refunds) through the application, then times what `payledger projections rebuild
NAME` does for each view (reset, then catch up in batches of 500) and prints the median of
--rounds rounds in events/s. The log is written once per backend and kept when --data or
--schema name an existing one, so runs on different code compare the same log.

Usage: uv run python bench/catchup.py [--backend sqlite|postgres|both] [--events 20000]
       [--rounds 3] [--data DIR] [--schema NAME] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.gateway import Card
from application.payments import PaymentRequest, PaymentService
from domain.errors import DomainError
from entrypoints import bootstrap
from entrypoints.settings import Settings

CUSTOMERS = 200
ROUNDS_MAX = 1_000


def write_log(settings: Settings, events: int) -> int:
    """Commands of every kind until the log holds `events` events; returns its length."""
    ledger = bootstrap.build_ledger(settings, create_table=False)
    try:
        position = ledger.recorder.max_notification_id() or 0
        if position >= events:
            return position
        service = PaymentService(
            ledger, bootstrap.build_gateway(settings), bootstrap.payment_rules(settings)
        )
        names = [f"bench-{i}" for i in range(CUSTOMERS)]
        for name in names:
            ledger.open_wallet(name, "USD")
            ledger.credit_wallet(name, 10**9, "USD", "top up")
        card = Card("4242424242424242", 12, 2040)
        for i in range(ROUNDS_MAX * CUSTOMERS):
            if (ledger.recorder.max_notification_id() or 0) >= events:
                break
            a, b = names[i % CUSTOMERS], names[(i * 7 + 1) % CUSTOMERS]
            step = i % 5
            if step == 0:
                ledger.transfer(a, b, 10, "USD", "rent")
            elif step == 1:
                hold = ledger.place_hold(a, 50, "USD", description="hotel").value
                ledger.post_hold(hold.id, 30, to_customer_id=b, description="hotel")
            elif step == 2:
                pay(service, PaymentRequest(a, "school-1", 100, "USD", "wallet"))
            elif step == 3:
                paid = pay(service, PaymentRequest(a, "shop-1", 200, "USD", "card", card=card))
                if i % 2:
                    with contextlib.suppress(DomainError):  # a declined card: nothing to refund
                        service.refund_payment(paid, 50, "partial")
            else:
                ledger.debit_wallet(a, 5, "USD", "fee")
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def pay(service: PaymentService, request: PaymentRequest) -> Any:
    payment_id = service.create_payment(request).value.id
    service.advance(payment_id)
    return payment_id


def rebuild_rates(settings: Settings, name: str, rounds: int) -> list[float]:
    """Events/s of `rounds` rebuilds of the view `name`, as the CLI's rebuild does it."""
    ledger = bootstrap.build_ledger(settings, create_table=False)
    view = bootstrap.build_recorder(settings, name, create_table=False)
    if name == "ledger":
        runner = bootstrap.build_runner(ledger, view)
    else:
        runner = bootstrap.build_payments_runner(ledger, view)
    rates = []
    try:
        for _ in range(rounds):
            view.reset()
            started = time.perf_counter()
            applied = runner.catch_up()
            rates.append(applied / (time.perf_counter() - started))
    finally:
        close = getattr(view, "close", None)
        if close is not None:
            close()
        ledger.close()
    return rates


def measure(label: str, settings: Settings, events: int, rounds: int) -> None:
    bootstrap.migrate(settings)
    started = time.perf_counter()
    length = write_log(settings, events)
    print(f"{label}: log of {length:,} events ready in {time.perf_counter() - started:.0f} s")
    for name in ("ledger", "payments"):
        rates = rebuild_rates(settings, name, rounds)
        print(
            f"{label} {name} view catch-up: {statistics.median(rates):,.0f} events/s "
            f"(median of {rounds}; {', '.join(f'{r:,.0f}' for r in rates)})",
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
    quiet = {"failure_rate": 0.1, "log_level": "warning"}
    if args.backend in ("sqlite", "both"):
        data = args.data or tempfile.mkdtemp(prefix="catchup-")
        settings = Settings(database_url="", data_dir=data, **quiet)  # type: ignore[arg-type]
        measure("sqlite", settings, args.events, args.rounds)
    if args.backend in ("postgres", "both"):
        schema = args.schema or f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
        settings = Settings(
            database_url=args.dsn,
            database_schema=schema,
            database_pool_size=2,
            **quiet,  # type: ignore[arg-type]
        )
        try:
            measure("postgres", settings, args.events, args.rounds)
        finally:
            if args.schema is None:
                with psycopg.connect(args.dsn, autocommit=True) as conn:
                    conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main()
