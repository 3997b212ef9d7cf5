"""Group-commit application recorder for PostgreSQL.

Why: the library's insert path takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` and a NOTIFY in every
transaction, so all writers of one application are serialized and each command pays a whole
transaction. Here concurrent ``insert_events`` calls are coalesced into ONE transaction (one lock,
one NOTIFY, one commit) made of the library's own statements, so notification ids are still
assigned while the table lock is held and readers keep the library's ordering guarantee.

Select it with ``APPLICATION_RECORDER_TOPIC=
adapters.eventstore.postgres_recorder:CoalescingPostgresApplicationRecorder`` (the event
store's own factory, `postgres_factory.py`, uses it). Calls are tried at most twice
(`fail_fast.py`), so a database outage fails them in seconds instead of half a minute.

Every transaction that inserts events also appends their links to the hash chain (and maybe
a signed checkpoint) while it holds the table lock: an event is never recorded without its
link (see `hash_chain.py`, `postgres_chain.py`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from psycopg.sql import SQL

from adapters.eventstore.fail_fast import once_more
from adapters.eventstore.hash_chain import ChainPolicy, extend, pair_ids
from adapters.eventstore.postgres_chain import (
    PostgresChainTables,
    backfill,
    head_of,
    write_extension,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from eventsourcing.persistence import StoredEvent
    from psycopg import Connection, Cursor
    from psycopg.rows import DictRow

# Errors that end a whole batch: nothing was committed and a retry is safe (the base retries).
_BATCH_ERRORS = (InterfaceError, OperationalError)
_XID = SQL("SELECT pg_current_xact_id()::text AS xid")
_XACT_STATUS = SQL("SELECT pg_xact_status(%s::xid8) AS status")
_XACT_STATUS_ATTEMPTS = 3  # each may wait for a pooled connection: bounded during outages
CHANNEL_NAME_MAX = 63  # PostgreSQL's identifier length


class BatchWaitTimeoutError(PersistenceError):
    """No leader took the request in time; it was withdrawn and nothing was written."""


class CommitOutcomeUnknownError(PersistenceError):
    """The COMMIT failed and its outcome could not be determined: assume neither."""


@dataclass(eq=False)
class _Request:
    """One caller's call; its flags are guarded by the recorder lock, ``wake`` is one-shot."""

    stored_events: Sequence[StoredEvent]
    pg_events: list[Any]
    wake: threading.Event = field(default_factory=threading.Event)
    taken: bool = False  # in a leader's batch: can no longer be withdrawn
    promoted: bool = False  # its caller must lead the next batch
    ids: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def finish(self, ids: list[int] | None = None, error: BaseException | None = None) -> None:
        """Record the outcome and wake the caller."""
        self.ids, self.error = ids or [], error
        self.wake.set()


@dataclass
class _Probe:
    """What a transaction learnt before its COMMIT; ``xid`` is set only if COMMIT is next."""

    ids: list[list[int]] = field(default_factory=list)
    xid: str | None = None


