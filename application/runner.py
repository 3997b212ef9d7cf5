"""The command runner: the one way use cases change the log.

A command is a function of a `UnitOfWork`: it loads the aggregates it needs, lets the
domain decide, hands what changed to `uow.save(...)`, and returns its result aggregate. The
runner does the rest, the same way for every use case:

1. it takes the in-process locks of the aggregates the command names (commands on one
   wallet queue here instead of colliding in the database);
2. it runs the command and saves everything it touched, plus the idempotency claim of a
   keyed request, in ONE `save()`: one transaction with optimistic concurrency on each
   aggregate;
3. on a version conflict it runs the command again on state brought up to date from the log
   (bounded, with jittered backoff), unless the request's key was taken meanwhile, in which
   case it returns the first request's result;
4. on a refusal it first looks for a replay of the key; a `DomainError` then runs the
   command once more on state read from the log (`UnitOfWork.fresh`): aggregates come from
   a cache that is not re-read before each command, and a stale wallet could wrongly look
   too poor. Only a refusal on fresh state is reported.

State "from the log" is the cached aggregate fast-forwarded by the events the log holds
after it (`current`): one indexed query, usually empty, instead of rebuilding the aggregate
from its snapshot and events. The cache only ever holds states the log committed, so the
cached state plus what follows it is the log's state.
"""

from __future__ import annotations

import contextlib
import copy
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.combiner import Combiners, Queued
from application.errors import (
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    NotFoundError,
    WalletNotFoundError,
)
from application.idempotency import Request, claim_id
from application.ledger import Ledger
from application.log_head import LogHead, Verified, known_head, may_block, read_moment
from application.ports.clock import Clock
from application.results import Written
from domain.account import Account
from domain.errors import CodedError, DomainError
from domain.ids import wallet_id
from domain.money import check_currency, check_customer_id
from domain.request_claim import RequestClaim

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
T = TypeVar("T")

RETRIES_MAX = 20
BACKOFF_BASE_S = 0.002
BACKOFF_CAP_S = 0.1
LOCK_STRIPES = 1024
# After a conflict, commands read from the log for this long (see `CommandRunner.run`).
CONTENDED_S = 10.0


class StripedLocks:
    """Per-aggregate mutexes within this process, striped over a fixed number of locks.

    Locks are taken all at once, in a fixed order, so two commands can never wait on each
    other. Across processes, optimistic concurrency in the event store still decides.
    """

    def __init__(self, stripes: int = LOCK_STRIPES) -> None:
        # Re-entrant: a command that runs another one on the same thread must not deadlock.
        self._locks = [threading.RLock() for _ in range(stripes)]

    @contextlib.contextmanager
    def holding(self, ids: Iterable[UUID]) -> Iterator[None]:
        stripes = sorted({aggregate_id.int % len(self._locks) for aggregate_id in ids})
        with contextlib.ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._locks[stripe])
            yield


class UnitOfWork:
    """One attempt of one command: the instant it runs at, what it reads, what it saves."""

    def __init__(
        self,
        ledger: Ledger,
        now: datetime,
        fresh: bool,
        command_id: UUID,
        loaded: dict[UUID, Aggregate] | None = None,
    ) -> None:
        self._ledger = ledger
        self.now = now
        # True when re-running a refusal: every read goes to the log, not the cache.
        self.fresh = fresh
        # The id the command's new aggregate takes: the key's id, or a new random one.
        self.command_id = command_id
        self.saved: list[Aggregate] = []
        # In a combined batch (always fresh), the aggregates its commands share, each read
        # from the log once (each command sees the changes of the ones before it); None for
        # a command on its own.
        self._loaded = loaded

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate if it exists and is a `cls`, else None."""
        found: Any
        if self._loaded is not None and aggregate_id in self._loaded:
            found = self._loaded[aggregate_id]
        elif self.fresh:
            found = current(self._ledger, aggregate_id)
            if self._loaded is not None and found is not None:
                self._loaded[aggregate_id] = found
        else:
            try:
                found = self._ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        return found if isinstance(found, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID, missing: type[NotFoundError]) -> A:
        """The aggregate, or `missing` raised."""
        found = self.find(cls, aggregate_id)
        if found is None:
            raise missing()
        return found

    def wallet(self, customer_id: str, currency: str) -> Account:
        """The customer's wallet in `currency`, or `WalletNotFoundError` (an id or currency
        no wallet can have is refused first, e.g. `card_number_in_text`)."""
        check_customer_id(customer_id)
        check_currency(currency)
        found = self.find(Account, wallet_id(customer_id, currency))
        if found is None:
            raise WalletNotFoundError(f"{customer_id} has no {currency} wallet.")
        return found

    def save(self, *aggregates: Aggregate) -> None:
        """Save these with the command's other changes, in one transaction."""
        self.saved.extend(a for a in aggregates if a not in self.saved)


