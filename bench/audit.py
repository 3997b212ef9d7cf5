"""Audit benchmark on PostgreSQL: full verification and point-in-time balances, events/s.

Builds a log of `--events` stored events on a fresh schema (dropped at the end) through the
real recorder (domain posting rules saved in large batches, plus payments through the
application layer), then prints, all measured in this run:
  (a) raw limit: the stored events table read in the same pages (SELECT + fetch), events/s;
  (b) full verification (conservation, wallets, payments vs postings, hash chain recomputed,
      signed checkpoints), events/s, and (b)/(a);
  (c) point-in-time balance of a wallet and of a system account (every journal decoded),
      by replaying the whole log, events/s, and (c)/(a).

Usage: uv run python bench/audit.py [--events 200000] [--rounds 3] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.audit.replay import PAGE_SIZE, AuditReplay
from application.audit.verify import Verifier
from application.ledger import Ledger
from application.payments import PaymentRequest, PaymentService
from application.ports.audit_log import AuditLog
from application.principal import SYSTEM
from application.settlement import PaymentSettlement
from application.wallets import WalletService
from domain.account import Account
from domain.ids import system_account_id
from domain.journal import EXTERNAL_FUNDING
from domain.money import Money
from domain.payment_terms import PaymentMethod
from domain.posting_rules import top_up, transfer
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings

WALLETS = 500
TRANSFERS_PER_SAVE = 500
PAYMENTS = 300


def seed(settings: Settings, events: int) -> int:
    """A log of about `events` events; returns its length."""
    container = build_sync_container(settings, create_tables=False)
    try:
        ledger = container.get(Ledger)
        now = datetime.now(UTC)
        accounts = [Account.open(f"cust-{i}", "USD") for i in range(WALLETS)]
        journals = [top_up(uuid.uuid4(), a, Money(10**12, "USD"), "seed", now) for a in accounts]
        ledger.save(*accounts, *journals)
        wallets = container.get(WalletService)
        payments = container.get(PaymentService)
        settlement = container.get(PaymentSettlement)
        for i in range(PAYMENTS):
            request = PaymentRequest(
                f"cust-{i % WALLETS}", "school", 1_000 + i, "USD", PaymentMethod.WALLET, "fees"
            )
            settlement.advance(payments.create_payment(SYSTEM, request).value.id)
        accounts = [ledger.repository.get(a.id) for a in accounts]
        rng = random.Random(7)
        while (ledger.log_position() or 0) < events:
            journals = []
            touched = {}
            for _ in range(TRANSFERS_PER_SAVE):
                source, target = rng.sample(accounts, 2)
                amount = Money(rng.randint(1, 10_000), "USD")
                journals.append(transfer(uuid.uuid4(), source, target, amount, "bench", now))
                touched[source.id], touched[target.id] = source, target
            ledger.save(*touched.values(), *journals)
        del wallets
        return ledger.log_position() or 0
    finally:
        container.close()


def raw_rate(dsn: str, schema: str) -> tuple[float, int]:
    """Events/s of reading the stored events table in pages, the audit log's own query."""
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {}.payledger_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(Identifier(schema))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        after, count = 0, 0
        while True:
            cur.execute(statement, (after, PAGE_SIZE), binary=True)
            rows = cur.fetchall()
            if not rows:
                break
            count += len(rows)
            after = rows[-1][0]
        return count / (time.perf_counter() - started), count


def timed(action: Callable[[], int], rounds: int) -> list[float]:
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        events = action()
        rates.append(events / (time.perf_counter() - started))
    return rates


def show(label: str, rates: list[float], raw: float) -> float:
    median = statistics.median(rates)
    print(
        f"{label}: {median:,.0f} events/s (median of {len(rates)}: "
        f"{', '.join(f'{r:,.0f}' for r in rates)}) = {median / raw:.2f} x raw",
        flush=True,
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--schema", help="keep (and reuse) the log in this schema")
    args = parser.parse_args()
    run(args.events, args.rounds, args.dsn, args.schema)


def run(
    events: int, rounds: int, dsn: str, keep_schema: str | None = None
) -> tuple[float, dict[str, float]]:
    """Seeds the log, prints and returns the raw limit and `measure`'s medians. The schema
    is dropped at the end unless `keep_schema` names it."""
    schema = keep_schema or f"bench_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
    settings = load_settings(
        {
            "PAYLEDGER_DATABASE_URL": dsn,
            "PAYLEDGER_DATABASE_SCHEMA": schema,
            "PAYLEDGER_DATABASE_POOL_SIZE": "2",
            "PAYLEDGER_CARD_FINGERPRINT_SECRET": secrets.token_urlsafe(32),
            "PAYLEDGER_AUDIT_SIGNING_KEY": secrets.token_bytes(32).hex(),
            "PAYLEDGER_FAILURE_RATE": "0",
            "PAYLEDGER_LOG_LEVEL": "warning",
        }
    )
    try:
        migrate(settings)
        started = time.perf_counter()
        length = seed(settings, events)
        print(f"log of {length:,} events ready in {time.perf_counter() - started:.0f} s")
        raw, count = raw_rate(dsn, schema)
        raw_rates = [raw] + [raw_rate(dsn, schema)[0] for _ in range(rounds - 1)]
        raw = statistics.median(raw_rates)
        print(f"raw limit (paged SELECT + fetch of {count:,} rows): {raw:,.0f} events/s")
        return raw, measure(settings, raw, rounds)
    finally:
        if not keep_schema:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


def measure(settings: Settings, raw: float, rounds: int) -> dict[str, float]:
    """Prints and returns the medians: verification, wallet and system balance, events/s."""
    from adapters.signing import Ed25519Checker

    container = build_sync_container(settings, create_tables=False)
    try:
        log = container.get(AuditLog)  # type: ignore[type-abstract]
        replay = AuditReplay(log)
        reports = []

        def verify() -> int:
            report = Verifier(log, Ed25519Checker()).run()
            assert report.ok, report.discrepancies[:5]
            reports.append(report)
            return report.events

        medians = {"verification": show("full verification", timed(verify, rounds), raw)}
        print("  checks:", ", ".join(f"{c.name}={c.checked}" for c in reports[-1].checks))
        events = reports[-1].events
        wallet = Account.create_id("cust-1", "USD")
        funding = system_account_id(EXTERNAL_FUNDING, "USD")

        def wallet_balance() -> int:
            replay.account_as_of(wallet)
            return events

        def system_balance() -> int:
            replay.account_as_of(funding)
            return events

        rates = timed(wallet_balance, rounds)
        medians["wallet_balance"] = show("point-in-time wallet balance", rates, raw)
        rates = timed(system_balance, rounds)
        medians["system_balance"] = show("point-in-time system balance", rates, raw)
        return medians
    finally:
        container.close()


if __name__ == "__main__":
    main()
