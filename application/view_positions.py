"""Where the log ends and how far each read model has got: what a read with `min_position`
waits on. The waiting itself belongs to the caller (the HTTP layer waits without holding a
thread); this only answers, each call a short read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from application.errors import PositionBeyondLogError, ViewNotCaughtUpError
from application.ledger import Ledger

WAIT_TIMEOUT_S = 5.0
# The read models a read can wait for, by name (the names of their projections).
LEDGER_VIEW = "ledger_view"
PAYMENTS_VIEW = "payments_view"
WAITERS_MAX = 1_000


class PositionedView(Protocol):
    def position(self) -> int | None:
        """The last log position the view has processed."""
        ...


class ViewPositions:
    """The log's end and the positions of the named read models, and the limits on waiting
    for them: how long one read waits, and how many reads may wait at once."""

    def __init__(
        self,
        ledger: Ledger,
        views: Mapping[str, PositionedView],
        wait_timeout_s: float = WAIT_TIMEOUT_S,
        waiters_max: int = WAITERS_MAX,
    ) -> None:
        self.ledger = ledger
        self.views = dict(views)
        self.wait_timeout_s = wait_timeout_s
        self.waiters_max = waiters_max

    def view_position(self, name: str) -> int:
        """How far the view `name` has got (0: nowhere yet)."""
        return self.views[name].position() or 0

    def log_end(self) -> int:
        """The log's last position now (0: an empty log)."""
        return self.ledger.log_position() or 0

    def check_in_log(self, position: int) -> None:
        """Raise `PositionBeyondLogError` when the log has not reached `position`: waiting
        for it would only end in a timeout."""
        require_in_log(position, self.ledger.log_position() or 0)


class WaitableView(Protocol):
    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Whether the view reached `position` within `timeout_s` seconds."""
        ...


def wait_in_thread(
    view: WaitableView,
    min_position: int | None,
    log_end: Callable[[], int | None],
    timeout_s: float,
) -> None:
    """Block until `view` has reached `min_position` (without one: the log's end now, so a
    sequential client reads its own writes): `PositionBeyondLogError` for a position no
    write has reached, `ViewNotCaughtUpError` after `timeout_s`."""
    end = log_end() or 0
    if min_position is not None:
        require_in_log(min_position, end)
    position = min_position if min_position is not None else end
    if position and not view.wait_for(position, timeout_s):
        raise ViewNotCaughtUpError(f"The view has not reached position {position} yet.")


def require_in_log(position: int, end: int) -> None:
    """Raise `PositionBeyondLogError` when `position` lies beyond the log's `end`."""
    if position > end:
        raise PositionBeyondLogError(
            f"Position {position} is beyond the end of the log ({end}); "
            "pass a position a write returned."
        )
