"""Webhook sender throughput: deliveries/s from the store to a local receiver, as a ratio of
the raw limit measured in the same run (the same number of signed POSTs sent straight with
the same transport and the same concurrency, no store, no claims).

Usage: uv run python bench/webhooks.py [--deliveries 2000] [--endpoints 20] [--backend
       memory|sqlite] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.persistence import Tracking

from adapters.views.factory import open_view_database, open_webhook_store
from adapters.webhooks.address_guard import AddressGuard
from adapters.webhooks.http_transport import HttpWebhookTransport
from application.ports.webhooks import OutboundMessage
from application.webhook_results import EndpointStatus, WebhookEndpoint, WebhookEventType
from application.webhook_sender import WebhookSender
from application.webhook_signing import new_secret, signed_headers
from application.webhooks import WebhookPolicy
from tests.support.webhook_receiver import webhook_receiver

BODY = b'{"id":"msg_x","type":"payment.status_changed","data":{"status":"SUCCESS"}}'


class FixedClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def raw_rate(transport: HttpWebhookTransport, urls: list[str], n: int, workers: int) -> float:
    secret = new_secret()

    def send(i: int) -> None:
        headers = signed_headers(secret, f"msg_{i}", int(time.time()), BODY)
        outcome = transport.post(urls[i % len(urls)], headers, BODY, 10.0)
        assert outcome.succeeded, outcome

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, range(n)))
    return n / (time.perf_counter() - started)


def sender_rate(
    args: argparse.Namespace,
    transport: HttpWebhookTransport,
    urls: list[str],
    receiver_count: object,
) -> float:
    if args.backend == "memory":
        database = open_view_database("memory")
    else:
        path = Path(tempfile.mkdtemp()) / "views.db"
        database = open_view_database("sqlite", sqlite_path=path)
    store = open_webhook_store(database)
    clock = FixedClock()
    for i, url in enumerate(urls):
        store.add_endpoint(
            WebhookEndpoint(
                uuid.uuid4(),
                f"c{i}",
                url,
                list(WebhookEventType),
                "",
                EndpointStatus.ACTIVE,
                clock.now(),
            ),
            new_secret(),
        )
    messages = [
        OutboundMessage(
            f"msg_{n}", WebhookEventType.PAYMENT_STATUS_CHANGED, BODY, (f"c{n % len(urls)}",), n + 1
        )
        for n in range(args.deliveries)
    ]
    store.record_messages(messages, Tracking("payledger", args.deliveries), clock.now(), 3600)
    policy = WebhookPolicy(concurrency=args.concurrency, per_endpoint_max=2, poll_interval_s=0.01)
    sender = WebhookSender(store, transport, clock, policy, rng=random.Random(1))
    started = time.perf_counter()
    sender.start()
    while receiver_count() < args.deliveries:  # type: ignore[operator]
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    sender.stop()
    store.close()
    return args.deliveries / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    transport = HttpWebhookTransport(AddressGuard(["127.0.0.1/32"]))
    with webhook_receiver() as receiver:
        raw_urls = [receiver.script(f"/raw{i}", 200) for i in range(args.endpoints)]
        urls = [receiver.script(f"/hook{i}", 200) for i in range(args.endpoints)]
        raw = raw_rate(transport, raw_urls, args.deliveries, args.concurrency)
        count = lambda: sum(1 for r in receiver.received if r.path.startswith("/hook"))  # noqa: E731
        rate = sender_rate(args, transport, urls, count)
    print(f"raw signed POSTs ({args.concurrency} threads): {raw:,.0f}/s")
    print(f"sender ({args.backend} store, {args.endpoints} endpoints): {rate:,.0f} deliveries/s")
    print(f"ratio: {rate / raw:.2f} of the raw limit")


if __name__ == "__main__":
    main()
