"""`LogTail`: the log's newest stretch, read and decoded once for all of its followers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from application.ledger import Ledger
from application.log_tail import LogTail, tail_of
from domain.account import Account
from tests.unit.application.support import make_ledger

pytestmark = pytest.mark.unit


def log_of(events: int) -> Ledger:
    """A ledger whose log holds `events` events (each wallet opened is one)."""
    ledger = make_ledger()
    for n in range(events):
        ledger.save(Account.open(f"customer-{n}", "USD"))
    return ledger


def positions(answer: tuple[Any, Any]) -> list[int]:
    return [notification.id for notification in answer[0]]


def test_followers_reading_the_same_stretch_read_the_store_once() -> None:
    ledger = log_of(10)
    tail = LogTail(ledger)

    first = tail.read(1, 5)
    second = tail.read(1, 5)
    third = tail.read(3, 2)

    assert positions(first) == positions(second) == [1, 2, 3, 4, 5]
    assert positions(third) == [3, 4]
    assert tail.reads == 1
    assert second[1] is not None
    assert [event.originator_id for event in second[1]] == [n.originator_id for n in second[0]]


def test_what_it_serves_is_what_the_store_answers() -> None:
    ledger = log_of(30)
    tail = LogTail(ledger, size_max=12)
    for start, limit in [(1, 7), (8, 7), (4, 5), (15, 10), (2, 3), (25, 100), (31, 5)]:
        expected = ledger.recorder.select_notifications(start=start, limit=limit)
        answer = tail.read(start, limit)
        # From memory an answer may stop at the window's end; it never skips or adds.
        assert positions(answer) == [n.id for n in expected][: len(answer[0])]
        assert answer[0] or not expected


def test_positions_written_after_a_read_are_read_from_the_store() -> None:
    ledger = log_of(3)
    tail = LogTail(ledger)
    assert positions(tail.read(1, 10)) == [1, 2, 3]
    assert positions(tail.read(4, 10)) == []

    ledger.save(Account.open("late", "USD"))

    assert positions(tail.read(4, 10)) == [4]
    assert positions(tail.read(1, 10)) == [1, 2, 3, 4]  # the window grew by the new read
    assert tail.reads == 3


def test_the_window_keeps_the_newest_positions_only() -> None:
    ledger = log_of(20)
    tail = LogTail(ledger, size_max=8)
    for start in range(1, 21, 5):
        tail.read(start, 5)
    reads = tail.reads

    assert positions(tail.read(13, 8)) == list(range(13, 21))
    assert tail.reads == reads  # still in memory
    assert positions(tail.read(1, 3)) == [1, 2, 3]
    assert tail.reads == reads + 1  # dropped from memory: asked again


def test_a_batch_that_cannot_be_decoded_is_served_without_events() -> None:
    ledger = log_of(3)
    tail = LogTail(ledger)

    def broken(_: Any) -> Any:
        raise ValueError("cannot decode")

    ledger.mapper.to_domain_events = broken  # type: ignore[attr-defined]

    notifications, events = tail.read(1, 3)
    assert len(notifications) == 3
    assert events is None  # the follower decodes them itself, and reports the very event
    assert tail.read(2, 1)[1] is None


def test_one_tail_per_application() -> None:
    ledger, other = make_ledger(), make_ledger()

    assert tail_of(ledger) is tail_of(ledger)
    assert tail_of(ledger) is not tail_of(other)


def test_a_lagging_followers_read_joins_the_window_and_one_far_behind_leaves_it() -> None:
    ledger = log_of(30)
    tail = LogTail(ledger)
    assert positions(tail.read(20, 100)) == list(range(20, 31))

    assert positions(tail.read(15, 5)) == [15, 16, 17, 18, 19]  # reaches the window: joins
    reads = tail.reads
    assert positions(tail.read(15, 100)) == list(range(15, 31))
    assert tail.reads == reads

    assert positions(tail.read(2, 3)) == [2, 3, 4]  # far behind: served, not kept
    assert positions(tail.read(15, 100)) == list(range(15, 31))
    assert tail.reads == reads + 1


def test_followers_woken_together_make_one_read_of_the_store() -> None:
    ledger = log_of(5)
    tail = LogTail(ledger)
    assert positions(tail.read(1, 100)) == [1, 2, 3, 4, 5]
    for n in range(5):
        ledger.save(Account.open(f"new-{n}", "USD"))
    original = ledger.recorder.select_notifications
    entered = threading.Event()

    def slow_select(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        time.sleep(0.05)
        return original(*args, **kwargs)

    ledger.recorder.select_notifications = slow_select  # type: ignore[method-assign]
    answers: list[list[int]] = []
    followers = [
        threading.Thread(target=lambda: answers.append(positions(tail.read(6, 100))))
        for _ in range(8)
    ]
    for follower in followers:
        follower.start()
    for follower in followers:
        follower.join()

    assert answers == [[6, 7, 8, 9, 10]] * 8
    assert tail.reads == 2  # the first read, then one for all eight
