"""The background workers of one process: projections and the payment processor."""

from __future__ import annotations

from application.projection_runner import ProjectionRunner

STOP_TIMEOUT_S = 5.0


class BackgroundWorkers:
    """Starts and stops a set of runners together (in `serve` or in `payledger worker`)."""

    def __init__(self, *runners: ProjectionRunner) -> None:
        self.runners = runners

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        for runner in self.runners:
            runner.stop(timeout_s)

    def catch_up(self) -> int:
        """Run every runner to the end of the log once (tests and tools)."""
        return sum(runner.catch_up() for runner in self.runners)
