"""The composition of outbound webhooks (part of the composition root): the store, the SSRF
guard and HTTP transport, the use cases, the dispatcher (a follower of the log) and the
sender (a background service), from `Settings.webhooks`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NewType, cast
from uuid import UUID

from dishka import Provider, Scope, provide

from adapters.views.factory import open_webhook_store
from adapters.views.webhooks_store import SqlWebhookStore
from adapters.webhooks.address_guard import AddressGuard
from adapters.webhooks.http_transport import HttpWebhookTransport
from application.ledger import Ledger
from application.ports.clock import Clock
from application.ports.new_events import NewEvents
from application.ports.webhooks import UrlGuard, WebhookStore, WebhookTransport
from application.projection_runner import ProjectionRunner
from application.webhook_dispatcher import WebhookDispatcher, start_at_log_end
from application.webhook_sender import WebhookSender
from application.webhook_signing import is_valid_secret
from application.webhooks import ALL_EVENT_TYPES, WebhookPolicy, WebhookService
from domain.payment import Payment
from entrypoints.settings import Settings
from entrypoints.views_database import views_database

# What this part adds to the workers: the dispatcher's runner and the sender.
WebhookWorkers = NewType("WebhookWorkers", tuple[ProjectionRunner, WebhookSender])


class WebhooksProvider(Provider):
    scope = Scope.APP

    def __init__(self, create_tables: bool) -> None:
        super().__init__()
        self._create_tables = create_tables

    @provide
    def policy(self, settings: Settings) -> WebhookPolicy:
        webhooks = settings.webhooks
        return WebhookPolicy(
            horizon_s=webhooks.horizon_s,
            timeout_s=webhooks.timeout_s,
            concurrency=webhooks.concurrency,
            per_endpoint_max=webhooks.per_endpoint_max,
            backoff_base_s=webhooks.backoff_base_s,
            backoff_max_s=webhooks.backoff_max_s,
            poll_interval_s=webhooks.poll_interval_s,
        )

    @provide
    def sql_store(self, settings: Settings, clock: Clock) -> Iterator[SqlWebhookStore]:
        """The store, with the global endpoints of the configuration in it."""
        webhooks = settings.webhooks
        urls = webhooks.url_list
        if urls and not is_valid_secret(webhooks.secret):
            raise ValueError(
                "Set PAYLEDGER_WEBHOOK_SECRET to a whsec_ secret (whsec_ and at least 16 "
                "bytes in base64) to sign what PAYLEDGER_WEBHOOK_URLS / WEBHOOK_URL receive."
            )
        create = self._create_tables or settings.database.backend == "memory"
        store = open_webhook_store(
            views_database(settings), application_name=Ledger.name, create_table=create
        )
        try:
            store.sync_global_endpoints(urls, webhooks.secret, ALL_EVENT_TYPES, clock.now())
        except BaseException:
            store.close()
            raise
        yield store
        store.close()

    @provide
    def store(self, store: SqlWebhookStore) -> WebhookStore:
        return store

    @provide
    def address_guard(self, settings: Settings) -> AddressGuard:
        return AddressGuard(settings.webhooks.network_list)

    @provide
    def url_guard(self, guard: AddressGuard) -> UrlGuard:
        return guard

    @provide
    def transport(self, guard: AddressGuard) -> WebhookTransport:
        return HttpWebhookTransport(guard)

    service = provide(WebhookService)

    @provide
    def sender(
        self, store: WebhookStore, transport: WebhookTransport, clock: Clock, policy: WebhookPolicy
    ) -> Iterator[WebhookSender]:
        sender = WebhookSender(store, transport, clock, policy)
        yield sender
        sender.stop()

    @provide
    def workers(
        self,
        ledger: Ledger,
        store: WebhookStore,
        clock: Clock,
        policy: WebhookPolicy,
        sender: WebhookSender,
        new_events: NewEvents,
    ) -> WebhookWorkers:
        def load_payment(payment_id: UUID, version: int) -> Payment:
            return cast(Payment, ledger.repository.get(payment_id, version=version))

        start_at_log_end(store, Ledger.name, ledger.log_position())
        dispatcher = WebhookDispatcher(store, load_payment, clock, policy.horizon_s)
        runner = ProjectionRunner(ledger, dispatcher, new_events=new_events)
        return WebhookWorkers((runner, sender))
