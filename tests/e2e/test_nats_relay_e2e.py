"""The relay in real processes against the real NATS server: a worker killed (SIGKILL)
between publishing and recording its position, then restarted, still leaves each event once
in the stream; NATS cut off under load (a TCP proxy between the server and NATS): the API
kept answering, and afterwards nothing is missing and nothing doubled."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from application.integration_mapping import message_id, to_integration_event
from application.ledger import Ledger
from domain.account import Account
from entrypoints.container import build_sync_container
from entrypoints.container_relay import CheckpointKey
from entrypoints.migration import migrate
from entrypoints.settings import load_settings
from tests.e2e import api
from tests.support.nats import last_position, nats_stream, read_stream
from tests.support.server import (
    PROJECT_ROOT,
    SERVER_POOL_SIZE,
    payledger_command,
    postgres_url,
    running_server,
    server_env,
)
from tests.support.services import postgres_schema
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ACCOUNTS = 1_000  # two events each: the backlog the killed worker is publishing
KILL_ATTEMPTS_MAX = 300


def expected_ids(ledger: Ledger) -> list[str]:
    ids = []
    for notification in ledger.recorder.select_notifications(start=1, limit=1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if to_integration_event(event, notification.id) is not None:
            ids.append(message_id(event))
    return ids


def write_backlog(ledger: Ledger, accounts: int) -> None:
    """Many events fast: wallets opened and credited, 500 aggregates per transaction."""
    for start in range(0, accounts, 500):
        batch = []
        for n in range(start, min(start + 500, accounts)):
            wallet = Account.open(f"k{n}-{uuid4().hex[:6]}", "USD")
            wallet.credit(100 + n, "USD", uuid4(), "deposit", "backlog")
            batch.append(wallet)
        ledger.save(*batch)


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            payledger_command("worker"),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_a_worker_killed_between_publish_and_checkpoint_resends_and_each_event_stays_once(
    tmp_path: Path,
) -> None:
    with postgres_schema() as schema, nats_stream() as stream:
        env = server_env(
            {
                "PAYLEDGER_DATABASE_URL": postgres_url(),
                "PAYLEDGER_DATABASE_SCHEMA": schema,
                "PAYLEDGER_DATABASE_POOL_SIZE": str(SERVER_POOL_SIZE),
                "PAYLEDGER_WORKER_HEALTH_FILE": str(tmp_path / "health.json"),
                "PAYLEDGER_LOG_LEVEL": "info",
                **stream.settings(PAYLEDGER_NATS_BATCH_SIZE="10", PAYLEDGER_NATS_LEASE_S="2"),
            }
        )
        settings = load_settings({k: v for k, v in env.items() if k.startswith("PAYLEDGER_")})
        migrate(settings)
        container = build_sync_container(settings, create_tables=False)
        try:
            ledger = container.get(Ledger)
            checkpoint = container.get(CheckpointKey)  # type: ignore[call-overload]
            write_backlog(ledger, ACCOUNTS)
            end = ledger.log_position()
            log_path = tmp_path / "worker.log"

            killed_ahead = 0
            with worker(env, log_path) as first:
                eventually(lambda: last_position(stream.name) > 0, timeout_s=60)
                for _ in range(KILL_ATTEMPTS_MAX):
                    first.send_signal(signal.SIGSTOP)
                    recorded = checkpoint.position() or 0
                    published = last_position(stream.name)
                    if published > recorded:  # acked by NATS, not yet recorded
                        first.send_signal(signal.SIGKILL)
                        first.wait(10)
                        killed_ahead = published - recorded
                        break
                    first.send_signal(signal.SIGCONT)
                    time.sleep(random.uniform(0.001, 0.02))
            assert killed_ahead > 0, "never caught the worker between publish and checkpoint"
            assert (checkpoint.position() or 0) < end

            with worker(env, log_path):
                eventually(lambda: checkpoint.position() == end, timeout_s=60)

            stored = read_stream(stream.name)
            ids = [m.msg_id for m in stored]
            assert Counter(ids).most_common(1)[0][1] == 1  # none twice
            assert sorted(ids) == sorted(expected_ids(ledger))  # none missing
            assert "starts publishing" in log_path.read_text()
        finally:
            container.close()


def test_nats_cut_off_under_load_the_api_keeps_answering_and_nothing_is_missing() -> None:
    with nats_stream() as stream, TcpProxy("127.0.0.1", 4222) as proxy:
        extra = stream.settings(
            PAYLEDGER_NATS_URL=f"nats://{proxy.url_host}",
            PAYLEDGER_NATS_PUBLISH_TIMEOUT_S="1",
            PAYLEDGER_NATS_CONNECT_TIMEOUT_S="0.5",
        )
        with running_server("postgres", extra_settings=extra) as server:
            statuses: Counter[int] = Counter()
            stop = threading.Event()

            def load(customer: str) -> None:
                with api.client(server.base_url) as http:
                    api.open_wallet(http, customer)
                    while not stop.is_set():
                        statuses[api.credit(http, customer, 5).status_code] += 1

            threads = [
                threading.Thread(target=load, args=(api.new_customer("load"),)) for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            try:
                with api.client(server.base_url) as http:
                    eventually(lambda: ready(http)["relay"]["position"], timeout_s=30)
                    proxy.stop()  # NATS is gone for the relay
                    lags = []
                    for _ in range(15):
                        time.sleep(0.2)
                        readiness = ready(http)
                        lags.append(readiness["relay"]["lag"])
                    assert max(lags) > 0
                    assert readiness["relay"]["lag_s"] > 0
                    proxy.start()  # NATS is back
                    time.sleep(1.0)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(30)
            assert set(statuses) == {201}, statuses
            assert sum(statuses.values()) > 20

            with api.client(server.base_url) as http:
                eventually(lambda: ready(http)["relay"]["lag"] == 0, timeout_s=30)
                metrics = http.get(api.METRICS_PATH).text
            assert "payledger_relay_lag 0.0" in metrics
            assert "payledger_relay_enabled 1.0" in metrics
            published = [
                line
                for line in metrics.splitlines()
                if line.startswith("payledger_relay_published_total ")
            ]
            assert published
            assert float(published[0].split()[1]) >= sum(statuses.values())

            container = build_sync_container(
                load_settings(
                    {
                        "PAYLEDGER_DATABASE_URL": postgres_url(),
                        "PAYLEDGER_DATABASE_SCHEMA": str(server.schema),
                        "PAYLEDGER_DATABASE_POOL_SIZE": "1",
                    }
                ),
                create_tables=False,
            )
            try:
                expected = expected_ids(container.get(Ledger))
            finally:
                container.close()
            ids = [m.msg_id for m in read_stream(stream.name)]
            assert len(ids) == len(set(ids))
            assert sorted(ids) == sorted(expected)


def ready(http: httpx.Client) -> api.Json:
    """`/ready` while NATS is down or back: always 200 (the relay never makes it fail)."""
    response = http.get("/ready")
    assert response.status_code == 200, api.describe(response)
    body: api.Json = response.json()
    assert body["relay"]["status"] == "on"
    return body


def test_serve_alone_on_the_embedded_default_runs_the_relay_when_nats_is_configured() -> None:
    with (
        nats_stream() as stream,
        running_server("sqlite", extra_settings=stream.settings()) as server,
    ):
        customer = api.new_customer("solo")
        with api.client(server.base_url) as http:
            api.open_wallet(http, customer)
            response = api.credit(http, customer, 700)
            assert response.status_code == 201, api.describe(response)
            position = api.position_of(response)
            eventually(lambda: (ready(http)["relay"]["position"] or 0) >= position, timeout_s=30)
        bodies = [json.loads(m.body) for m in read_stream(stream.name)]
        opened = [b for b in bodies if b["type"] == "wallets.opened"]
        assert [b["customer_id"] for b in opened] == [customer]
        credited = [b for b in bodies if b["type"] == "wallets.credited"]
        assert [(b["wallet_id"], b["amount_minor"]) for b in credited] == [
            (opened[0]["wallet_id"], 700)
        ]
