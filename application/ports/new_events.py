"""The `NewEvents` port: how the followers of the log learn that new events may be there.

Followers (projections, the payment processor) wait on it instead of polling the log in a
tight loop. A signal only says "look again": it may be spurious, and on some backends a
write by another process sends none, so a follower still looks every `poll_interval_s`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class NewEvents(Protocol):
    """Wakes subscribers when events may have been recorded in the log."""

    @property
    def poll_interval_s(self) -> float:
        """The longest a follower should wait without a signal before looking anyway."""
        ...

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call `wake` (quickly, from any thread) whenever new events may be there."""
        ...

    def recorded(self) -> None:
        """This process has just recorded events: wake the subscribers now."""
        ...

    def start(self) -> None:
        """Start listening for other processes' writes (where the backend can tell)."""
        ...

    def stop(self) -> None:
        """Stop listening and release what `start` took."""
        ...
