"""The background workers of one process: projections and the payment processor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from application.ports.new_events import NewEvents
from application.projection_runner import ProjectionRunner
from application.results import FollowerFailure

STOP_TIMEOUT_S = 5.0


class BackgroundService(Protocol):
    """A worker that is not a follower of the log (e.g. the webhook sender)."""

    def start(self) -> None: ...

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None: ...


class BackgroundWorkers:
    """Starts and stops a set of runners together (in `serve` or in `payledger worker`),
    with the `NewEvents` source that wakes them, and reports how they fare."""

    def __init__(
        self,
        *runners: ProjectionRunner,
        new_events: NewEvents | None = None,
        services: Sequence[BackgroundService] = (),
    ) -> None:
        self.runners = runners
        self.new_events = new_events
        self.services = tuple(services)

    def start(self) -> None:
        if self.new_events is not None:
            self.new_events.start()
        for runner in self.runners:
            runner.start()
        for service in self.services:
            service.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        for service in self.services:
            service.stop(timeout_s)
        for runner in self.runners:
            runner.stop(timeout_s)
        if self.new_events is not None:
            self.new_events.stop()

    def catch_up(self) -> int:
        """Run every runner to the end of the log once (tests and tools)."""
        return sum(runner.catch_up() for runner in self.runners)

    def failures(self) -> list[FollowerFailure]:
        """The runners stuck on an event, and any whose thread died."""
        found = [runner.failure for runner in self.runners if runner.failure is not None]
        found.extend(
            FollowerFailure(runner.name, None, None, "its thread stopped unexpectedly")
            for runner in self.runners
            if runner.stopped_unexpectedly
        )
        return found

    def failures_total(self) -> dict[str, int]:
        """Distinct failures to apply an event since start, by follower (a metric)."""
        return {runner.name: runner.failures_total for runner in self.runners}
