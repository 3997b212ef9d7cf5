"""Saves/s with the library's PostgresApplicationRecorder vs CoalescingPostgresApplicationRecorder.

Each of N threads (16 by default) does one-event saves of its own aggregate (get it, increment it,
save it: version-checked), then saves of two new aggregates per save (3 events).
Runs each recorder in its own table of one fresh schema, dropped at the end; prints the median
of --rounds rounds.

Usage: uv run python bench/recorder.py [--threads 16] [--saves 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.sql import SQL, Identifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.eventstore.postgres_recorder import (
    CoalescingPostgresApplicationRecorder,
)

DSN = "dbname=test host=127.0.0.1 port=5432 user=postgres"
COALESCING = "adapters.eventstore.postgres_recorder:CoalescingPostgresApplicationRecorder"


class Counter(Aggregate):
    """One event per increment."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def make_app(schema: str, name: str, recorder_topic: str) -> Application[uuid.UUID]:
    """An application on its own table (named after `name`) in `schema`."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "test",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "POSTGRES_SCHEMA": schema,
    }
    if recorder_topic:
        env["APPLICATION_RECORDER_TOPIC"] = recorder_topic
    app_class: type[Application[uuid.UUID]] = type(name, (Application,), {})
    return app_class(env=env)


def increments(app: Application[uuid.UUID], saves: int) -> Callable[[], None]:
    """A worker doing get-increment-save of its own aggregate; a new one every 10 saves.

    Short aggregates keep replay costs out of what is measured: this is about the write path.
    """

    def work() -> None:
        aggregate_id = uuid.uuid4()
        for number in range(saves):
            if number % 10 == 0:
                aggregate = Counter()
                aggregate_id = aggregate.id
            else:
                aggregate = app.repository.get(aggregate_id)
                aggregate.increment()
            app.save(aggregate)

    return work


def new_pairs(app: Application[uuid.UUID], saves: int) -> Callable[[], None]:
    """A worker saving two new aggregates (three events) per save."""

    def work() -> None:
        for _ in range(saves):
            first, second = Counter(), Counter()
            first.increment()
            app.save(first, second)

    return work


def saves_per_second(workers: list[Callable[[], None]], saves: int) -> float:
    """Run the workers in threads at once; return total saves per second."""
    threads = [threading.Thread(target=work) for work in workers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return saves / (time.perf_counter() - started)


Workload = Callable[[Application[uuid.UUID], int], Callable[[], None]]


def measure(app: Application[uuid.UUID], workload: Workload, opts: argparse.Namespace) -> str:
    """Median saves/s over the rounds, plus saves per transaction when coalescing."""
    recorder = app.recorder
    coalescing = recorder if isinstance(recorder, CoalescingPostgresApplicationRecorder) else None
    rates, requests, transactions = [], 0, 0
    for _ in range(opts.rounds):
        workers = [workload(app, opts.saves) for _ in range(opts.threads)]  # setup: not timed
        if coalescing:
            requests -= coalescing.requests_committed
            transactions -= coalescing.transactions_committed
        rates.append(saves_per_second(workers, opts.saves * opts.threads))
        if coalescing:
            requests += coalescing.requests_committed
            transactions += coalescing.transactions_committed
    result = f"{statistics.median(rates):8.0f} saves/s"
    if coalescing:
        result += f"  ({requests / transactions:.1f} saves per transaction)"
    return result


def main(opts: argparse.Namespace) -> None:
    """Create the schema, run both recorders on both workloads, print, drop the schema."""
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    try:
        apps = {
            "PostgresApplicationRecorder": make_app(schema, "PlainBench", ""),
            "CoalescingPostgresApplicationRecorder": make_app(schema, "GroupBench", COALESCING),
        }
        print(f"{opts.threads} threads x {opts.saves} saves, median of {opts.rounds} rounds")
        for label, workload in (("1 event, version-checked", increments), ("3 events", new_pairs)):
            for name, app in apps.items():
                print(f"{label:26} {name:38} {measure(app, workload, opts)}", flush=True)
        for app in apps.values():
            app.close()
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--saves", type=int, default=150, help="saves per thread per round")
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args())
