"""The health of a `payledger worker`: a file it rewrites, that `payledger worker --check`
reads (a container health check needs no port this way).

Every `HEARTBEAT_INTERVAL_S` the worker writes its readiness (database reachable, each
follower's position and lag, the followers stuck on an event) with the time and its pid,
atomically. It is healthy when that file is fresher than `HEALTH_MAX_AGE_S` (the worker's
loop is alive), the database answered and no follower is stuck or dead. Lag alone is not
unhealthy: a worker catching up on a backlog is doing its job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec

from application.results import Readiness

HEARTBEAT_INTERVAL_S = 5.0
HEALTH_MAX_AGE_S = 30.0


class WorkerHealth(msgspec.Struct, frozen=True):
    """What the health file holds."""

    at: float  # seconds since the epoch
    pid: int
    healthy: bool
    readiness: Readiness


def write_health(path: Path, readiness: Readiness) -> WorkerHealth:
    """Write the health of this worker to `path` (atomically: a reader never sees half)."""
    healthy = readiness.database == "ok" and not readiness.failures
    health = WorkerHealth(time.time(), os.getpid(), healthy, readiness)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(msgspec.json.encode(health))
    partial.replace(path)
    return health


def check_health(path: Path, max_age_s: float = HEALTH_MAX_AGE_S) -> tuple[bool, str]:
    """Whether the worker that writes `path` is healthy, and why (one line)."""
    try:
        health = msgspec.json.decode(path.read_bytes(), type=WorkerHealth)
    except FileNotFoundError:
        return False, f"no health file at {path}: is a worker running?"
    except (OSError, msgspec.DecodeError) as error:
        return False, f"unreadable health file {path}: {error}"
    age_s = time.time() - health.at
    if age_s > max_age_s:
        return False, f"stale: worker {health.pid} last reported {age_s:.0f} s ago"
    readiness = health.readiness
    if readiness.database != "ok":
        return False, f"worker {health.pid}: the event store is {readiness.database}"
    if readiness.failures:
        stuck = readiness.failures[0]
        return False, (
            f"worker {health.pid}: {stuck.name} cannot apply the event at position "
            f"{stuck.position} ({stuck.event_type}): {stuck.error}"
        )
    lags = ", ".join(f"{view.name} {view.lag}" for view in readiness.views)
    return True, f"worker {health.pid} healthy; lag: {lags or 'none'}"