class CommandRunner:
    """Runs commands against the ledger's log (see the module's docstring)."""

    def __init__(self, ledger: Ledger, clock: Clock, retries_max: int = RETRIES_MAX) -> None:
        self.ledger = ledger
        self.clock = clock
        self.retries_max = retries_max
        self.conflicts = 0  # conflicts seen (and retried) in this process: a metric
        self._contended_until = 0.0  # monotonic time until which commands read fresh
        self._locks = StripedLocks()
        # As many as the lock stripes: the locks of one combiner's batch share one stripe.
        self._combiners: Combiners[_Combined[Any, Any], Written[Any]] = Combiners(LOCK_STRIPES)
        # Reads: the log's head, checked once for many readers, and up to where cached
        # aggregates are known to be complete (see `log_head.py`).
        self.head = LogHead(ledger.log_position)
        self._verified = Verified()

    def run(
        self,
        command: Callable[[UnitOfWork], R],
        present: Callable[[R], T],
        request: Request | None = None,
        locks: Iterable[UUID] = (),
        *,
        conflicts: int = 0,
    ) -> Written[T]:
        """Run `command` until it is saved, replayed or refused; `present` turns its result
        (or the replayed original) into what the caller gets back. `conflicts`: how many
        attempts already conflicted (a combined batch's), counted against the retries."""
        new_id = (request.command_id if request else None) or uuid4()
        # Without a cache every read comes from the log anyway. With one, a command reads
        # its aggregates from the cache without asking the log, which is right as long as
        # this process is their only writer (its own commands queue on the locks below).
        # A conflict shows another process writing too: from then on, for a while, commands
        # first fast-forward what they read (one cheap query each) rather than lose an
        # insert to a stale cache and retry.
        fresh = not self.cached or time.monotonic() < self._contended_until
        with self._locks.holding(tuple(locks)):
            while True:
                uow = UnitOfWork(self.ledger, self.clock.now(), fresh, new_id)
                try:
                    result = command(uow)
                    position = self._commit(uow, request, result)
                    return Written(present(result), position)
                except IntegrityError:
                    # The retry reads what the winner wrote (the cache keeps the state the
                    # log committed: this attempt's changes were made on copies).
                    fresh = True
                    # The key's claim may be what collided: that is a replay, not a conflict.
                    if (replayed := self.replay(request, present)) is not None:
                        return replayed
                    self.conflicts += 1
                    conflicts += 1
                    self._contended_until = time.monotonic() + CONTENDED_S
                    if conflicts > self.retries_max:
                        raise ConcurrencyConflictError() from None
                    # Jittered exponential backoff lets the winner's transaction land.
                    cap_s = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**conflicts)
                    time.sleep(random.uniform(0, cap_s))
                except CodedError as refusal:
                    # A keyed request seen before answers as it did, whatever it says now.
                    if (replayed := self.replay(request, present)) is not None:
                        return replayed
                    if fresh or not isinstance(refusal, DomainError):
                        raise
                    fresh = True  # visible step: the re-run reads everything from the log

    @property
    def cached(self) -> bool:
        """Whether aggregates come from a cache (and so may be stale)."""
        return bool(self.ledger.repository.cache)

    def replay(self, request: Request | None, present: Callable[[Any], T]) -> Written[T] | None:
        """The first result of a keyed request already made (None if it was not): the
        result aggregate at the version that request left it."""
        if request is None or request.command_id is None:
            return None
        try:
            claim: Any = self.ledger.repository.get(claim_id(request.command_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(claim, RequestClaim) or claim.operation != request.operation:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used for a different operation."
            )
        if claim.request_digest != request.digest:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used with a different request."
            )
        original: Any = self.ledger.repository.get(claim.result_id, version=claim.result_version)
        return Written(present(original), None, True)

    def run_combined(
        self,
        command: Callable[[UnitOfWork], R],
        present: Callable[[R], T],
        request: Request | None,
        lock: UUID,
    ) -> Written[T]:
        """As `run`, for a command on one busy aggregate (a wallet's credits and debits):
        the commands queued on its lock meanwhile run as one batch, one after another on the
        same state read from the log, and are saved in one transaction (one commit for all,
        where `run` would commit each in turn while holding the lock).

        A refusal in a batch is decided on the log's state plus the commands before it in
        the batch, and is only answered once the batch is saved. When the save conflicts,
        every command of the batch runs again on its own through `run`."""
        work = _Combined(command, present, request, lock)
        return self._combiners.of(lock).submit(work, self._run_batch)

    def _run_batch(self, batch: Sequence[Queued[_Combined[Any, Any], Written[Any]]]) -> None:
        # The batch's locks share one stripe (that is what shares a combiner).
        with self._locks.holding({queued.work.lock for queued in batch}):
            loaded: dict[UUID, Aggregate] = {}
            now = self.clock.now()
            to_save: list[Aggregate] = []
            answers: list[tuple[Queued[_Combined[Any, Any], Written[Any]], Any, bool]] = []
            for queued in batch:
                work = queued.work
                new_id = (work.request.command_id if work.request else None) or uuid4()
                uow = UnitOfWork(self.ledger, now, True, new_id, loaded)
                before = {key: copy.deepcopy(aggregate) for key, aggregate in loaded.items()}
                try:
                    result = work.command(uow)
                    saved = self._to_save(uow, work.request, result)
                    answers.append((queued, work.present(result), True))
                    to_save.extend(a for a in saved if a not in to_save)
                except Exception as error:
                    _restore(loaded, before)
                    answers.append((queued, error, False))
            try:
                position = self._save(to_save)
            except IntegrityError:
                for queued in batch:  # refusals too: the state they saw was never saved
                    self._run_alone(queued)
                # A key's claim may be what collided: that is a replay, not a conflict.
                if not any(q.value is not None and q.value.replayed for q in batch):
                    self.conflicts += 1
                    self._contended_until = time.monotonic() + CONTENDED_S
                return
        for queued, answer, ok in answers:
            if ok:
                queued.settle(Written(answer, position))
            elif isinstance(answer, CodedError):
                self._refuse(queued, answer)
            else:
                queued.settle(error=answer)

    def _refuse(
        self, queued: Queued[_Combined[Any, Any], Written[Any]], refusal: CodedError
    ) -> None:
        """As `run` answers a refusal: a keyed request seen before answers as it did."""
        try:
            replayed = self.replay(queued.work.request, queued.work.present)
        except CodedError as reused:
            queued.settle(error=reused)
            return
        if replayed is not None:
            queued.settle(replayed)
        else:
            queued.settle(error=refusal)

    def _run_alone(self, queued: Queued[_Combined[Any, Any], Written[Any]]) -> None:
        work = queued.work
        try:
            written = self.run(work.command, work.present, work.request, (work.lock,), conflicts=1)
            queued.settle(written)
        except Exception as error:
            queued.settle(error=error)

    def read(
        self,
        cls: type[A],
        aggregate_id: UUID,
        missing: type[NotFoundError],
        *,
        shared: bool = False,
    ) -> A:
        """An aggregate as the log had it when the request arrived (or now, outside a
        request), in whichever process it was written: strongly consistent. `shared`: the
        caller only looks at it, so it may be the cache's own object (no copy)."""
        found = self._read(aggregate_id, shared)
        if not isinstance(found, cls):
            raise missing()
        return found

    def read_wallet(self, customer_id: str, currency: str, *, shared: bool = False) -> Account:
        """A wallet as `read` reads it (an id or currency no wallet can have is refused
        first)."""
        check_customer_id(customer_id)
        check_currency(currency)
        found = self._read(wallet_id(customer_id, currency), shared)
        if not isinstance(found, Account):
            raise WalletNotFoundError(f"{customer_id} has no {currency} wallet.")
        return found

    def _read(self, aggregate_id: UUID, shared: bool) -> Aggregate | None:
        if not self.cached:
            may_block()
            return current(self.ledger, aggregate_id)
        moment = read_moment()
        head = known_head()
        if head is None:
            head = self.head.known_since(moment)
        if head is None:
            # Check the log's head only where it can save the query for the aggregate:
            # when it is known current up to the newest head seen and the log is not
            # moving. Else (under writes) ask for its newer events at once, and note it
            # current up to that newest head (the first read of a process checks one).
            known = self._verified.position_of(aggregate_id)
            newest = self.head.newest
            if self.head.worth_checking() and (
                newest == 0 or (known is not None and known >= newest)
            ):
                may_block()
                head = self.head.since(moment)
        return current(
            self.ledger, aggregate_id, self._verified, head, self.head.newest, shared=shared
        )

    def _commit(self, uow: UnitOfWork, request: Request | None, result: object) -> int | None:
        return self._save(self._to_save(uow, request, result))

    @staticmethod
    def _to_save(uow: UnitOfWork, request: Request | None, result: object) -> list[Aggregate]:
        """What a command saved, plus the idempotency claim of a keyed request."""
        to_save = list(uow.saved)
        if request is not None and request.command_id is not None:
            assert isinstance(result, Aggregate), "a keyed command returns its result aggregate"
            to_save.append(
                RequestClaim.claim(
                    claim_id(request.command_id),
                    request.operation,
                    request.digest,
                    result.id,
                    result.version,
                )
            )
        return to_save

    def _save(self, to_save: list[Aggregate]) -> int | None:
        """Save in one transaction; the highest log position written (None: nothing)."""
        if not to_save:
            return None
        # Only those with new events had their version checked by this save.
        changed = [aggregate for aggregate in to_save if aggregate.pending_events]
        recordings = self.ledger.save(*to_save)
        ids = [r.notification.id for r in recordings if r.notification.id is not None]
        if not ids:
            return None
        position = max(ids)
        # Saved without a conflict: each holds all its events, and any later one follows
        # this save in the log.
        for aggregate in changed:
            self._verified.note(aggregate.id, aggregate.version, position)
        return position


