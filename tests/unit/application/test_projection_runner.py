"""The projection runner: waits for new events instead of polling, and fails loudly.

- A save in this process wakes an idle runner at once (its fallback poll is an hour here).
- An event the view cannot apply stops the runner at that very event (a failed batch is
  narrowed down), is logged once at ERROR with the view's name, the position and the event
  type, counted once, and reported; once the cause is fixed the runner resumes from it.
- An unreachable store is not a failure of the view: warned once, waited out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import OperationalError

import application.projection_runner as projection_runner
from adapters.eventstore.new_events import LocalNewEvents
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from domain.account import Account
from tests.support.broken_views import PoisonedLedgerView, PoisonError, memory_poisoned_view
from tests.support.views import memory_ledger_view
from tests.support.waiting import eventually
from tests.unit.application.support import CALLER, App, log_position, read_log

pytestmark = pytest.mark.unit

HOUR_S = 3600.0


def opened_at(app: App, customer_id: str) -> int:
    """The log position of the event that opened the customer's wallet."""
    [position] = [
        position
        for position, event in read_log(app)
        if isinstance(event, Account.Opened) and event.customer_id == customer_id
    ]
    return position


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection_runner, "ERROR_SLEEP_S", 0.02)


@pytest.fixture
def running() -> Iterator[list[ProjectionRunner]]:
    """Runners a test starts; stopped afterwards."""
    started: list[ProjectionRunner] = []
    yield started
    for runner in started:
        runner.stop()


def start(running: list[ProjectionRunner], runner: ProjectionRunner) -> ProjectionRunner:
    running.append(runner)
    runner.start()
    return runner


def test_a_save_in_this_process_wakes_an_idle_runner_at_once(
    app: App, running: list[ProjectionRunner]
) -> None:
    new_events = LocalNewEvents(poll_interval_s=HOUR_S)
    app.ledger.on_recorded(new_events.recorded)
    view = memory_ledger_view()
    start(running, ProjectionRunner(app.ledger, LedgerProjection(view=view), new_events=new_events))
    app.wallets.open_wallet(CALLER, "alice", "USD")
    eventually(lambda: view.position() == log_position(app))
    time.sleep(0.05)  # idle now, waiting for an hour unless woken

    started = time.monotonic()
    app.wallets.credit_wallet(CALLER, "alice", 500, "USD")
    eventually(lambda: view.position() == log_position(app))

    assert time.monotonic() - started < 1.0
    assert [w.balance for w in view.wallets_of("alice")] == [500]


def test_an_idle_runner_without_signals_still_looks_every_poll_interval(
    app: App, running: list[ProjectionRunner]
) -> None:
    silent = LocalNewEvents(poll_interval_s=0.05)  # nobody tells it about saves
    view = memory_ledger_view()
    start(running, ProjectionRunner(app.ledger, LedgerProjection(view=view), new_events=silent))

    app.wallets.open_wallet(CALLER, "alice", "USD")

    eventually(lambda: view.position() == log_position(app))


def test_a_failed_batch_names_the_very_event_the_view_cannot_apply(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    app.wallets.open_wallet(CALLER, "mallory", "USD")
    poisoned_at = opened_at(app, "mallory")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    view = memory_poisoned_view("mallory")
    runner = ProjectionRunner(app.ledger, LedgerProjection(view=view))

    with pytest.raises(PoisonError):
        runner.run_once()  # the whole batch rolled back...
    assert view.position() is None
    while view.position() != poisoned_at - 1:  # ...then one event at a time
        assert runner.run_once() == 1
    with pytest.raises(projection_runner.EventNotAppliedError) as stuck:
        runner._step()

    assert stuck.value.exact
    assert (stuck.value.failure.position, stuck.value.failure.event_type) == (
        poisoned_at,
        "Account.Opened",
    )
    assert view.position() == poisoned_at - 1


def test_a_view_that_cannot_apply_an_event_says_so_once_and_resumes_when_cured(
    app: App, running: list[ProjectionRunner], caplog: pytest.LogCaptureFixture
) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "mallory", "USD")
    poisoned_at = opened_at(app, "mallory")
    app.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    view = memory_poisoned_view("mallory")
    caplog.set_level(logging.INFO, logger=projection_runner.__name__)

    runner = start(running, ProjectionRunner(app.ledger, LedgerProjection(view=view)))
    eventually(lambda: runner.failure is not None and view.refusals >= 5)  # retried, stuck

    assert runner.failure is not None
    assert (runner.failure.name, runner.failure.position, runner.failure.event_type) == (
        "ledger_view",
        poisoned_at,
        "Account.Opened",
    )
    assert "PoisonError" in runner.failure.error
    assert runner.failures_total == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "ledger_view" in message
    assert f"position {poisoned_at}" in message
    assert "Account.Opened" in message
    assert view.position() == poisoned_at - 1  # nothing after the poisoned event either

    view.cure()
    eventually(lambda: view.position() == log_position(app))

    assert runner.failure is None
    assert runner.failures_total == 1
    assert [w.customer_id for w in view.wallets_of("mallory")] == ["mallory"]
    assert [w.balance for w in view.wallets_of("alice")] == [100]
    assert any("resumed" in r.getMessage() for r in caplog.records)


class FlakyStoreView(PoisonedLedgerView):
    """A view whose database is down until `up` is set."""

    up = threading.Event()

    def max_tracking_id(self, application_name: str) -> int | None:
        if not self.up.is_set():
            raise OperationalError("connection refused")
        return super().max_tracking_id(application_name)


def test_an_unreachable_store_is_warned_once_and_waited_out_not_counted(
    app: App, running: list[ProjectionRunner], caplog: pytest.LogCaptureFixture
) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    memory = memory_poisoned_view()
    view = FlakyStoreView(memory.database, "payledger")
    view.up.clear()
    caplog.set_level(logging.INFO, logger=projection_runner.__name__)

    runner = start(running, ProjectionRunner(app.ledger, LedgerProjection(view=view)))
    time.sleep(0.2)  # several tries against the dead store
    view.up.set()
    eventually(lambda: memory.position() == log_position(app))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot reach the store" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (runner.failure, runner.failures_total) == (None, 0)
