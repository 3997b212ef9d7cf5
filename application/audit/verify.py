"""Verification: one pass over the stored log that checks everything an auditor asks.

- conservation: every journal transaction balances per currency, and the sum of all
  postings of each currency is zero at sampled positions and at the end;
- wallets: each wallet's running balance follows its postings, and equals what the journal
  says the wallet holds;
- payments: each payment's captured and refunded amounts and status match the journal
  transactions that name it;
- projections: the ledger and payments views equal the replay at the position they reached;
- chain: every event's link is recomputed from its stored bytes, and every signed checkpoint
  matches the recomputed chain and its signature.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

import msgspec

from application.audit import decoding as d
from application.audit.chain import GENESIS, HEAD, LENGTH, checkpoint_message
from application.audit.folds import journal_amount
from application.audit.replay import PAGE_SIZE, Progress, prefetched
from application.audit.views_snapshot import ProjectionReader, ViewSnapshot
from application.ports.audit_log import AuditLog, Checkpoint, Row, SignatureChecker
from domain.payment_terms import PaymentStatus

SAMPLE_EVERY = 10_000
DISCREPANCIES_MAX = 1_000

CONSERVATION = "conservation"
WALLETS = "wallet_balances"
PAYMENTS = "payments_match_postings"
PROJECTIONS = "projections_equal_replay"
CHAIN = "hash_chain"
CHECKPOINTS = "signed_checkpoints"


class Discrepancy(msgspec.Struct, frozen=True):
    """Something the log does not agree with, and where."""

    check: str
    position: int | None
    aggregate_id: UUID | None
    message: str


class CheckResult(msgspec.Struct, frozen=True):
    """One check: whether it passed and how many things it looked at."""

    name: str
    ok: bool
    checked: int
    detail: str
    skipped: bool = False


class VerificationReport(msgspec.Struct, frozen=True):
    """What was verified, over how many events, and every discrepancy found (capped)."""

    ok: bool
    events: int
    last_position: int
    chain_head: str | None
    checks: list[CheckResult]
    discrepancies: list[Discrepancy]
    discrepancies_total: int
    elapsed_s: float
    events_per_s: float


class _Payment:
    __slots__ = ("amount", "captured", "last", "refunded", "status")

    def __init__(self, amount: int, position: int) -> None:
        self.amount, self.captured, self.refunded = amount, 0, 0
        self.status, self.last = PaymentStatus.CREATED, position


class Verifier:
    """One verification pass; `run` returns the report."""

    def __init__(
        self,
        log: AuditLog,
        signatures: SignatureChecker | None = None,
        trusted_key: bytes | None = None,
        projections: ProjectionReader | None = None,
        sample_every: int = SAMPLE_EVERY,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._log, self._signatures, self._trusted = log, signatures, trusted_key
        self._projections, self._sample_every, self._page_size = (
            projections,
            sample_every,
            page_size,
        )
        self.found: list[Discrepancy] = []
        self.found_total = 0
        self.totals: dict[str, int] = defaultdict(int)
        # Keyed as the inner loop meets them: wallets and payments by their 16-byte key,
        # journal accounts by the id's text.
        self.journal_balances: dict[str, int] = defaultdict(int)
        self.wallets: dict[bytes, int] = {}
        self.payments: dict[bytes, _Payment] = {}
        self.by_reference: dict[str, list[int]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.previous = GENESIS
        self.events = 0
        self.last = 0
        self._stored_links: dict[int, bytes] = {}
        self._topics: dict[str, bytes] = {}
        self._handlers = {
            d.OPENED: self._opened,
            d.POSTED: self._posted,
            d.RECORDED: self._recorded,
            d.PAYMENT_CREATED: self._payment_created,
            d.PAYMENT_SUCCEEDED: self._payment_succeeded,
            d.PAYMENT_REFUNDED: self._payment_refunded,
            d.PAYMENT_STARTED: self._payment_status,
            d.PAYMENT_REJECTED: self._payment_status,
            d.PAYMENT_FAILED: self._payment_status,
        }

    def flag(
        self, check: str, position: int | None, aggregate: UUID | bytes | None, message: str
    ) -> None:
        self.found_total += 1
        if isinstance(aggregate, bytes):
            aggregate = UUID(bytes=aggregate)
        if len(self.found) < DISCREPANCIES_MAX:
            self.found.append(Discrepancy(check, position, aggregate, message))

    # The pass.

    def run(self, progress: Progress | None = None) -> VerificationReport:
        started = time.perf_counter()
        views, moving = self._projections.snapshots() if self._projections else ([], [])
        views.sort(key=lambda v: v.position)
        checkpoints = list(self._log.checkpoints()) if self._log.has_chain else []
        checkpoint_positions = {c.position for c in checkpoints}
        computed: dict[int, bytes] = {}
        head = self._log.head()
        for page, links in prefetched(self._fetch, _end_of, 0, head):
            self._stored_links = links
            done = 0
            while views and views[0].position <= page[-1][0]:
                view = views.pop(0)
                cut = bisect.bisect_right(page, view.position, key=lambda r: r[0])
                self._fold(page[done:cut], checkpoint_positions, computed)
                done = cut
                self._compare_view(view)
            self._fold(page[done:], checkpoint_positions, computed)
            if progress is not None:
                progress(self.last, head)
        for view in views:  # views at (or, impossibly, beyond) the end of the log
            self._compare_view(view)
        self._end_checks(checkpoints, computed)
        return self._report(started, moving)

    def _fetch(self, after: int) -> tuple[Sequence[Row], dict[int, bytes]]:
        """A page of the log after `after`, and the chain's links up to its end (on the
        prefetching thread)."""
        page = self._log.records(after, None, self._page_size)
        links: dict[int, bytes] = {}
        if not page or not self._log.has_chain:
            return page, links
        last = page[-1][0]
        while True:
            found = self._log.links(after, last, self._page_size)
            links.update(found)
            if len(found) < self._page_size:
                return page, links
            after = found[-1][0]

    def _fold(self, records: Sequence[Row], cps: set[int], computed: dict[int, bytes]) -> None:
        # The inner loop of every verification: locals, tuple unpacking, one dict lookup
        # for the topic, one hash per event.
        handlers, chained = self._handlers, self._log.has_chain
        links = self._stored_links
        sample = self._sample_every
        previous = self.previous
        events = self.events
        position = self.last
        # `link_of` inlined (a call per event is a tenth of the loop): same bytes, same hash;
        # the tests check it against the links the recorders wrote.
        sha256, head, length, join = hashlib.sha256, HEAD.pack, LENGTH.pack, b"".join
        topics = self._topics
        for position, key, version, topic, state in records:
            events += 1
            handler = handlers.get(topic)
            if handler is not None:
                handler(position, key, topic, state)
            if chained:
                name = topics.get(topic)
                if name is None:
                    name = topics[topic] = topic.encode()
                expected = sha256(
                    join(
                        (
                            previous,
                            head(position, key, version, len(name)),
                            name,
                            length(len(state)),
                            state,
                        )
                    )
                ).digest()
                stored = links.pop(position, None)
                if stored is None:
                    self.flag(CHAIN, position, key, "event has no chain link")
                    previous = expected
                elif stored != expected:
                    message = "stored event does not match its chain link (altered or re-linked)"
                    self.flag(CHAIN, position, key, message)
                    previous = stored
                else:
                    previous = expected
                if position in cps:
                    computed[position] = expected
            if events % sample == 0:
                self.events, self.last = events, position
                self._sample_conservation(position)
        self.previous, self.events, self.last = previous, events, position
        for position in sorted(p for p in links if p <= self.last):
            self.flag(CHAIN, position, None, "chain link without a stored event (deleted event)")
            del links[position]

    def _sample_conservation(self, position: int) -> None:
        self.counts["samples"] += 1
        for currency, total in self.totals.items():
            if total != 0:
                self.flag(CONSERVATION, position, None, f"{currency} postings sum to {total}")

    # Handlers: one per topic the checks need.

    def _opened(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        self.wallets[key] = 0

    def _posted(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        posted = d.amounts(state)
        before = self.wallets.get(key, 0)
        if before + posted.amount_minor != posted.balance_after_minor:
            self.flag(
                WALLETS,
                position,
                key,
                f"balance {before} + {posted.amount_minor} recorded as "
                f"{posted.balance_after_minor}",
            )
        self.wallets[key] = posted.balance_after_minor
        self.counts["postings"] += 1

    def _recorded(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        journal = d.journal(state)
        self.counts["transactions"] += 1
        sums: dict[str, int] = defaultdict(int)
        for leg in journal.postings:
            sums[leg.currency] += leg.amount_minor
            self.totals[leg.currency] += leg.amount_minor
            self.journal_balances[leg.account_id] += leg.amount_minor
        unbalanced = {c: s for c, s in sums.items() if s}
        if unbalanced:
            self.flag(CONSERVATION, position, key, f"unbalanced {unbalanced}")
        if journal.reference and journal.kind in ("payment", "refund"):
            amount = journal_amount(journal) or 0
            moved = self.by_reference.setdefault(journal.reference, [0, 0, position])
            moved[0 if journal.kind == "payment" else 1] += amount
            moved[2] = position

    def _payment_created(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        self.payments[key] = _Payment(d.amount(state).amount_minor, position)

    def _payment(self, position: int, key: bytes) -> _Payment:
        payment = self.payments.get(key)
        if payment is None:
            self.flag(PAYMENTS, position, key, "event of an unknown payment")
            payment = self.payments[key] = _Payment(0, position)
        payment.last = position
        return payment

    def _payment_succeeded(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        payment = self._payment(position, key)
        payment.captured = sum(a.amount_minor for a in d.captured(state).allocations)
        payment.status = PaymentStatus.SUCCESS

    def _payment_refunded(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        payment = self._payment(position, key)
        payment.refunded += d.amount(state).amount_minor
        whole = payment.refunded >= payment.captured
        payment.status = PaymentStatus.REFUNDED if whole else PaymentStatus.PARTIALLY_REFUNDED

    def _payment_status(self, position: int, key: bytes, topic: str, state: bytes) -> None:
        payment = self._payment(position, key)
        started = topic == d.PAYMENT_STARTED
        payment.status = PaymentStatus.PROCESSING if started else PaymentStatus.FAILED

    # Comparisons.

    def _compare_view(self, view: ViewSnapshot) -> None:
        self.counts["views"] += 1
        for account_id, (account, balance) in view.balances.items():
            self.counts["view_rows"] += 1
            if account.startswith("wallet:"):
                replayed = self.wallets.get(account_id.bytes, 0)
            else:
                replayed = self.journal_balances.get(str(account_id), 0)
            if balance != replayed:
                self.flag(
                    PROJECTIONS,
                    view.position,
                    account_id,
                    f"{view.name}: {account} holds {balance}, the replay {replayed}",
                )
        if view.name == "ledger_view":
            shown = {str(account_id) for account_id in view.balances}
            for key, replayed in self.journal_balances.items():
                if replayed and key not in shown:
                    self.flag(PROJECTIONS, view.position, UUID(key), f"{view.name}: no account")
        for payment_id, (status, refunded) in view.payments.items():
            self.counts["view_rows"] += 1
            payment = self.payments.get(payment_id.bytes)
            state = (str(payment.status), payment.refunded) if payment else None
            if state != (status, refunded):
                self.flag(
                    PROJECTIONS,
                    view.position,
                    payment_id,
                    f"{view.name}: shows {(status, refunded)}, the replay {state}",
                )
        if view.name == "payments_view":
            shown_payments = {payment_id.bytes for payment_id in view.payments}
            for missing in self.payments.keys() - shown_payments:
                self.flag(PROJECTIONS, view.position, missing, f"{view.name}: missing payment")

    def _end_checks(self, checkpoints: list[Checkpoint], computed: dict[int, bytes]) -> None:
        self._sample_conservation(self.last)
        for key, balance in self.wallets.items():
            journal = self.journal_balances.get(str(UUID(bytes=key)), 0)
            if balance != journal:
                self.flag(WALLETS, self.last, key, f"wallet {balance}, journal {journal}")
        for key, payment in self.payments.items():
            self._check_payment(key, payment)
        for reference, moved in self.by_reference.items():
            try:
                known = UUID(reference).bytes in self.payments
            except ValueError:
                known = False
            if not known:
                self.flag(PAYMENTS, moved[2], None, f"journal names unknown payment {reference}")
        if self._log.has_chain:
            after = self._log.links(self.last, None, 10)
            for position, _ in after:
                self.flag(CHAIN, position, None, "chain link beyond the last stored event")
            for checkpoint in checkpoints:
                self._check_checkpoint(checkpoint, computed.get(checkpoint.position))

    def _check_payment(self, key: bytes, payment: _Payment) -> None:
        captured, refunded, _ = self.by_reference.get(str(UUID(bytes=key)), (0, 0, 0))
        problems = []
        if (captured, refunded) != (payment.captured, payment.refunded):
            problems.append(
                f"payment says captured {payment.captured} refunded {payment.refunded}, "
                f"journal {captured} and {refunded}"
            )
        settled = payment.status in (
            PaymentStatus.SUCCESS,
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentStatus.REFUNDED,
        )
        if settled != (captured > 0) and payment.amount > 0:
            problems.append(f"status {payment.status} but journal captured {captured}")
        for problem in problems:
            self.flag(PAYMENTS, payment.last, key, problem)

    def _check_checkpoint(self, checkpoint: Checkpoint, computed: bytes | None) -> None:
        self.counts["checkpoints"] += 1
        at = checkpoint.position
        if computed is None:
            self.flag(CHECKPOINTS, at, None, "checkpoint at a position with no event")
        elif computed != checkpoint.link:
            self.flag(CHECKPOINTS, at, None, "the log no longer leads to this signed chain head")
        if self._trusted is not None and checkpoint.public_key != self._trusted:
            self.flag(CHECKPOINTS, at, None, "checkpoint signed by an untrusted key")
        if self._signatures is None:
            return
        message = checkpoint_message(at, checkpoint.link)
        if not self._signatures.is_valid(checkpoint.public_key, message, checkpoint.signature):
            self.flag(CHECKPOINTS, at, None, "invalid checkpoint signature")

    def _report(self, started: float, moving: list[str]) -> VerificationReport:
        elapsed = time.perf_counter() - started
        failed = {d.check for d in self.found}
        chained = self._log.has_chain
        c = self.counts
        checks = [
            CheckResult(
                CONSERVATION,
                CONSERVATION not in failed,
                c["transactions"],
                f"{c['transactions']} transactions balanced; sums zero at {c['samples']} samples",
            ),
            CheckResult(
                WALLETS, WALLETS not in failed, len(self.wallets), f"{c['postings']} postings"
            ),
            CheckResult(
                PAYMENTS, PAYMENTS not in failed, len(self.payments), "captured, refunded, status"
            ),
            CheckResult(
                PROJECTIONS,
                PROJECTIONS not in failed,
                c["view_rows"],
                f"{c['views']} views compared" + (f"; still moving: {moving}" if moving else ""),
                skipped=self._projections is None or (c["views"] == 0),
            ),
            CheckResult(
                CHAIN,
                CHAIN not in failed,
                self.events if chained else 0,
                "links recomputed from stored bytes" if chained else "no chain on this store",
                skipped=not chained,
            ),
            CheckResult(
                CHECKPOINTS,
                CHECKPOINTS not in failed,
                c["checkpoints"],
                "signatures and chain heads" if self._signatures else "chain heads only",
                skipped=not chained,
            ),
        ]
        return VerificationReport(
            ok=not self.found_total,
            events=self.events,
            last_position=self.last,
            chain_head=self.previous.hex() if chained and self.events else None,
            checks=checks,
            discrepancies=self.found,
            discrepancies_total=self.found_total,
            elapsed_s=round(elapsed, 3),
            events_per_s=round(self.events / elapsed, 1) if elapsed > 0 else 0.0,
        )


def _end_of(fetched: tuple[Sequence[Row], dict[int, bytes]]) -> int | None:
    page = fetched[0]
    return page[-1][0] if page else None
