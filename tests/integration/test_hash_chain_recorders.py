"""The recorders link every event they insert, in log order, under concurrency: the chain
recomputed from the stored bytes equals the stored one (PostgreSQL group commit, its base
path, and SQLite)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking

from adapters.eventstore.audit_log import open_audit_log
from adapters.eventstore.config import RECORDER_TOPIC, SQLITE_RECORDER_TOPIC
from adapters.eventstore.hash_chain import ChainPolicy
from adapters.signing import Ed25519Checker, Ed25519Signer
from application.audit.verify import Verifier
from tests.support.services import POSTGRES, postgres_schema

pytestmark = pytest.mark.integration

THREADS = 8
SAVES_PER_THREAD = 25
SIGNER = Ed25519Signer(bytes(32))


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class ChainApp(Application[uuid.UUID]):
    """Events land in `chainapp_events` (PostgreSQL) or `stored_events` (SQLite)."""


@pytest.fixture(params=["postgres", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChainApp]:
    if request.param == "sqlite":
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "chain.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
        }
        application = ChainApp(env=env)
        application.recorder.chain_policy = ChainPolicy(SIGNER, 10)  # type: ignore[attr-defined]
        yield application
        application.close()
        return
    with postgres_schema() as schema:
        env = {**POSTGRES.eventsourcing_env(schema), "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC}
        application = ChainApp(env=env)
        application.recorder.chain_policy = ChainPolicy(SIGNER, 10)  # type: ignore[attr-defined]
        try:
            yield application
        finally:
            application.close()


def test_concurrent_saves_leave_an_intact_chain_and_signed_checkpoints(app: ChainApp) -> None:
    errors: list[BaseException] = []

    def saver() -> None:
        try:
            for _ in range(SAVES_PER_THREAD):
                counter = Counter()
                counter.increment()
                app.save(counter)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=saver) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    log = open_audit_log(app.recorder)

    report = Verifier(log, Ed25519Checker(), SIGNER.public_key).run()

    assert errors == []
    assert report.ok, report.discrepancies
    assert report.events == THREADS * SAVES_PER_THREAD * 2
    assert len(log.links(0, None, 10_000)) == report.events
    # One per transaction that crossed a multiple of 10 (a group commit may cross several).
    assert 1 <= len(log.checkpoints()) <= report.events // 10


def test_the_base_insert_path_links_its_events_too(app: ChainApp) -> None:
    counter = Counter()
    stored = [app.mapper.to_stored_event(e) for e in counter.collect_events()]

    ids = app.recorder.insert_events(stored, tracking=Tracking("upstream", 1))

    log = open_audit_log(app.recorder)
    assert ids is not None
    assert [position for position, _ in log.links(0, None, 10)] == list(ids)
    assert Verifier(log).run().ok
