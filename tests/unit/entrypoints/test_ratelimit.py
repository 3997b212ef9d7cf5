"""The per-process token buckets behind sign-in and write limits."""

from __future__ import annotations

from entrypoints.http.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_is_allowed_then_refused_with_the_wait() -> None:
    limiter = RateLimiter(6, Clock())

    assert [limiter.hit("k") for _ in range(6)] == [0] * 6
    assert limiter.hit("k") == 10  # one token refills in 60 s / 6
    assert limiter.hit("other") == 0


def test_tokens_refill_evenly_and_no_window_edge_doubles_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock)
    for _ in range(6):
        limiter.hit("k")

    clock.now += 10
    assert limiter.hit("k") == 0
    assert limiter.hit("k") > 0
    clock.now += 60
    assert [limiter.hit("k") for _ in range(7)].count(0) == 6


def test_wait_s_counts_nothing() -> None:
    limiter = RateLimiter(1, Clock())

    assert limiter.wait_s("k") == 0
    assert limiter.wait_s("k") == 0
    assert limiter.hit("k") == 0
    assert limiter.wait_s("k") == 60


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(0, Clock())

    assert all(limiter.hit("k") == 0 for _ in range(1000))
