"""The webhook sender: claims due deliveries and sends them, signed, with bounded concurrency.

Isolation: attempts run in a pool of `concurrency` threads, each bounded by the transport's
timeouts; one endpoint holds at most `per_endpoint_max` of them, so a slow or dead receiver
delays only its own deliveries, never another's nor the API (which only reads the tables).

Retries: after a failed attempt (no answer, a timeout, any status but 2xx, a redirect: never
followed) the delivery is due again after an exponential backoff with jitter, until its
horizon; a 2xx ends it, a 410 Gone ends it and disables the endpoint.

Replicas: each attempt is claimed in the store first (an atomic conditional UPDATE with a
lease), so several senders share the work without sending an attempt twice.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from uuid import UUID

from application.ports.clock import Clock
from application.ports.webhooks import (
    AttemptOutcome,
    ClaimedDelivery,
    WebhookStore,
    WebhookTransport,
)
from application.webhook_results import DeliveryStatus
from application.webhook_signing import signed_headers
from application.webhooks import WebhookPolicy

log = logging.getLogger(__name__)

GONE = 410
ERROR_SLEEP_S = 1.0
LEASE_MARGIN_S = 30.0


def backoff_s(attempt: int, policy: WebhookPolicy, rng: random.Random) -> float:
    """The wait after failed attempt number `attempt` (1, 2, ...): base * 2^(attempt-1),
    capped, of which a random half (jitter spreads the retries of many deliveries)."""
    exponent = min(attempt - 1, 40)
    delay_s = min(policy.backoff_max_s, policy.backoff_base_s * 2**exponent)
    return float(delay_s / 2 + rng.uniform(0, delay_s / 2))


class WebhookSender:
    """Sends due deliveries (see the module); `run_once` for tests, `start` for a process."""

    name = "webhook_sender"

    def __init__(
        self,
        store: WebhookStore,
        transport: WebhookTransport,
        clock: Clock,
        policy: WebhookPolicy,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.policy = policy
        self.rng = rng or random.Random()
        self.lease_s = policy.timeout_s * 3 + LEASE_MARGIN_S
        self._pool = ThreadPoolExecutor(policy.concurrency, thread_name_prefix="webhook")
        self._pool_closed = False
        self._lock = threading.Lock()
        self._in_flight: dict[UUID, int] = {}
        self._futures: set[Future[None]] = set()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._problem: str | None = None

    # One round: claim what is due and what the free slots allow, and send it.

    def dispatch_due(self) -> list[Future[None]]:
        """Claim due deliveries up to the free slots and start sending them."""
        with self._lock:
            free = self.policy.concurrency - sum(self._in_flight.values())
            busy = frozenset(
                endpoint
                for endpoint, count in self._in_flight.items()
                if count >= self.policy.per_endpoint_max
            )
        claims = self.store.claim_due(self.clock.now(), free, self.lease_s, busy)
        futures = []
        for claim in claims:
            with self._lock:
                self._in_flight[claim.endpoint_id] = self._in_flight.get(claim.endpoint_id, 0) + 1
            future = self._pool.submit(self.attempt, claim)
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(functools.partial(self._done, claim.endpoint_id))
            futures.append(future)
        return futures

    def run_once(self, timeout_s: float | None = None) -> int:
        """Send what is due now and wait for those attempts; returns how many (tests)."""
        futures = self.dispatch_due()
        wait(futures, timeout=timeout_s)
        for future in futures:
            future.result(0)  # an attempt's bug surfaces in the test
        return len(futures)

    def _done(self, endpoint_id: UUID, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
            left = self._in_flight.get(endpoint_id, 1) - 1
            if left:
                self._in_flight[endpoint_id] = left
            else:
                self._in_flight.pop(endpoint_id, None)
        self._wake.set()  # a slot is free: there may be more to send

    def attempt(self, claim: ClaimedDelivery) -> None:
        """One attempt of a claimed delivery, recorded with its outcome."""
        try:
            self._attempt(claim)
        except Exception:
            log.exception("webhook delivery %s: the attempt failed", claim.delivery_id)

    def _attempt(self, claim: ClaimedDelivery) -> None:
        if not claim.endpoint_active:
            self.store.abandon(claim, "endpoint disabled or deleted", self.clock.now())
            return
        timestamp_s = int(self.clock.now().timestamp())
        headers = signed_headers(claim.secret, claim.message_id, timestamp_s, claim.payload)
        outcome = self.transport.post(claim.url, headers, claim.payload, self.policy.timeout_s)
        now = self.clock.now()
        status, next_at, disable = self.decide(claim, outcome, now)
        if not self.store.finish_attempt(claim, outcome, now, status, next_at, disable):
            log.warning("webhook delivery %s: claim lost before recording", claim.delivery_id)

    def decide(
        self, claim: ClaimedDelivery, outcome: AttemptOutcome, now: datetime
    ) -> tuple[DeliveryStatus, datetime | None, str | None]:
        """The delivery's status after an attempt, when it is due again, and why its
        endpoint is to be disabled (if it is)."""
        if outcome.succeeded:
            return DeliveryStatus.SUCCEEDED, None, None
        if outcome.status_code == GONE:
            return DeliveryStatus.FAILED, None, "the receiver answered 410 Gone"
        next_at = now + timedelta(seconds=backoff_s(claim.attempts + 1, self.policy, self.rng))
        if next_at > claim.expires_at:
            return DeliveryStatus.FAILED, None, None
        return DeliveryStatus.PENDING, next_at, None

    # The loop of a process.

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.dispatch_due()
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
                if problem != self._problem:
                    log.warning("webhook sender cannot claim deliveries (%s); retrying", problem)
                    self._problem = problem
                self._stop.wait(ERROR_SLEEP_S)
                continue
            self._problem = None
            self._wake.wait(self.policy.poll_interval_s)

    def start(self) -> None:
        if self._pool_closed:  # started again after a stop: a new pool
            self._pool = ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="webhook")
            self._pool_closed = False
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, daemon=True, name=self.name)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop claiming, and wait (up to `timeout_s`) for the attempts in flight to be
        recorded; one still running then is claimed again once its lease runs out."""
        started = time.monotonic()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._lock:
            running = list(self._futures)
        wait(running, timeout=max(0.0, timeout_s - (time.monotonic() - started)))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool_closed = True
