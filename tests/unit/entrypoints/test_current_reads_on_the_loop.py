"""`read_current`: one shared head check per event loop, reads from the cache on the loop."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from application.log_head import LogHead, known_head, may_block, reads_since
from entrypoints.http.reads import read_current

pytestmark = pytest.mark.unit


class Log:
    """A log head that takes a while to read, counting the reads."""

    def __init__(self) -> None:
        self.head = 11
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        time.sleep(0.02)
        return self.head


def where_and_head(cached: bool) -> tuple[int, int | None]:
    """A read: the thread it ran on and the head it was given; it needs the store unless
    `cached`."""
    if not cached:
        may_block()
    return threading.get_ident(), known_head()


def test_many_requests_share_a_check_and_cached_reads_stay_on_the_loop() -> None:
    log = Log()
    head = LogHead(log)
    seen: list[tuple[int, int | None]] = []

    async def request(cached: bool) -> None:
        with reads_since(time.monotonic()):
            seen.append(await read_current(head, where_and_head, cached))

    async def main() -> int:
        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(request, n % 4 != 0)
        return threading.get_ident()

    loop_thread = anyio.run(main)

    assert log.reads <= 2  # the requests that came during the first check share the second
    assert len(seen) == 40
    assert all(head_given == 11 for _, head_given in seen)
    on_loop = [ident for ident, _ in seen if ident == loop_thread]
    assert len(on_loop) == 30  # the cached ones; the others ran in worker threads


def test_a_request_after_a_write_gets_a_check_that_began_after_it_arrived() -> None:
    log = Log()
    head = LogHead(log)

    async def main() -> list[int | None]:
        heads = []
        for written in (12, 13):
            log.head = written
            with reads_since(time.monotonic()):
                _, given = await read_current(head, where_and_head, True)
            heads.append(given)
        return heads

    assert anyio.run(main) == [12, 13]
    assert log.reads == 2


def moving(log: Log, recheck_moving_s: float) -> LogHead:
    """A head whose last two checks saw the log move (11, then 12)."""
    head = LogHead(log, recheck_moving_s=recheck_moving_s)
    head.since(time.monotonic())
    log.head = 12
    head.since(time.monotonic())
    assert head.moving
    return head


def test_while_the_log_moves_reads_go_to_a_thread_without_a_check() -> None:
    log = Log()
    head = moving(log, 600)
    reads = log.reads

    async def main() -> tuple[tuple[int, int | None], int]:
        with reads_since(time.monotonic()):
            return await read_current(head, where_and_head, True), threading.get_ident()

    (ran_on, head_given), loop_thread = anyio.run(main)

    assert ran_on != loop_thread
    assert head_given is None  # the runner checks the head itself if it is worth it
    assert log.reads == reads


def test_while_the_log_moves_a_check_is_still_made_once_in_a_while() -> None:
    log = Log()
    head = moving(log, 0.5)
    assert not head.worth_checking()
    time.sleep(0.6)
    assert head.worth_checking()

    async def main() -> int | None:
        with reads_since(time.monotonic()):
            _, given = await read_current(head, where_and_head, True)
            return given

    assert anyio.run(main) == 12
    assert not head.moving  # the log stood still since: checks are worth it again
