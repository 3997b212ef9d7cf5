"""The log's head checked once for many readers, and what the cache is known to be current to."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import pytest

from application.log_head import (
    LogHead,
    Verified,
    WouldBlockError,
    known_head,
    may_block,
    read_moment,
    reads_at,
    reads_since,
    without_store,
)

pytestmark = pytest.mark.unit


class SlowHead:
    """A log whose head query takes a while, counting the queries and when each began."""

    def __init__(self, head: int = 7, delay_s: float = 0.05) -> None:
        self.head = head
        self.delay_s = delay_s
        self.began: list[float] = []
        self.fail = False

    def __call__(self) -> int:
        self.began.append(time.monotonic())
        time.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("the store is down")
        return self.head


def test_readers_that_ask_together_share_one_check() -> None:
    log = SlowHead()
    head = LogHead(log)
    moment = time.monotonic()
    results: list[int] = []
    readers = [
        threading.Thread(target=lambda: results.append(head.since(moment))) for _ in range(20)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()

    assert results == [7] * 20
    assert len(log.began) == 1
    assert head.checks == 1


def test_a_check_that_began_before_the_moment_is_not_enough() -> None:
    log = SlowHead()
    head = LogHead(log)
    assert head.since(time.monotonic()) == 7
    log.head = 9  # written after that check began
    moment = time.monotonic()

    assert head.since(moment) == 9
    assert len(log.began) == 2
    # The same moment, or an earlier one, is served by that check without asking again.
    assert head.since(moment) == 9
    assert len(log.began) == 2
    assert head.known_since(moment) == 9
    assert head.known_since(time.monotonic()) is None


def test_a_reader_that_comes_during_a_check_waits_for_the_next_one() -> None:
    log = SlowHead(delay_s=0.2)
    head = LogHead(log)
    first = threading.Thread(target=lambda: head.since(time.monotonic()))
    first.start()
    while not log.began:
        time.sleep(0.001)
    log.head = 8  # lands while the first check runs: it may or may not see it
    moment = time.monotonic()

    assert head.since(moment) == 8
    first.join()
    assert len(log.began) == 2
    assert log.began[1] >= moment


def test_the_head_never_goes_back() -> None:
    log = SlowHead(delay_s=0)
    head = LogHead(log)
    assert head.since(time.monotonic()) == 7
    log.head = 3
    assert head.since(time.monotonic()) == 7


def test_a_failed_check_fails_its_reader_and_the_next_reader_checks_again() -> None:
    log = SlowHead(delay_s=0)
    head = LogHead(log)
    log.fail = True
    with pytest.raises(ConnectionError):
        head.since(time.monotonic())
    log.fail = False

    assert head.since(time.monotonic()) == 7
    assert len(log.began) == 2


def test_verified_covers_later_versions_up_to_the_noted_position_only() -> None:
    verified = Verified()
    aggregate = uuid4()
    assert not verified.covers(aggregate, 3, 10)

    verified.note(aggregate, 3, 10)

    assert verified.covers(aggregate, 3, 10)
    assert verified.covers(aggregate, 4, 9)  # a later state holds at least as much
    assert not verified.covers(aggregate, 2, 10)  # an older state may miss version 3
    assert not verified.covers(aggregate, 3, 11)  # the log moved past what was checked
    assert not verified.covers(uuid4(), 3, 10)


def test_verified_keeps_the_stronger_of_two_notes_and_stays_bounded() -> None:
    verified = Verified(size_max=2)
    aggregate = uuid4()
    verified.note(aggregate, 3, 10)
    verified.note(aggregate, 4, 9)  # weaker: changes nothing
    assert verified.covers(aggregate, 3, 10)
    verified.note(aggregate, 3, 12)
    assert verified.covers(aggregate, 3, 12)

    verified.note(uuid4(), 1, 1)
    verified.note(uuid4(), 1, 1)  # past the bound: starts again

    assert not verified.covers(aggregate, 3, 12)


def test_a_request_reads_as_of_its_arrival_and_shares_its_head() -> None:
    assert known_head() is None
    before = time.monotonic()
    assert read_moment() >= before  # outside a request: now
    with reads_since(42.0):
        assert read_moment() == 42.0
        with reads_at(5):
            assert known_head() == 5
        assert known_head() is None
    assert read_moment() >= before


def test_without_the_store_a_read_that_needs_it_is_refused() -> None:
    may_block()  # outside the block: allowed
    with without_store(), pytest.raises(WouldBlockError):
        may_block()
    may_block()
