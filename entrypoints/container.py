"""The composition root: dishka providers grouped by layer. Nothing else builds adapters.

The HTTP app, the CLI, the workers and `bench/` all resolve what they use from a container
built here (`build_container` for async callers such as the HTTP app, `build_sync_container`
for the CLI and scripts); tests add providers of their own, declared `override=True`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from dishka import (
    AsyncContainer,
    Container,
    Provider,
    Scope,
    alias,
    decorate,
    make_async_container,
    make_container,
    provide,
)

from adapters.clock import SystemClock
from adapters.eventstore.config import eventstore_env
from adapters.eventstore.new_events import ListenTarget, open_new_events
from adapters.fingerprint import HmacFingerprinter
from adapters.gateways.instrumented import InstrumentedPaymentGateway
from adapters.metrics.prometheus import PrometheusMetrics
from adapters.views.factory import (
    open_ledger_view,
    open_payments_view,
    open_tracker,
)
from application.charges import ChargeService
from application.checkout import CheckoutService
from application.holds import HoldService
from application.installment_scheduler import InstallmentScheduler, SchedulerTracker
from application.installments_projection import InstallmentsProjection
from application.ledger import Ledger
from application.log_head import LogHead
from application.payment_processor import PaymentProcessor, ProcessorTracker
from application.payment_projection import PaymentsProjection
from application.payment_queries import PaymentQueries
from application.payments import PaymentRules, PaymentService
from application.ports.clock import Clock
from application.ports.fingerprint import Fingerprinter
from application.ports.gateway import GatewayWebhooks, LegacyGateway, PaymentGateway
from application.ports.installments import InstallmentsView
from application.ports.metrics import Metrics
from application.ports.new_events import NewEvents
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder, PositionTracker
from application.ports.webhooks import WebhookStore
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from application.queries import LedgerQueries
from application.readiness import ReadinessProbe
from application.refunds import RefundService
from application.runner import CommandRunner
from application.settlement import PaymentSettlement
from application.transactions import TransactionService
from application.view_positions import LEDGER_VIEW, PAYMENTS_VIEW, ViewPositions
from application.wallets import WalletService
from application.webhook_dispatcher import WebhookDispatcher
from entrypoints.card_secret import card_fingerprint_secret
from entrypoints.container_audit import AuditProvider
from entrypoints.container_dashboard import DashboardProvider
from entrypoints.container_installments import InstallmentRunners, InstallmentsProvider
from entrypoints.container_people import PeopleProvider, PeopleRunners
from entrypoints.container_relay import RelayProvider, RelayRunners, RelayStatusSource
from entrypoints.container_webhooks import WebhooksProvider, WebhookWorkers
from entrypoints.projections import VIEW_BATCH_SIZE
from entrypoints.settings import Settings
from entrypoints.views_database import postgres_target, views_database
from entrypoints.workers import BackgroundWorkers

PROCESSOR_BATCH_SIZE = 500


class AdaptersProvider(Provider):
    """The outside world: the clock, the event store, read models, the gateway."""

    scope = Scope.APP

    def __init__(self, settings: Settings, create_tables: bool = True) -> None:
        super().__init__()
        self._settings = settings
        self._create_tables = create_tables

    @provide
    def settings(self) -> Settings:
        return self._settings

    @provide
    def clock(self) -> Clock:
        return SystemClock()

    @provide
    def ledger(self, settings: Settings) -> Iterator[Ledger]:
        database = settings.database
        env = eventstore_env(
            database.backend,
            sqlite_path=database.sqlite_path,
            postgres=postgres_target(database) if database.backend == "postgres" else None,
            pool_size=database.pool_size,
            cache_size=database.aggregate_cache_size,
            create_table=self._create_tables,
            pool_wait_timeout_s=database.wait_timeout_s,
        )
        ledger = Ledger(env=env)
        intervals = dict.fromkeys(Ledger.snapshotting_intervals, database.snapshot_interval)
        ledger.snapshotting_intervals = intervals  # type: ignore[misc]
        yield ledger
        ledger.close()

    def _create(self, settings: Settings) -> bool:
        # An in-memory database starts empty whatever the caller expects.
        return self._create_tables or settings.database.backend == "memory"

    @provide
    def ledger_view(self, settings: Settings) -> Iterator[LedgerViewRecorder]:
        view = open_ledger_view(
            views_database(settings),
            application_name=Ledger.name,
            create_table=self._create(settings),
        )
        yield view
        view.close()

    @provide
    def payments_view(self, settings: Settings) -> Iterator[PaymentsViewRecorder]:
        view = open_payments_view(
            views_database(settings),
            application_name=Ledger.name,
            create_table=self._create(settings),
        )
        yield view
        view.close()

    @provide
    def processor_tracker(self, settings: Settings) -> Iterator[ProcessorTracker]:
        """Where the payment processor records how far it got in the log (on SQLite it used
        to be the library's `tracking` table: its position is taken over once)."""
        tracker = open_tracker(
            views_database(settings),
            "payment_processor_tracking",
            create_table=self._create(settings),
            adopt_from="tracking" if settings.database.backend == "sqlite" else None,
        )
        yield ProcessorTracker(tracker)
        tracker.close()

    @provide
    def new_events(self, settings: Settings, ledger: Ledger) -> Iterator[NewEvents]:
        """What wakes the followers of the log: this process's saves, and on PostgreSQL a
        LISTEN on the channel the event store NOTIFYs (a connection of its own)."""
        listen = None
        if settings.database.backend == "postgres":
            channel = str(getattr(ledger.recorder, "channel_name"))  # noqa: B009
            listen = ListenTarget(settings.database.postgres_params(), channel)
        watcher = open_new_events(settings.workers.poll_interval_s, listen)
        ledger.on_recorded(watcher.recorded)
        yield watcher
        watcher.stop()

    @provide
    def gateway(self, settings: Settings) -> Iterator[PaymentGateway]:
        """The simulated legacy gateway by default; Stripe when configured. The simulated
        gateway keeps its checkout sessions in a table next to the read models, shared by
        every process (see `adapters/gateways/simulated_checkout.py`)."""
        gateway = settings.gateway
        if gateway.kind == "stripe":
            from adapters.gateways.stripe_gateway import StripePaymentGateway

            yield StripePaymentGateway(
                api_key=gateway.stripe_api_key, api_base=gateway.stripe_api_base or None
            )
            return
        from adapters.gateways.simulated import SimulatedPaymentGateway
        from adapters.gateways.simulated_checkout import SimulatedCheckoutSessions

        sessions = SimulatedCheckoutSessions(views_database(settings))
        if self._create(settings):
            sessions.create_table()
        yield SimulatedPaymentGateway(
            failure_rate=gateway.failure_rate,
            seed=gateway.seed,
            latency_s=gateway.latency_ms / 1000,
            checkout_base_url=f"{settings.http.base_url}/simulated-gateway",
            checkout_sessions=sessions,
        )
        sessions.close()

    @decorate
    def instrumented_gateway(self, gateway: PaymentGateway, metrics: Metrics) -> PaymentGateway:
        """Whichever gateway is configured (or a test's), timed call by call."""
        return InstrumentedPaymentGateway(gateway, metrics)

    # This container's metrics (a registry of its own), also as the application's port.
    prometheus = provide(PrometheusMetrics)
    metrics = alias(source=PrometheusMetrics, provides=Metrics)

    @provide
    def legacy_gateway(self, settings: Settings, gateway: PaymentGateway) -> LegacyGateway:
        """The simulated legacy processor seed 001's payments go to, whatever the card
        gateway is: the card gateway itself when that is the simulated one, else one of its
        own (with the same failure rate, seed and latency; it never hosts a checkout)."""
        if settings.gateway.kind == "simulated":
            return gateway
        from adapters.gateways.simulated import SimulatedPaymentGateway

        return SimulatedPaymentGateway(
            failure_rate=settings.gateway.failure_rate,
            seed=settings.gateway.seed,
            latency_s=settings.gateway.latency_ms / 1000,
        )

    @provide
    def fingerprinter(self, settings: Settings) -> Fingerprinter:
        """Card fingerprints keyed with the configured (or kept) secret."""
        return HmacFingerprinter(card_fingerprint_secret(settings))

    @provide
    def gateway_webhooks(self, settings: Settings) -> GatewayWebhooks:
        from adapters.gateways.stripe_webhooks import StripeWebhooks

        return StripeWebhooks(settings.gateway.stripe_webhook_secret)


class ApplicationProvider(Provider):
    """Use cases, queries and readiness."""

    scope = Scope.APP

    @provide
    def runner(self, ledger: Ledger, clock: Clock, settings: Settings) -> CommandRunner:
        return CommandRunner(ledger, clock, retries_max=settings.database.command_retries)

    @provide
    def log_head(self, runner: CommandRunner) -> LogHead:
        """The log's head as the runner's reads check it (shared by the HTTP layer)."""
        return runner.head

    @provide
    def rules(self, settings: Settings) -> PaymentRules:
        payments = settings.payments
        return PaymentRules(Decimal(payments.fraud_threshold), payments.max_retries)

    @provide
    def wallets(self, runner: CommandRunner, settings: Settings) -> WalletService:
        return WalletService(runner, settings.payments.default_currency)

    holds = provide(HoldService)
    payments = provide(PaymentService)
    settlement = provide(PaymentSettlement)
    refunds = provide(RefundService)
    charges = provide(ChargeService)
    checkout = provide(CheckoutService)
    transactions = provide(TransactionService)

    @provide
    def ledger_queries(
        self, runner: CommandRunner, view: LedgerViewRecorder, settings: Settings
    ) -> LedgerQueries:
        return LedgerQueries(
            runner,
            view,
            wait_timeout_s=settings.http.view_wait_timeout_s,
            default_currency=settings.payments.default_currency,
        )

    @provide
    def payment_queries(self, view: PaymentsViewRecorder, settings: Settings) -> PaymentQueries:
        return PaymentQueries(view, wait_timeout_s=settings.http.view_wait_timeout_s)

    @provide
    def view_positions(
        self,
        ledger: Ledger,
        ledger_view: LedgerViewRecorder,
        payments_view: PaymentsViewRecorder,
        settings: Settings,
    ) -> ViewPositions:
        views = {LEDGER_VIEW: ledger_view, PAYMENTS_VIEW: payments_view}
        http = settings.http
        return ViewPositions(ledger, views, http.view_wait_timeout_s, http.view_waiters_max)

    @provide
    def readiness(
        self,
        ledger: Ledger,
        ledger_view: LedgerViewRecorder,
        payments_view: PaymentsViewRecorder,
        tracker: ProcessorTracker,
        workers: BackgroundWorkers,
        settings: Settings,
        installments_view: InstallmentsView,
        scheduler_tracker: SchedulerTracker,
        relay: RelayStatusSource,
        webhook_store: WebhookStore,
    ) -> Iterator[ReadinessProbe]:
        """Every follower of the log, by name (a new follower, such as the NATS relay, adds
        its position tracker here and its runner to the workers)."""
        followers: dict[str, PositionTracker] = {
            LedgerProjection.name: ledger_view,
            PaymentsProjection.name: payments_view,
            PaymentProcessor.name: tracker,
            InstallmentsProjection.name: installments_view,
            InstallmentScheduler.name: scheduler_tracker,
            WebhookDispatcher.name: webhook_store,
        }
        probe = ReadinessProbe(
            ledger, followers, settings.http.ready_lag_max, workers.failures, relay=relay.read
        )
        yield probe
        probe.close()


class WorkersProvider(Provider):
    """The followers of the log: projections and the payment processor."""

    scope = Scope.APP

    @provide
    def workers(
        self,
        ledger: Ledger,
        ledger_view: LedgerViewRecorder,
        payments_view: PaymentsViewRecorder,
        settlement: PaymentSettlement,
        tracker: ProcessorTracker,
        clock: Clock,
        new_events: NewEvents,
        people: PeopleRunners,
        installments: InstallmentRunners,
        relay: RelayRunners,
        webhooks: WebhookWorkers,
    ) -> BackgroundWorkers:
        processor = PaymentProcessor(tracker, settlement, clock, payments_view)
        dispatcher, sender = webhooks
        return BackgroundWorkers(
            *people,
            *installments,
            dispatcher,
            ProjectionRunner(
                ledger,
                LedgerProjection(view=ledger_view),
                batch_size=VIEW_BATCH_SIZE,
                new_events=new_events,
            ),
            ProjectionRunner(
                ledger,
                PaymentsProjection(view=payments_view),
                batch_size=VIEW_BATCH_SIZE,
                new_events=new_events,
            ),
            ProjectionRunner(
                ledger,
                processor,
                batch_size=PROCESSOR_BATCH_SIZE,
                on_idle=processor.maybe_reconcile,
                new_events=new_events,
            ),
            *relay,
            new_events=new_events,
            services=[sender],
        )


def providers(settings: Settings, create_tables: bool) -> list[Provider]:
    return [
        AdaptersProvider(settings, create_tables),
        ApplicationProvider(),
        PeopleProvider(create_tables),
        InstallmentsProvider(create_tables),
        RelayProvider(create_tables),
        WorkersProvider(),
        DashboardProvider(),
        AuditProvider(),
        WebhooksProvider(create_tables),
    ]


def build_container(
    settings: Settings, *extra: Provider, create_tables: bool = True
) -> AsyncContainer:
    """The container for async callers (the HTTP app); tests pass extra providers."""
    return make_async_container(*providers(settings, create_tables), *extra)


def build_sync_container(
    settings: Settings, *extra: Provider, create_tables: bool = True
) -> Container:
    """The same container for synchronous callers (the CLI, workers, bench scripts)."""
    return make_container(*providers(settings, create_tables), *extra)
