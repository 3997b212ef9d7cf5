"""Outbound webhooks from real `payledger serve` processes on PostgreSQL: two replicas share
one schema, each running the dispatcher and the sender in-process; every event reaches the
configured receiver exactly once (the replicas never send one attempt twice), signed, and
the API keeps answering while a receiver hangs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e import api
from tests.support.server import (
    PROJECT_ROOT,
    SERVER_POOL_SIZE,
    payledger_command,
    postgres_url,
    running_server,
    server_env,
)
from tests.support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PAYMENTS = 12
WAIT_S = 60.0


def verify(headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{digest}" in headers["webhook-signature"].split(" ")


def test_two_replicas_deliver_every_event_exactly_once_and_a_hung_receiver_slows_nothing() -> None:
    with webhook_receiver() as receiver:
        url = receiver.script("/all", 200)
        hung = receiver.script("/hung", 200, delay_s=8.0)
        settings = {
            "PAYLEDGER_WEBHOOK_URLS": f"{url},{hung}",
            "PAYLEDGER_WEBHOOK_SECRET": SECRET,
            "PAYLEDGER_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
            "PAYLEDGER_WEBHOOK_POLL_INTERVAL_S": "0.05",
            "PAYLEDGER_WEBHOOK_TIMEOUT_S": "10",
        }
        with (
            running_server("postgres", extra_settings=settings) as first,
            running_server(
                "postgres", shared_schema=first.schema, extra_settings=settings
            ) as second,
        ):
            payer = api.new_customer("hooks")
            created = []
            slowest_s = 0.0
            for n in range(PAYMENTS):
                server = (first, second)[n % 2]
                with api.client(server.base_url) as http:
                    if n == 0:
                        api.open_wallet(http, payer)
                        api.expect(api.credit(http, payer, 100_000), 201)
                    started = time.monotonic()
                    body = {"amount": 100 + n, "currency": "USD", "recipient": "shop"}
                    body |= {"method": "wallet", "payer_id": payer}
                    created.append(api.expect(http.post("/payments", json=body), 201)["id"])
                    slowest_s = max(slowest_s, time.monotonic() - started)
            assert slowest_s < 2.0, slowest_s  # the hung receiver holds up no request

            # CREATED, PROCESSING, SUCCESS for each payment.
            received = receiver.wait_for("/all", 3 * PAYMENTS, WAIT_S)
            time.sleep(1.0)  # a duplicate would arrive now
            received = receiver.at("/all")
            ids = Counter(r.headers["webhook-id"] for r in received)
            assert len(ids) == 3 * PAYMENTS, len(ids)
            assert max(ids.values()) == 1, ids.most_common(3)
            assert all(verify(r.headers, r.body) for r in received)
            paid = {json.loads(r.body)["data"]["id"] for r in received}
            assert paid == set(created)

            with api.client(first.base_url) as http:
                log = api.expect(
                    http.get("/webhooks", params={"status": "succeeded", "limit": 200}), 200
                )
            delivered = [d for d in log["deliveries"] if d["url"] == url]
            assert len(delivered) == 3 * PAYMENTS
            assert {d["attempts"] for d in delivered} == {1}
            assert {d["response_code"] for d in delivered} == {200}


def test_a_worker_process_sends_the_webhooks_when_serve_runs_no_workers(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        url = receiver.script("/worker", 200)
        settings = {
            "PAYLEDGER_WEBHOOK_URLS": url,
            "PAYLEDGER_WEBHOOK_SECRET": SECRET,
            "PAYLEDGER_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
            "PAYLEDGER_WEBHOOK_POLL_INTERVAL_S": "0.05",
        }
        off = {**settings, "PAYLEDGER_PROJECTIONS_IN_PROCESS": "false"}
        with running_server("postgres", extra_settings=off) as server:
            payer = api.new_customer("worker-hooks")
            with api.client(server.base_url) as http:
                api.open_wallet(http, payer)
                api.expect(api.credit(http, payer, 1_000), 201)
                body = {"amount": 250, "currency": "USD", "recipient": "shop", "method": "wallet"}
                created = api.expect(http.post("/payments", json={**body, "payer_id": payer}), 201)
            time.sleep(0.5)
            assert receiver.at("/worker") == []  # nobody sends: serve runs no workers

            env = server_env(
                {
                    **settings,
                    "PAYLEDGER_DATABASE_URL": postgres_url(),
                    "PAYLEDGER_DATABASE_SCHEMA": str(server.schema),
                    "PAYLEDGER_DATABASE_POOL_SIZE": str(SERVER_POOL_SIZE),
                    "PAYLEDGER_WORKER_HEALTH_FILE": str(tmp_path / "health.json"),
                    "PAYLEDGER_LOG_LEVEL": "warning",
                }
            )
            log = (tmp_path / "worker.log").open("wb")
            worker = subprocess.Popen(
                payledger_command("worker"),
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                received = receiver.wait_for("/worker", 3, WAIT_S)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(WAIT_S)
                log.close()
            # Attempts run concurrently: order by the events' log positions.
            bodies = sorted((json.loads(r.body) for r in received), key=lambda b: b["position"])
            statuses = [b["data"]["status"] for b in bodies]
            assert statuses == ["CREATED", "PROCESSING", "SUCCESS"], (
                statuses,
                (tmp_path / "worker.log").read_text(),
            )
            assert {json.loads(r.body)["data"]["id"] for r in received} == {created["id"]}
            assert all(verify(r.headers, r.body) for r in received)
