"""The replay engine: the stored log in large pages, folded without per-event round trips.

Point-in-time reads (an account's balance and statement, a payment's state as of a log
position or a timestamp) and the event listing auditors export. Nothing here reads the
projections: every answer is computed from the stored events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import msgspec

from application.audit import decoding as d
from application.audit.folds import AccountEntry, AccountFold, PaymentFold, PaymentPosting
from application.audit.folds import AuditPaymentStep as AuditPaymentStep
from application.errors import AccountNotFoundError, PaymentNotFoundError
from application.ports.audit_log import AuditLog, Row
from domain.payment_terms import PaymentStatus

PAGE_SIZE = 10_000
EVENTS_LIMIT_MAX = 10_000
SCAN_MAX = 200_000  # stored events one listing request looks at, at most (time filters)

Progress = Callable[[int, int], None]  # (position reached, head)


T = TypeVar("T")


def prefetched(
    fetch: Callable[[int], T], end_of: Callable[[T], int | None], after: int, head: int
) -> Iterator[T]:
    """`fetch(after)` page after page until `head`, each page read (on one worker thread)
    while the caller folds the one before: the database's time hides behind the fold's.
    `end_of(page)` is the page's last position, None when it is empty."""
    with ThreadPoolExecutor(1, thread_name_prefix="audit-read") as pool:
        future = pool.submit(fetch, after) if after < head else None
        while future is not None:
            page = future.result()
            end = end_of(page)
            if end is None:
                return
            future = pool.submit(fetch, end) if end < head else None
            yield page


def pages(
    log: AuditLog,
    after: int = 0,
    upto: int | None = None,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> Iterator[Sequence[Row]]:
    """The stored log after `after` up to `upto` (the head when None), page by page."""
    head = log.head() if upto is None else upto

    def fetch(position: int) -> Sequence[Row]:
        return log.records(position, head, page_size)

    for page in prefetched(fetch, _end_of, after, head):
        yield page
        if progress is not None:
            progress(page[-1][0], head)


def _end_of(page: Sequence[Row]) -> int | None:
    return page[-1][0] if page else None


class AccountAsOf(msgspec.Struct, frozen=True):
    """An account as the log had it: its balance and latest entries (oldest first)."""

    account_id: UUID
    account: str
    currency: str
    balance: int
    as_of_position: int
    as_of_time: datetime | None
    last_posted_position: int
    entries_total: int
    entries: list[AccountEntry]


class PaymentAsOf(msgspec.Struct, frozen=True):
    """A payment as the log had it, with its transitions and its journal transactions."""

    payment_id: UUID
    status: PaymentStatus
    amount: int
    currency: str
    payer_id: str
    recipient: str
    method: str
    failure_reason: str
    attempts: int
    captured: int
    refunded: int
    as_of_position: int
    as_of_time: datetime | None
    last_event_position: int
    history: list[AuditPaymentStep]
    postings: list[PaymentPosting]


class AuditEvent(msgspec.Struct, frozen=True):
    """One stored event for auditors; `payload` is the stored JSON as is."""

    position: int
    aggregate_id: UUID
    version: int
    type: str
    topic: str
    timestamp: datetime
    payload: msgspec.Raw


class EventPage(msgspec.Struct, frozen=True):
    """A page of the log; pass `next_after` as `after` for the next one (None: the end)."""

    events: list[AuditEvent]
    next_after: int | None


class AuditReplay:
    """Point-in-time reads and listings computed by replaying the stored log."""

    def __init__(self, log: AuditLog, page_size: int = PAGE_SIZE) -> None:
        self._log = log
        self._page_size = page_size

    def _upto(self, position: int | None) -> int:
        head = self._log.head()
        return head if position is None else max(0, min(position, head))

    def account_as_of(
        self,
        account_id: UUID,
        position: int | None = None,
        at: datetime | None = None,
        entries_max: int = 100,
        progress: Progress | None = None,
    ) -> AccountAsOf:
        """The account's balance and statement at `position` (inclusive) and/or `at`."""
        upto = self._upto(position)
        fold = AccountFold(account_id, at, entries_max)
        for page in pages(self._log, 0, upto, self._page_size, progress):
            for record in page:
                fold.apply(record)
        if not fold.found:
            raise AccountNotFoundError()
        return AccountAsOf(
            account_id,
            fold.account,
            fold.currency,
            fold.balance,
            upto,
            at,
            fold.last_position,
            fold.entries_total,
            list(fold.entries),
        )

    def payment_as_of(
        self, payment_id: UUID, position: int | None = None, at: datetime | None = None
    ) -> PaymentAsOf:
        """The payment's state at `position` (inclusive) and/or `at`."""
        upto = self._upto(position)
        fold = PaymentFold(payment_id, at)
        for page in pages(self._log, 0, upto, self._page_size):
            for record in page:
                fold.apply(record)
        if fold.status is None:
            raise PaymentNotFoundError()
        return PaymentAsOf(
            payment_id,
            fold.status,
            fold.amount,
            fold.currency,
            fold.payer_id,
            fold.recipient,
            fold.method,
            fold.failure_reason,
            fold.attempts,
            fold.captured,
            fold.refunded,
            upto,
            at,
            fold.last_position,
            fold.history,
            fold.postings,
        )

    def events(
        self,
        after: int = 0,
        upto: int | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> EventPage:
        """Up to `limit` events after `after` (by position, and in [since, until] if given).
        A time-filtered page looks at no more than `SCAN_MAX` stored events."""
        limit = max(1, min(limit, EVENTS_LIMIT_MAX))
        last = self._upto(upto)
        found: list[AuditEvent] = []
        position = after
        scanned = 0
        while position < last and len(found) < limit and scanned < SCAN_MAX:
            page = self._log.records(position, last, min(self._page_size, limit * 4))
            if not page:
                position = last
                break
            for record in page:
                position = record[0]
                scanned += 1
                event = to_audit_event(record)
                if (since is None or event.timestamp >= since) and (
                    until is None or event.timestamp <= until
                ):
                    found.append(event)
                    if len(found) == limit:
                        break
        return EventPage(found, position if position < last else None)

    def stream(
        self,
        after: int = 0,
        upto: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[list[AuditEvent]]:
        """Every event in the range, page by page (for JSON Lines exports)."""
        for page in pages(self._log, after, self._upto(upto), self._page_size):
            events = [to_audit_event(record) for record in page]
            yield [
                e
                for e in events
                if (since is None or e.timestamp >= since)
                and (until is None or e.timestamp <= until)
            ]


def to_audit_event(record: Row) -> AuditEvent:
    """A stored event as auditors see it."""
    position, key, version, topic, state = record
    return AuditEvent(
        position,
        UUID(bytes=key),
        version,
        topic.partition(":")[2] or topic,
        topic,
        d.stamp(state).timestamp,
        msgspec.Raw(state),
    )
