"""Group commit for read models: many events' view changes in one database transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking


class BatchedWrites:
    """A mixin for SQL views. Each `record_*` method writes through `_writing()`: its own
    transaction normally, or the open batch's when the projection runner has called
    `batch()`. A batch commits all its events' rows and tracking together, or none of them,
    so exactly-once holds per batch as it does per event, at a fraction of the commits."""

    datastore: Any
    _batch_state: threading.local
    _insert_tracking: Callable[[Any, Tracking], None]  # from the tracking recorder mixed in

    def _init_batching(self) -> None:
        self._batch_state = threading.local()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write everything done inside the block in one transaction (re-entrant)."""
        if getattr(self._batch_state, "cursor", None) is not None:
            yield
            return
        with self.datastore.transaction(commit=True) as cursor:
            self._batch_state.cursor = cursor
            try:
                yield
            finally:
                self._batch_state.cursor = None

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record an event the view skips, inside the open batch if there is one."""
        with self._writing() as cursor:
            self._insert_tracking(cursor, tracking)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        cursor = getattr(self._batch_state, "cursor", None)
        if cursor is not None:
            yield cursor
            return
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor
