"""The ledger service: wallets, credits, debits, transfers and holds on the event store."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application import results
from application.idempotency import check_same_request, command_id, request_digest
from application.ports import Clock
from domain.account import Account
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
    HoldNotFoundError,
    IdempotencyKeyReusedError,
    InvalidExpiryError,
    SameWalletTransferError,
    TransactionNotFoundError,
    WalletExistsError,
    WalletNotFoundError,
)
from domain.hold import PENDING, Hold
from domain.ids import idempotent_id, wallet_id
from domain.journal import (
    EXTERNAL_FUNDING,
    EXTERNAL_PAYOUTS,
    JournalTransaction,
    Posting,
    system_posting,
    wallet_posting,
)
from domain.money import check_currency, check_customer_id
from domain.request_claim import RequestClaim

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

HOLD_TTL_MAX = timedelta(days=30)
BACKOFF_CAP_S = 0.05
DESCRIPTION_LENGTH_MAX = 500


class StripedLocks:
    """Per-wallet mutexes within this process, striped over a fixed number of locks.

    Commands on the same wallet queue here instead of racing to a version conflict in the
    database, which would waste a transaction and starve under contention. Locks are taken
    all at once, in a fixed order, so two commands can never wait on each other. Across
    processes, optimistic concurrency in the event store still decides.
    """

    def __init__(self, stripes: int = 1024) -> None:
        # Re-entrant: a command that runs another one on the same thread must not deadlock.
        self._locks = [threading.RLock() for _ in range(stripes)]

    @contextlib.contextmanager
    def holding(self, ids: tuple[UUID, ...]) -> Iterator[None]:
        stripes = sorted({aggregate_id.int % len(self._locks) for aggregate_id in ids})
        with contextlib.ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._locks[stripe])
            yield


class UtcClock:
    """The real clock (the default when no Clock is given)."""

    def now(self) -> datetime:

        return datetime.now(UTC)


class Ledger(Application[UUID]):
    """Use cases of the double-entry ledger.

    Each command builds its new events on fresh aggregates and saves every touched
    aggregate in one `save()`: one database transaction with optimistic concurrency on each
    aggregate. A conflict re-runs the command a bounded number of times.
    """

    name = "payledger"
    snapshotting_intervals = {Account: 100}
    retries_max = 20

    def __init__(self, env: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock: Clock = clock or UtcClock()
        self.conflicts = 0  # conflicts seen (and retried); a counter for tests and metrics
        self._local = threading.local()
        self._wallet_locks = StripedLocks()

    # Wallets.

    def open_wallet(
        self,
        customer_id: str,
        currency: str,
        overdraft_limit_minor: int = 0,
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Wallet]:
        """Open the customer's wallet in a currency (at most one per currency)."""
        check_customer_id(customer_id)
        check_currency(currency)
        digest = request_digest(
            "open_wallet",
            customer_id=customer_id,
            currency=currency,
            overdraft_limit_minor=overdraft_limit_minor,
        )
        claim_id = idempotent_id(scope, idempotency_key) if idempotency_key else None

        def replay() -> results.Written[results.Wallet] | None:
            return self.replay_claimed(claim_id, digest, self._wallet_result)

        def run() -> results.Written[results.Wallet]:
            if self.find(Account, wallet_id(customer_id, currency)) is not None:
                raise WalletExistsError(f"{customer_id} already has a {currency} wallet.")
            account = Account.open(customer_id, currency, overdraft_limit_minor)
            claims = []
            if claim_id is not None:
                claims.append(
                    RequestClaim.claim(claim_id, "open_wallet", digest, account.id, account.version)
                )
            position = self.record(account, *claims)
            return results.Written(self._wallet_result(account), position)

        return self.execute(run, replay, wallet_id(customer_id, currency))

    def get_wallet(self, customer_id: str, currency: str) -> results.Wallet:
        """The wallet straight from the event store (strongly consistent)."""
        self.evict(wallet_id(customer_id, currency))
        return self._wallet_result(self.wallet_account(customer_id, currency))

    def credit_wallet(
        self,
        customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Transaction]:
        """Top up a wallet with money from outside: external funding -> wallet."""
        digest = request_digest(
            "credit",
            customer_id=customer_id,
            amount=amount_minor,
            currency=currency,
            description=description,
        )

        def build(transaction_id: UUID) -> tuple[JournalTransaction, list[Aggregate]]:
            account = self.wallet_account(customer_id, currency)
            after = account.credit(amount_minor, currency, transaction_id, "credit", description)
            postings = (
                system_posting(EXTERNAL_FUNDING, -amount_minor, currency),
                wallet_posting(account.id, customer_id, amount_minor, currency, after),
            )
            journal = JournalTransaction.record(
                transaction_id, "credit", postings, description, digest
            )
            return journal, [account]

        return self._post_journal(
            build, digest, scope, idempotency_key, wallet_id(customer_id, currency)
        )

    def debit_wallet(
        self,
        customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Transaction]:
        """Pay money out of a wallet: wallet -> external payouts."""
        digest = request_digest(
            "debit",
            customer_id=customer_id,
            amount=amount_minor,
            currency=currency,
            description=description,
        )

        def build(transaction_id: UUID) -> tuple[JournalTransaction, list[Aggregate]]:
            account = self.wallet_account(customer_id, currency)
            after = account.debit(
                amount_minor, currency, transaction_id, "debit", description, self.clock.now()
            )
            postings = (
                wallet_posting(account.id, customer_id, -amount_minor, currency, after),
                system_posting(EXTERNAL_PAYOUTS, amount_minor, currency),
            )
            journal = JournalTransaction.record(
                transaction_id, "debit", postings, description, digest
            )
            return journal, [account]

        return self._post_journal(
            build, digest, scope, idempotency_key, wallet_id(customer_id, currency)
        )

    def transfer(
        self,
        from_customer_id: str,
        to_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Transaction]:
        """Move money between two wallets of the same currency, atomically."""
        if from_customer_id == to_customer_id:
            raise SameWalletTransferError()
        digest = request_digest(
            "transfer",
            source=from_customer_id,
            target=to_customer_id,
            amount=amount_minor,
            currency=currency,
            description=description,
        )

        def build(transaction_id: UUID) -> tuple[JournalTransaction, list[Aggregate]]:
            source = self.wallet_account(from_customer_id, currency)
            target = self.wallet_account(to_customer_id, currency)
            now = self.clock.now()
            source_after = source.debit(
                amount_minor, currency, transaction_id, "transfer_out", description, now
            )
            target_after = target.credit(
                amount_minor, currency, transaction_id, "transfer_in", description
            )
            postings = (
                wallet_posting(source.id, from_customer_id, -amount_minor, currency, source_after),
                wallet_posting(target.id, to_customer_id, amount_minor, currency, target_after),
            )
            journal = JournalTransaction.record(
                transaction_id, "transfer", postings, description, digest
            )
            return journal, [source, target]

        return self._post_journal(
            build,
            digest,
            scope,
            idempotency_key,
            wallet_id(from_customer_id, currency),
            wallet_id(to_customer_id, currency),
        )

    def get_transaction(self, transaction_id: UUID) -> results.Transaction:
        journal = self.find(JournalTransaction, transaction_id, fresh=True)
        if journal is None:
            raise TransactionNotFoundError()
        return self.transaction_result(journal)

    # Holds.

    def place_hold(
        self,
        customer_id: str,
        amount_minor: int,
        currency: str,
        expires_in_s: int | None = None,
        description: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Hold]:
        """Reserve wallet money; it stays unavailable until posted, voided or expired."""
        if expires_in_s is not None and not 0 < expires_in_s <= HOLD_TTL_MAX.total_seconds():
            raise InvalidExpiryError(
                f"expires_in_s must be between 1 and {int(HOLD_TTL_MAX.total_seconds())}."
            )
        digest = request_digest(
            "place_hold",
            customer_id=customer_id,
            amount=amount_minor,
            currency=currency,
            expires_in_s=expires_in_s,
            description=description,
        )
        hold_id = command_id(scope, idempotency_key)

        def replay() -> results.Written[results.Hold] | None:
            # The original response: the hold as placed, with its status at that moment.
            return self.replay_of(Hold, hold_id, digest, self._placed_hold_result, version=1)

        def run() -> results.Written[results.Hold]:
            account = self.wallet_account(customer_id, currency)
            now = self.clock.now()
            expires_at = now + timedelta(seconds=expires_in_s) if expires_in_s else None
            account.place_hold(hold_id, amount_minor, currency, expires_at, now)
            hold = Hold.place(
                hold_id,
                account.id,
                customer_id,
                amount_minor,
                currency,
                expires_at,
                description,
                digest,
            )
            position = self.record(hold, account)
            return results.Written(self._hold_result(hold), position)

        return self.execute(
            run, replay if idempotency_key else None, wallet_id(customer_id, currency)
        )

    def get_hold(self, hold_id: UUID) -> results.Hold:
        self.evict(hold_id)
        return self._hold_result(self._hold(hold_id))

    def post_hold(
        self,
        hold_id: UUID,
        amount_minor: int | None = None,
        to_customer_id: str | None = None,
        description: str = "",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Transaction]:
        """Capture a pending hold, in full or in part, to another wallet or out of the
        ledger (external payouts); the rest of the reservation is released."""
        digest = request_digest(
            "post_hold",
            hold_id=str(hold_id),
            amount=amount_minor,
            to_customer_id=to_customer_id,
            description=description,
        )

        def build(transaction_id: UUID) -> tuple[JournalTransaction, list[Aggregate]]:
            hold = self._hold(hold_id)
            amount = hold.amount_minor if amount_minor is None else amount_minor
            now = self.clock.now()
            hold.post(amount, transaction_id, now)
            source = self.wallet_account(hold.customer_id, hold.currency)
            source_after = source.capture_hold(hold_id, amount, transaction_id, description)
            legs: list[Posting] = [
                wallet_posting(source.id, hold.customer_id, -amount, hold.currency, source_after)
            ]
            touched: list[Aggregate] = [hold, source]
            if to_customer_id is None:
                legs.append(system_posting(EXTERNAL_PAYOUTS, amount, hold.currency))
            else:
                if to_customer_id == hold.customer_id:
                    raise SameWalletTransferError()
                target = self.wallet_account(to_customer_id, hold.currency)
                after = target.credit(
                    amount, hold.currency, transaction_id, "hold_capture", description
                )
                legs.append(wallet_posting(target.id, to_customer_id, amount, hold.currency, after))
                touched.append(target)
            journal = JournalTransaction.record(
                transaction_id,
                "hold_capture",
                tuple(legs),
                description,
                digest,
                reference=str(hold_id),
            )
            return journal, touched

        return self._post_journal(build, digest, scope, idempotency_key)

    def void_hold(
        self,
        hold_id: UUID,
        reason: str = "voided",
        idempotency_key: str | None = None,
        scope: str = "",
    ) -> results.Written[results.Hold]:
        """Release a pending (or expired) hold without moving money."""
        digest = request_digest("void_hold", hold_id=str(hold_id), reason=reason)
        claim_id = idempotent_id(scope, idempotency_key) if idempotency_key else None

        def replay() -> results.Written[results.Hold] | None:
            return self.replay_claimed(claim_id, digest, self._hold_result)

        def run() -> results.Written[results.Hold]:
            hold = self._hold(hold_id)
            hold.void(reason, digest, self.clock.now())
            account = self.wallet_account(hold.customer_id, hold.currency)
            account.void_hold(hold_id, reason)
            claims = []
            if claim_id is not None:
                claims.append(
                    RequestClaim.claim(claim_id, "void_hold", digest, hold_id, hold.version)
                )
            position = self.record(hold, account, *claims)
            return results.Written(self._hold_result(hold), position)

        return self.execute(run, replay)

    # The command machinery.

    def _post_journal(
        self,
        build: Callable[[UUID], tuple[JournalTransaction, list[Aggregate]]],
        digest: str,
        scope: str,
        idempotency_key: str | None,
        *locked_ids: UUID,
    ) -> results.Written[results.Transaction]:
        transaction_id = command_id(scope, idempotency_key)

        def replay() -> results.Written[results.Transaction] | None:
            return self.replay_of(
                JournalTransaction, transaction_id, digest, self.transaction_result
            )

        def run() -> results.Written[results.Transaction]:
            journal, touched = build(transaction_id)
            position = self.record(journal, *touched)
            return results.Written(self.transaction_result(journal), position)

        return self.execute(run, replay if idempotency_key else None, *locked_ids)

    def execute(
        self,
        run: Callable[[], results.Written[T]],
        replay: Callable[[], results.Written[T] | None] | None,
        *locked_ids: UUID,
    ) -> results.Written[T]:
        """Run a command; on a conflict, replay (if the key was taken meanwhile) or retry.

        A replay is checked first too: a replayed debit must return the original result even
        if the wallet could no longer pay it now.

        Aggregates come from an in-process cache that is not re-read before each command.
        A stale aggregate cannot slip through: its save conflicts on the version, the stale
        entries are evicted, and the command re-runs on fresh state. A stale aggregate could
        wrongly *refuse* a command (a wallet credited by another process looks too poor), so
        a refusal is only reported after the command re-ran once on state read from the log.
        """
        if replay is not None and (found := replay()) is not None:
            return found
        with self._wallet_locks.holding(locked_ids):
            return self._attempt(run, replay)

    def _attempt(
        self,
        run: Callable[[], results.Written[T]],
        replay: Callable[[], results.Written[T] | None] | None,
    ) -> results.Written[T]:
        self._local.fresh = False
        conflicts = 0
        try:
            while True:
                try:
                    return run()
                except IntegrityError:
                    self.conflicts += 1
                    conflicts += 1
                    if replay is not None and (found := replay()) is not None:
                        return found
                    if conflicts > self.retries_max:
                        raise ConcurrencyConflictError() from None
                    # Jittered exponential backoff (capped) lets the winner's transaction land.
                    time.sleep(random.uniform(0, min(BACKOFF_CAP_S, 0.001 * 2**conflicts)))
                except DomainError:
                    # A refusal re-runs once on fresh state; that is not a conflict retry.
                    if self._local.fresh or not self.repository.cache:
                        raise
                    self._local.fresh = True
        finally:
            self._local.fresh = False

    def record(self, *aggregates: Aggregate) -> int | None:
        try:
            recordings = self.save(*aggregates)
        except IntegrityError:
            self.evict(*(a.id for a in aggregates))
            raise
        ids = [r.notification.id for r in recordings if r.notification.id is not None]
        return max(ids) if ids else None

    def evict(self, *aggregate_ids: UUID) -> None:
        cache = self.repository.cache
        if cache:
            for aggregate_id in aggregate_ids:
                with contextlib.suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    def replay_of(
        self,
        cls: type[A],
        aggregate_id: UUID,
        digest: str,
        convert: Callable[[Any], T],
        version: int | None = None,
    ) -> results.Written[T] | None:
        try:
            found: Any = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, cls):
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used for a different operation."
            )
        check_same_request(getattr(found, "request_digest", ""), digest)
        return results.Written(convert(found), None, True)

    def replay_claimed(
        self, claim_id: UUID | None, digest: str, convert: Callable[[Any], T]
    ) -> results.Written[T] | None:
        """The original result of a claimed key: its result aggregate at the version the
        claiming command left it (not as it is now)."""
        claim = self.claim_of(claim_id, digest)
        if claim is None:
            return None
        original: Any = self.repository.get(claim.result_id, version=claim.result_version)
        return results.Written(convert(original), None, True)

    def claim_of(self, claim_id: UUID | None, digest: str) -> RequestClaim | None:
        """The claim a key made, if any; a key taken by another kind of command is refused."""
        if claim_id is None:
            return None
        try:
            found: Any = self.repository.get(claim_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, RequestClaim):
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used for a different operation."
            )
        check_same_request(found.request_digest, digest)
        return found

    def find(self, cls: type[A], aggregate_id: UUID, fresh: bool = False) -> A | None:
        """The aggregate (from the cache unless `fresh` or re-running a refusal), or None."""
        if fresh or getattr(self._local, "fresh", False):
            self.evict(aggregate_id)
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, cls) else None

    def wallet_account(self, customer_id: str, currency: str) -> Account:
        check_currency(currency)
        account = self.find(Account, wallet_id(customer_id, currency))
        if account is None:
            raise WalletNotFoundError(f"{customer_id} has no {currency} wallet.")
        return account

    def _hold(self, hold_id: UUID) -> Hold:
        hold = self.find(Hold, hold_id)
        if hold is None:
            raise HoldNotFoundError()
        return hold

    # Aggregate -> result.

    def _wallet_result(self, account: Account) -> results.Wallet:
        now = self.clock.now()
        return results.Wallet(
            id=account.id,
            customer_id=account.customer_id,
            currency=account.currency,
            balance=account.balance_minor,
            held=account.held_minor(now),
            available=account.available_minor(now),
            overdraft_limit=account.overdraft_limit_minor,
            version=account.version,
            updated_at=account.modified_on,
        )

    @staticmethod
    def transaction_result(journal: JournalTransaction) -> results.Transaction:
        return results.Transaction(
            id=journal.id,
            kind=journal.kind,
            description=journal.description,
            reference=journal.reference,
            created_at=journal.created_on,
            postings=[
                results.PostingOut(
                    p.account_id, p.account_code, p.amount_minor, p.currency, p.balance_after_minor
                )
                for p in journal.postings
            ],
        )

    def _placed_hold_result(self, hold: Hold) -> results.Hold:
        # Expiry lies in the future when a hold is placed: it was pending.
        return self._hold_result(hold, status=PENDING)

    def _hold_result(self, hold: Hold, status: str | None = None) -> results.Hold:
        return results.Hold(
            id=hold.id,
            wallet_id=hold.account_id,
            customer_id=hold.customer_id,
            amount=hold.amount_minor,
            currency=hold.currency,
            status=status or hold.status(self.clock.now()),
            posted_amount=hold.posted_minor,
            transaction_id=hold.transaction_id,
            expires_at=hold.expires_at,
            description=hold.description,
            created_at=hold.created_on,
        )