def current(
    ledger: Ledger,
    aggregate_id: UUID,
    verified: Verified | None = None,
    head: int | None = None,
    seen: int | None = None,
    *,
    shared: bool = False,
) -> Aggregate | None:
    """The aggregate as the log has it now (None if the log has no such aggregate), as a
    copy the caller may change.

    A cached aggregate is fast-forwarded by the log's events after its version (one
    indexed query, usually empty), and the newer state replaces it in the cache unless
    another thread replaced it meanwhile; an aggregate not in the cache is rebuilt from
    its snapshot and events (and cached by the repository).

    With `verified` (see `log_head.py`): given `head`, the log's head checked after the
    moment the read must be current to, a cached aggregate known complete up to `head` is
    the log's state as it is, without a query (and, if `shared`, without a copy: the
    cache's states are never changed in place). An aggregate fast-forwarded from the log is
    noted complete up to `head`, or `seen` (a head checked at any time before the query)."""
    repository = ledger.repository
    cache = repository.cache
    cached: Any = None
    if cache:
        with contextlib.suppress(KeyError):
            cached = cache.get(aggregate_id)
    if cached is None:
        may_block()
        # Not noted as verified: by the time the repository looks, its cache may hold a
        # state another thread read earlier. The next read fast-forwards it once.
        try:
            rebuilt: Aggregate = repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return rebuilt
    if (
        verified is not None
        and head is not None
        and verified.covers(aggregate_id, cached.version, head)
    ):
        return cached if shared else copy.deepcopy(cached)  # type: ignore[no-any-return]
    may_block()
    newer = list(repository.event_store.get(originator_id=aggregate_id, gt=cached.version))
    aggregate = project_aggregate(copy.deepcopy(cached), newer)
    if newer and cache:
        with contextlib.suppress(KeyError):
            if cache.get(aggregate_id) is cached:
                cache.put(aggregate_id, copy.deepcopy(aggregate))
    if not isinstance(aggregate, Aggregate):
        return None
    complete_to = head if head is not None else seen
    if verified is not None and complete_to:
        verified.note(aggregate_id, aggregate.version, complete_to)
    return aggregate


def evict(ledger: Ledger, *aggregate_ids: UUID) -> None:
    """Drop aggregates from the cache: the next read rebuilds them from the log."""
    cache = ledger.repository.cache
    if cache:
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)


@dataclass(frozen=True)
class _Combined(Generic[R, T]):
    """A command waiting in a combined batch (see `CommandRunner.run_combined`)."""

    command: Callable[[UnitOfWork], R]
    present: Callable[[R], T]
    request: Request | None
    lock: UUID


def _restore(loaded: dict[UUID, Aggregate], before: dict[UUID, Aggregate]) -> None:
    """Undo what a refused command of a batch changed: the shared aggregates get back their
    state from before it (in place: the batch's other commands hold them), and those it
    loaded itself are dropped."""
    for key in list(loaded):
        if key in before:
            vars(loaded[key]).clear()
            vars(loaded[key]).update(vars(before[key]))
        else:
            del loaded[key]
