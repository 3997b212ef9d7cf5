"""Real parallel HTTP clients: OS processes (spawned) that each send a burst of POSTs from a
few threads, after a barrier shared with the test, and report every request's timing.

This module is what spawned children import, so it imports nothing from the server.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx

BARRIER_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0
RESULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Burst:
    """`count` POSTs of the same JSON body to `path`, sent from `threads` threads."""

    base_url: str
    path: str
    body: Mapping[str, Any]
    count: int
    threads: int
    headers: Mapping[str, str] | None = None
    token: str = ""  # the caller's bearer token (a spawned process has no other way in)


@dataclass(frozen=True)
class Sent:
    """One request as a client saw it. Times are CLOCK_MONOTONIC, which every process on a
    Linux machine shares, so intervals from different processes can be compared."""

    process: int
    thread: int
    started_s: float
    ended_s: float
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def send_burst(burst: Burst, process_label: int, barrier: Any | None = None) -> list[Sent]:
    """Send the burst; every thread waits at `barrier` (if any) before its first request."""
    start_together = threading.Barrier(burst.threads)
    sent: list[Sent] = []
    lock = threading.Lock()

    def one(http: httpx.Client) -> Sent:
        started = time.monotonic()
        headers = dict(burst.headers or {})
        if burst.token:
            headers["Authorization"] = f"Bearer {burst.token}"
        response = http.post(burst.path, json=dict(burst.body), headers=headers)
        ended = time.monotonic()
        return Sent(
            process_label,
            threading.get_ident(),
            started,
            ended,
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    def worker(http: httpx.Client, share: int) -> None:
        start_together.wait(BARRIER_TIMEOUT_S)
        for _ in range(share):
            record = one(http)
            with lock:
                sent.append(record)

    shares = [
        burst.count // burst.threads + (i < burst.count % burst.threads)
        for i in range(burst.threads)
    ]
    limits = httpx.Limits(max_connections=burst.threads, max_keepalive_connections=burst.threads)
    with httpx.Client(base_url=burst.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        # Open the connections before the barrier so the burst measures requests, not TCP.
        http.get("/health")
        if barrier is not None:
            barrier.wait(BARRIER_TIMEOUT_S)
        with ThreadPoolExecutor(burst.threads) as pool:
            for future in [pool.submit(worker, http, share) for share in shares]:
                future.result()
    return sent


def _child(burst: Burst, label: int, barrier: Barrier, results: Any) -> None:
    try:
        results.put((label, "ok", send_burst(burst, label, barrier)))
    except BaseException:
        results.put((label, "error", f"pid {os.getpid()}: {traceback.format_exc()}"))
        barrier.abort()


def run_bursts(bursts: list[Burst], local: Burst | None = None) -> list[Sent]:
    """Run each of `bursts` in its own spawned process and, if given, `local` in this
    process; all start together at one barrier. Returns every request of every sender."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(bursts) + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_child, args=(burst, label, barrier, results), daemon=True)
        for label, burst in enumerate(bursts, start=1)
    ]
    for process in processes:
        process.start()
    sent: list[Sent] = []
    failures: list[str] = []
    try:
        try:
            if local is not None:
                sent.extend(send_burst(local, 0, barrier))
            else:
                barrier.wait(BARRIER_TIMEOUT_S)
        except threading.BrokenBarrierError:
            # A child failed before the start; its report below says why.
            failures.append("the start barrier broke")
        for _ in processes:
            try:
                label, outcome, value = results.get(timeout=RESULT_TIMEOUT_S)
            except queue.Empty:
                failures.append(f"a client process sent no result in {RESULT_TIMEOUT_S} s")
                break
            if outcome == "ok":
                sent.extend(value)
            else:
                failures.append(f"client process {label} failed: {value}")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
    assert not failures, "\n".join(failures)
    return sent


@dataclass(frozen=True)
class Overlap:
    in_flight_max: int
    processes_in_flight_max: int


def overlap(sent: list[Sent]) -> Overlap:
    """The most requests, and the most distinct processes, that were in flight at once."""
    # At equal times an end sorts before a start: touching intervals do not overlap.
    events = sorted(
        [(s.started_s, 1, s.process) for s in sent] + [(s.ended_s, -1, s.process) for s in sent]
    )
    per_process: dict[int, int] = defaultdict(int)
    in_flight = in_flight_max = processes_max = 0
    for _, delta, process in events:
        per_process[process] += delta
        in_flight += delta
        in_flight_max = max(in_flight_max, in_flight)
        processes_max = max(processes_max, sum(1 for n in per_process.values() if n > 0))
    return Overlap(in_flight_max, processes_max)
