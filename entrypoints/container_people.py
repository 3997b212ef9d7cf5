"""The composition of users, the catalog and registrations (part of the composition root).

Kept apart from `container.py` by concern: identity adapters (argon2, JWT, the token
secret), the document read model, and the registration processor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import NewType

from dishka import Provider, Scope, provide

from adapters.identity.argon2_hasher import Argon2PasswordHasher
from adapters.identity.jwt_codec import JwtTokenCodec
from adapters.secrets import stored_secret
from adapters.views.documents_view import SqlDocumentView
from adapters.views.factory import open_tracker
from application.catalog import CatalogService
from application.documents_projection import DocumentsProjection
from application.ledger import Ledger
from application.payments import PaymentService
from application.people_queries import PeopleQueries
from application.ports.clock import Clock
from application.ports.documents import DocumentView
from application.ports.identity import PasswordHasher, TokenCodec
from application.ports.new_events import NewEvents
from application.projection_runner import ProjectionRunner
from application.refunds import RefundService
from application.registration_processor import RegistrationProcessor
from application.registrations import RegistrationPolicy, RegistrationService
from application.runner import CommandRunner
from application.users import UserService
from entrypoints.settings import Settings
from entrypoints.views_database import views_database

# The followers of the log that this part adds to the workers.
PeopleRunners = NewType("PeopleRunners", tuple[ProjectionRunner, ...])
RegistrationTracker = NewType("RegistrationTracker", object)


class PeopleProvider(Provider):
    """Identity, catalog and registrations: adapters, use cases, read model, processor."""

    scope = Scope.APP

    def __init__(self, create_tables: bool) -> None:
        super().__init__()
        self._create_tables = create_tables

    def _create(self, settings: Settings) -> bool:
        return self._create_tables or settings.database.backend == "memory"

    @provide
    def hasher(self, settings: Settings) -> PasswordHasher:
        auth = settings.auth
        return Argon2PasswordHasher(auth.argon2_time_cost, auth.argon2_memory_kib)

    @provide
    def tokens(self, settings: Settings, clock: Clock) -> TokenCodec:
        secret = settings.auth.jwt_secret
        if not secret:
            if settings.database.backend == "postgres":
                raise ValueError(
                    "Set PAYLEDGER_JWT_SECRET (at least 32 bytes): every server of a "
                    "PostgreSQL deployment must sign and check tokens with the same secret."
                )
            secret = stored_secret(settings.database.sqlite_path.with_name("jwt-secret"))
        return JwtTokenCodec(secret, clock)

    @provide
    def documents(self, settings: Settings) -> Iterator[DocumentView]:
        database = views_database(settings)
        view = SqlDocumentView(database, Ledger.name)
        if self._create(settings):
            view.create_table()
        yield view
        view.close()

    @provide
    def registration_tracker(self, settings: Settings) -> Iterator[RegistrationTracker]:
        database = views_database(settings)
        tracker = open_tracker(
            database, "registration_processor_tracking", create_table=self._create(settings)
        )
        yield RegistrationTracker(tracker)
        tracker.close()

    @provide
    def users(
        self, runner: CommandRunner, hasher: PasswordHasher, tokens: TokenCodec, settings: Settings
    ) -> UserService:
        return UserService(runner, hasher, tokens, timedelta(seconds=settings.auth.token_ttl_s))

    catalog = provide(CatalogService)

    @provide
    def registrations(
        self, runner: CommandRunner, payments: PaymentService, settings: Settings
    ) -> RegistrationService:
        trips = settings.trips
        policy = RegistrationPolicy(timedelta(seconds=trips.seat_hold_s), trips.platform_fee_bps)
        return RegistrationService(runner, payments, policy)

    @provide
    def people_queries(
        self, view: DocumentView, ledger: Ledger, settings: Settings
    ) -> PeopleQueries:
        return PeopleQueries(
            view, ledger.log_position, wait_timeout_s=settings.http.view_wait_timeout_s
        )

    @provide
    def runners(
        self,
        ledger: Ledger,
        view: DocumentView,
        clock: Clock,
        tracker: RegistrationTracker,
        runner: CommandRunner,
        refunds: RefundService,
        new_events: NewEvents,
    ) -> PeopleRunners:
        processor = RegistrationProcessor(tracker, runner, refunds)  # type: ignore[arg-type]
        documents = DocumentsProjection(view, ledger, clock)
        return PeopleRunners(
            (
                ProjectionRunner(ledger, documents, new_events=new_events),
                ProjectionRunner(ledger, processor, new_events=new_events),
            )
        )
