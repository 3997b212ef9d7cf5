"""The Litestar application, built around a dishka container it is given.

`create_app(container)` wires routes, errors, docs and the lifespan; it builds no adapter:
the container (production providers or test ones) owns every dependency. On startup it
resolves the ledger and queries (failing fast on a bad configuration), starts the projection
runner when the settings ask for in-process projections, and on shutdown stops it and closes
the container (dishka's Litestar integration does not).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dishka import AsyncContainer
from dishka.integrations.litestar import setup_dishka
from litestar import Litestar
from litestar.plugins.prometheus import PrometheusConfig
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.ledger import Ledger
from application.ports.fingerprint import Fingerprinter
from application.readiness import ReadinessProbe
from entrypoints.http.controllers.audit import AuditController
from entrypoints.http.controllers.balances import BalanceController
from entrypoints.http.controllers.catalog import SchoolController, TripController
from entrypoints.http.controllers.charges import ChargeController
from entrypoints.http.controllers.checkout import (
    CheckoutController,
    SeedCheckoutController,
    SimulatedGatewayController,
)
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.holds import HoldController
from entrypoints.http.controllers.installments import InstallmentController
from entrypoints.http.controllers.payments import PaymentController
from entrypoints.http.controllers.registrations import RegistrationController
from entrypoints.http.controllers.summary import SummaryController
from entrypoints.http.controllers.transactions import TransactionController
from entrypoints.http.controllers.transfers import TransferController
from entrypoints.http.controllers.users import TokenController, UserController
from entrypoints.http.controllers.wallets import WalletController
from entrypoints.http.controllers.webhook_deliveries import WebhookDeliveryController
from entrypoints.http.controllers.webhook_endpoints import WebhookEndpointController
from entrypoints.http.controllers.webhooks import WebhookController
from entrypoints.http.dashboard.controller import (
    DashboardController,
    dashboard_assets_router,
    dashboard_templates,
)
from entrypoints.http.decoding import BODY_LIMIT_STATE_KEY, BodyLimitMiddleware, StrictJSONRequest
from entrypoints.http.docs import docs_assets_router, openapi_config, openapi_json
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.request_context import RequestContextMiddleware
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings
from entrypoints.workers import BackgroundWorkers

log = logging.getLogger(__name__)

PROJECTIONS_STOP_TIMEOUT_S = 5.0
# Litestar's own ceiling; the configured (smaller) limit is BodyLimitMiddleware's.
BODY_CEILING_BYTES = 16 * 1024 * 1024
# Requests by route template (not raw path: ids would explode the label set) and status.
PROMETHEUS = PrometheusConfig(
    app_name="payledger", prefix="payledger_http", group_path=True, exclude=["^/metrics$"]
)


_ALLOWED_STATE_KEY = "payledger_allowed_methods"  # each path's methods, for `Allow`


async def _allow_every_method(message: Message, scope: Scope) -> None:
    """Answer OPTIONS (`_OptionsAllow` calls this for those only) with every method of the
    path. Litestar's own OPTIONS handler lists the methods of one controller only when
    several declare the path (`/charges`: POST without GET), so its `Allow` is rewritten
    from the app's merged routes."""
    if message["type"] != "http.response.start" or message["status"] != 204:
        return
    app = scope["litestar_app"]
    allowed: dict[str, bytes] | None = app.state.get(_ALLOWED_STATE_KEY)
    if allowed is None:
        allowed = app.state[_ALLOWED_STATE_KEY] = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):  # by template, with and without param types
                listed = ", ".join(sorted(route.methods)).encode()
                allowed[route.path] = allowed[route.path_format] = listed
    methods = allowed.get(scope.get("path_template", ""))
    if methods is not None:
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", methods)]


class _OptionsAllow:
    """Runs `_allow_every_method` on the answer to an OPTIONS request; every other request
    passes untouched (a `before_send` hook would add a step to every message of every
    response)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            await _allow_every_method(message, scope)
            await send(message)

        await self.app(scope, receive, send_allow)


def create_app(container: AsyncContainer) -> Litestar:
    """The HTTP API on the given container; the app closes the container on shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        workers: BackgroundWorkers | None = None
        try:
            settings = await container.get(Settings)
            app.state[BODY_LIMIT_STATE_KEY] = settings.http.request_body_max_bytes
            await container.get(Ledger)
            await container.get(ReadinessProbe)
            await container.get(Fingerprinter)  # no secret, no start (entrypoints/card_secret.py)
            if settings.run_workers_in_process:
                workers = await container.get(BackgroundWorkers)
                workers.start()
                log.info("projections and the payment processor running in-process")
            yield
        finally:
            if workers is not None:
                await in_thread(workers.stop, PROJECTIONS_STOP_TIMEOUT_S)
            await container.close()

    app = Litestar(
        route_handlers=[
            WalletController,
            TransferController,
            TransactionController,
            HoldController,
            BalanceController,
            PaymentController,
            SummaryController,
            HealthController,
            ChargeController,
            CheckoutController,
            SimulatedGatewayController,
            SeedCheckoutController,
            WebhookController,  # inbound, first under /webhooks
            WebhookDeliveryController,
            WebhookEndpointController,
            UserController,
            TokenController,
            SchoolController,
            TripController,
            RegistrationController,
            AuditController,
            InstallmentController,
            openapi_json,
            docs_assets_router(),
            DashboardController,
            dashboard_assets_router(),
        ],
        template_config=dashboard_templates(),
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=StrictJSONRequest,
        middleware=[PROMETHEUS.middleware, BodyLimitMiddleware()],
        request_max_body_size=BODY_CEILING_BYTES,
        openapi_config=openapi_config(),
        lifespan=[lifespan],
        # Logging is configured once per process (entrypoints/logs.py), not by the framework.
        logging_config=None,
    )
    setup_dishka(container, app)
    # Outermost, around routing and error handling: every response gets its request id.
    app.asgi_handler = RequestContextMiddleware(_OptionsAllow(app.asgi_handler))
    return app