class CoalescingPostgresApplicationRecorder(PostgresApplicationRecorder):
    """Application recorder that commits concurrent ``insert_events`` calls together.

    Leader/follower: a caller enqueues its request; if no batch is in flight it leads: it commits
    up to ``max_batch`` queued requests (its own first) in one transaction, then promotes the head
    of the queue to lead the next batch. Batches fill while the previous transaction is in
    flight; nobody sleeps waiting for them. Counters: ``transactions_committed``,
    ``requests_committed`` (both for coalesced calls only) and ``batches_split``.
    """

    max_batch: int = 64
    wait_timeout: float = 30.0  # per phase: waiting in the queue, then waiting for the leader

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        max_batch: int | None = None,
        wait_timeout: float | None = None,
    ) -> None:
        """As the base; the factory passes neither extra kwarg, so subclass to change them."""
        super().__init__(datastore, events_table_name=events_table_name)
        self.max_batch = self.max_batch if max_batch is None else max_batch
        self.wait_timeout = self.wait_timeout if wait_timeout is None else wait_timeout
        if datastore.enable_db_functions:  # its insert function takes no lock, links nothing
            msg = "POSTGRES_ENABLE_DB_FUNCTIONS would record events without their chain links"
            raise ValueError(msg)
        if self.max_batch < 1 or self.wait_timeout <= 0:
            msg = "max_batch must be >= 1 and wait_timeout > 0"
            raise ValueError(msg)
        # NOTIFY (and LISTEN) on a channel of this schema's table: followers of the log in
        # other schemas of the database are not woken by our writes.
        self.channel_name = f"{datastore.schema}_{self.channel_name}"[:CHANNEL_NAME_MAX]
        self._lock = threading.Lock()
        self._queue: deque[_Request] = deque()  # non-empty only while a leader runs
        self._busy = False
        self.transactions_committed = 0  # written only by the one current leader
        self.requests_committed = 0
        self.batches_split = 0
        self.chain_tables = PostgresChainTables.of(datastore.schema, self.events_table_name)
        self.sql_create_statements.extend(self.chain_tables.create)
        self.chain_policy = ChainPolicy()  # the composition root sets a signer

    def create_table(self) -> None:
        """Create the tables, then link any events recorded before the chain existed."""
        super().create_table()
        self.backfill_chain()

    def backfill_chain(self) -> int:
        """Link stored events after the chain head; returns how many were linked."""
        with self.datastore.get_connection() as conn:
            return backfill(conn, self.chain_tables, self.chain_policy)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The base path (tracking kwargs): link the events in its transaction too."""
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            head = head_of(curs.execute(self.chain_tables.select_head).fetchone())
            extension = extend(head, pair_ids(ids, stored_events), self.chain_policy)
            write_extension(curs, self.chain_tables, extension)
        return ids

    @property
    def pending_requests(self) -> int:
        """Requests queued and not yet taken by a leader."""
        return len(self._queue)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert like the base class does, committing together with concurrent callers."""
        if (
            not stored_events
            or self.datastore.enable_db_functions
            or any(value is not None for value in kwargs.values())
        ):  # tracking and custom kwargs feed _insert_events hooks: plain base call
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        coalesced: list[int] = self._insert_coalesced(stored_events)
        return coalesced

    # The library retries each call ten times: twice at most here (see fail_fast.py).
    select_events = once_more(PostgresAggregateRecorder.select_events)
    select_notifications = once_more(PostgresApplicationRecorder.select_notifications)
    max_notification_id = once_more(PostgresApplicationRecorder.max_notification_id)

    @once_more  # as the base's insert_events, with bounded retries
    def _insert_coalesced(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Enqueue one request, lead or follow, and return its ids or raise its error."""
        pg_events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        request = _Request(stored_events, pg_events)
        with self._lock:
            self._queue.append(request)
            leads, self._busy = not self._busy, True
        if leads or self._await(request):
            self._lead()
        if request.error is not None:
            raise _copy_error(request.error)
        return request.ids

    def _await(self, request: _Request) -> bool:
        """Wait (bounded) for the outcome; True if the caller was promoted to leader."""
        if not request.wake.wait(self.wait_timeout):
            with self._lock:
                if not (request.taken or request.promoted):
                    self._queue.remove(request)
                    msg = f"no leader took the request within {self.wait_timeout}s"
                    raise BatchWaitTimeoutError(msg)
            if not request.wake.wait(self.wait_timeout):
                msg = f"its batch did not finish within {self.wait_timeout}s"
                raise CommitOutcomeUnknownError(msg)
        return request.promoted

    def _lead(self) -> None:
        """Commit one batch, which starts with the leader's own request, then hand over."""
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            for request in batch:
                request.taken = True
        try:
            self._commit_batch(batch)
        except BaseException as exc:  # e.g. KeyboardInterrupt during the COMMIT
            for request in batch:
                if not request.wake.is_set():
                    request.finish(error=CommitOutcomeUnknownError(f"leader died: {exc!r}"))
            raise
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].promoted = True
                    self._queue[0].wake.set()
                else:
                    self._busy = False

    def _commit_batch(self, batch: list[_Request]) -> None:
        """One transaction for the batch; after any other error, one per request."""
        try:
            all_ids = self._transact(batch)
        except (*_BATCH_ERRORS, CommitOutcomeUnknownError) as exc:
            for request in batch:
                request.finish(error=exc)
        except Exception as exc:  # IntegrityError (a conflict), DataError...: whose?
            if len(batch) == 1:
                batch[0].finish(error=exc)
            else:
                self.batches_split += 1
                self._commit_one_by_one(batch)
        else:
            self._acknowledge(batch, all_ids)

    def _commit_one_by_one(self, batch: list[_Request]) -> None:
        """Re-run each request alone, so only the guilty ones get their own error."""
        for position, request in enumerate(batch):
            try:
                ids = self._transact([request])
            except (*_BATCH_ERRORS, CommitOutcomeUnknownError) as exc:
                request.finish(error=exc)
                for rest in batch[position + 1 :]:  # not attempted: safe to retry
                    rest.finish(error=OperationalError(f"not attempted: {exc}"))
                return
            except Exception as exc:  # its own error, e.g. a duplicate version
                request.finish(error=exc)
            else:
                self._acknowledge([request], ids)

    def _acknowledge(self, batch: list[_Request], all_ids: list[list[int]]) -> None:
        """Count one committed transaction and hand each caller its ids."""
        self.transactions_committed += 1
        self.requests_committed += len(batch)
        for request, ids in zip(batch, all_ids, strict=True):
            request.finish(ids=ids)

    def _transact(self, batch: Sequence[_Request]) -> list[list[int]]:
        """Commit the batch in one transaction; settle a failed COMMIT by its xid's status."""
        probe = _Probe()
        try:
            with self.datastore.get_connection() as conn:
                self._run_transaction(conn, batch, probe)
        except Exception as exc:
            if probe.xid is None:  # failed before COMMIT: rolled back
                raise
            status = self._xact_status(probe.xid)
            if status == "committed":
                return probe.ids
            if status == "aborted":
                raise
            msg = f"outcome of transaction {probe.xid} unknown: {exc}"
            raise CommitOutcomeUnknownError(msg) from exc
        return probe.ids

    def _run_transaction(
        self, conn: Connection[DictRow], batch: Sequence[_Request], probe: _Probe
    ) -> None:
        """The base's statements, pipelined: hooks, lock, NOTIFY, then one INSERT per request."""
        # Errors propagate through the transaction block, so it can only roll back, and the
        # first error of the pipeline is the one raised (not a later "pipeline aborted").
        with (
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor() as curs,
            conn.cursor() as insert_curs,
            conn.cursor() as xid_curs,
            conn.cursor() as chain_curs,
        ):
            for request in batch:
                self._insert_events(curs, request.stored_events)
            self._lock_table(curs)
            self._notify_channel(curs)
            chain_curs.execute(self.chain_tables.select_head)  # under the lock
            xid_curs.execute(_XID)
            params = [(request.pg_events,) for request in batch]
            insert_curs.executemany(self.insert_events_statement, params, returning=True)
            pipeline.sync()  # a conflict raises IntegrityError here at the latest
            ids = [self._fetch_ids(insert_curs, len(r.pg_events)) for r in batch]
            head = head_of(chain_curs.fetchone())
            stored = [
                pair
                for request, request_ids in zip(batch, ids, strict=True)
                for pair in pair_ids(request_ids, request.stored_events)
            ]
            write_extension(chain_curs, self.chain_tables, extend(head, stored, self.chain_policy))
            pipeline.sync()  # the links are in, or the transaction rolls back
            probe.ids = ids
            row = xid_curs.fetchone()
            probe.xid = row["xid"] if row else None  # COMMIT comes next

    @staticmethod
    def _fetch_ids(curs: Cursor[DictRow], expected: int) -> list[int]:
        """Read one request's RETURNING rows, then move to the next result set."""
        ids = [row["notification_id"] for row in curs.fetchall()]
        curs.nextset()
        if len(ids) != expected:
            msg = f"got {len(ids)} notification ids for {expected} events"
            raise ProgrammingError(msg)
        return ids

    def _xact_status(self, xid: str, attempts: int = _XACT_STATUS_ATTEMPTS) -> str | None:
        """Ask a fresh connection whether a transaction committed; None if it can't tell."""
        for _ in range(attempts):
            try:
                with self.datastore.get_connection() as conn, conn.cursor() as curs:
                    row = curs.execute(_XACT_STATUS, (xid,)).fetchone()
                if row and row["status"] != "in progress":
                    return str(row["status"])
            except PersistenceError:
                pass  # the database is unreachable: try again
            time.sleep(0.2)  # bounded wait for the old backend to finish or die
        return None


def _copy_error(error: BaseException) -> BaseException:
    """A fresh exception of the same class, so callers' threads never share a traceback."""
    try:
        copy = type(error)(*error.args)
    except Exception:  # an unusual constructor: reuse the original
        return error
    copy.__cause__ = error.__cause__ or error
    return copy
