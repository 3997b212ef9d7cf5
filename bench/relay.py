"""NATS relay throughput: integration events published per second, and catch-up time.

Writes a log of --events events (wallets opened and credited, card payments created,
processing and succeeded: every one of them published), then, against the real NATS server:

(a) raw: nats-py `publish_async` of the same number of messages of the same size, with
    `Nats-Msg-Id` headers, at most 4,096 in flight, into a stream of its own, on the same
    kind of event loop as the relay's: the limit of this client, server and machine;
(b) the relay catching up on the whole log from position 0 (read, decode, map to contracts,
    encode, publish in batches of --batch with every message in flight, checkpoint after
    the acks): events/s, as a ratio to (a), and the seconds it took.

Usage: uv run python bench/relay.py [--events 100000] [--backend postgres|sqlite]
       [--batch 500] [--nats nats://127.0.0.1:4222] [--dsn postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import psycopg
from psycopg.sql import SQL, Identifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.nats.jetstream import new_event_loop
from application.integration_events import encode
from application.integration_mapping import to_integration_event
from application.ledger import Ledger
from domain.account import Account
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.splits import Split
from entrypoints.container import build_sync_container
from entrypoints.container_relay import RelayRunners
from entrypoints.migration import migrate
from entrypoints.settings import load_settings

SAVE_SIZE = 500  # aggregates per save
MAX_PENDING = 4096


def write_log(ledger: Ledger, events: int) -> int:
    """Wallets (2 events each) and card payments (3 events each), 500 aggregates a save."""
    now = datetime.now(UTC)
    written = 0
    while written < events:
        batch: list[object] = []
        for n in range(SAVE_SIZE):
            if n % 2 == 0:
                wallet = Account.open(f"b-{uuid.uuid4().hex[:10]}", "USD")
                wallet.credit(1_000 + n, "USD", uuid.uuid4(), "deposit", "bench")
                batch.append(wallet)
                written += 2
            else:
                payment = Payment.create(
                    uuid.uuid4(),
                    "payer",
                    "shop",
                    500 + n,
                    "USD",
                    PaymentMethod.CARD,
                    "bench",
                    (Split("shop", bps=10_000),),
                    "digest",
                    now,
                )
                payment.start_processing(f"k{n}", now)
                payment.succeed(uuid.uuid4(), "ch_bench", now)
                batch.append(payment)
                written += 3
        ledger.save(*batch)  # type: ignore[arg-type]
    return ledger.log_position() or 0


def sample_bodies(ledger: Ledger, count: int) -> list[bytes]:
    """Real message bodies of the log (for the raw run to send the same sizes)."""
    bodies = []
    for notification in ledger.recorder.select_notifications(start=1, limit=count):
        contract = to_integration_event(ledger.mapper.to_domain_event(notification), 1)
        if contract is not None:
            bodies.append(encode(contract))
    return bodies


async def raw_publish(url: str, bodies: list[bytes], count: int) -> float:
    """Messages/s of nats-py publish_async (ack awaited for every one)."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
    js = nc.jetstream(timeout=10, publish_async_max_pending=MAX_PENDING)
    stream = f"RAW_{uuid.uuid4().hex[:10]}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"], duplicate_window=120)
    try:
        futures = []
        started = time.perf_counter()
        for n in range(count):
            headers = {"Nats-Msg-Id": f"raw-{n}"}
            body = bodies[n % len(bodies)]
            futures.append(
                await js.publish_async(f"{stream.lower()}.x", body, wait_stall=30, headers=headers)
            )
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
        info = await js.stream_info(stream)
        assert info.state.messages == count, info.state.messages
        return count / elapsed
    finally:
        await js.delete_stream(stream)
        await nc.close()


def run_on_relay_loop(coroutine: Coroutine[Any, Any, float]) -> float:
    """Run on the kind of event loop the relay's publisher uses (the same footing)."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def delete_stream(url: str, name: str) -> int:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        stored = (await js.stream_info(name)).state.messages
        await js.delete_stream(name)
        return stored
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=None, help="batches awaiting acks")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    run(args.events, args.backend, args.batch, args.in_flight, args.nats, args.dsn)


def run(
    events: int, backend: str, batch: int, in_flight: int | None, url: str, dsn: str
) -> tuple[float, float, float]:
    """Writes the log, measures (a) and (b), prints them; returns (a) msg/s, (b) events/s
    and (b)'s seconds. The stream and the schema are removed at the end."""
    token = uuid.uuid4().hex[:10]
    stream = f"BENCH_{token}"
    env = {
        "PAYLEDGER_NATS_URL": url,
        "PAYLEDGER_NATS_STREAM": stream,
        "PAYLEDGER_NATS_SUBJECT_PREFIX": f"bench{token}",
        "PAYLEDGER_NATS_BATCH_SIZE": str(batch),
        "PAYLEDGER_DATABASE_POOL_SIZE": "2",
        "PAYLEDGER_JWT_SECRET": "bench-secret-long-enough-for-hs256-tokens!!",
        "PAYLEDGER_CARD_FINGERPRINT_SECRET": "bench-fingerprint-secret-of-32-bytes!!",
    }
    schema = f"bench_relay_{token}"
    workdir = tempfile.mkdtemp(prefix="payledger-bench-relay-")
    if backend == "postgres":
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
        env.update(PAYLEDGER_DATABASE_URL=dsn, PAYLEDGER_DATABASE_SCHEMA=schema)
    else:
        env.update(PAYLEDGER_DATA_DIR=workdir)
    settings = load_settings(env)
    try:
        migrate(settings)
        container = build_sync_container(settings, create_tables=False)
        try:
            ledger = container.get(Ledger)
            started = time.perf_counter()
            end = write_log(ledger, events)
            print(f"log: {end} events written in {time.perf_counter() - started:.1f} s ({backend})")
            bodies = sample_bodies(ledger, 1_000)
            raw = run_on_relay_loop(raw_publish(url, bodies, end))
            print(f"(a) raw nats-py publish_async, {end} messages: {raw:,.0f} msg/s")

            (relay,) = container.get(RelayRunners)
            if in_flight is not None:
                relay.in_flight = in_flight  # type: ignore[attr-defined]
            started = time.perf_counter()
            relay.catch_up()
            took_s = time.perf_counter() - started
            rate = end / took_s
            print(
                f"(b) relay catch-up of {end} events (batch {batch}, "
                f"{getattr(relay, 'in_flight', '?')} in flight): {took_s:.2f} s, "
                f"{rate:,.0f} events/s = {rate / raw:.2f} x raw"
            )
        finally:
            container.close()
        stored = asyncio.run(delete_stream(url, stream))
        assert stored == end, f"the stream held {stored} messages for {end} events"
        print(f"stream held {stored} messages: one per event")
        return raw, rate, took_s
    finally:
        if backend == "postgres":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main()
