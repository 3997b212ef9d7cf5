"""The OpenAPI document is a contract a generated client can keep: openapi-python-client
turns a real server's `/openapi.json` into a typed package without a warning, and the seed
apps' flows (README, "Coming from the seed apps") run through that package's typed
functions against real `payledger serve` processes, every answer parsed into its model.

The generated clients raise on any status the document does not list, so an answer the
document does not describe fails the test, as does a body its model cannot read.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.generated_client import GeneratedClient, imported_client, run_generator
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

POSITION_HEADER = "PayLedger-Position"
SETTLE_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05
REQUEST_TIMEOUT_S = 30.0
# Every legacy payment succeeds (the README's examples) or every one fails (the retry path).
SUCCEEDING = {"PAYLEDGER_FAILURE_RATE": "0"}
FAILING = {"PAYLEDGER_FAILURE_RATE": "1", "PAYLEDGER_MAX_RETRIES": "1"}
SEED_001_AMOUNT = 25_000
PARTIAL_REFUND = 10_000
TRIP_PRICE = 45_000
TRIP_SEATS = 30


@pytest.fixture(scope="module")
def shop() -> Iterator[RunningServer]:
    """The server the client is generated from, and seeds 003 and 000 run against."""
    with running_server("sqlite", extra_settings=SUCCEEDING) as server:
        yield server


@pytest.fixture(scope="module")
def gen(shop: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedClient]:
    """The client generated from `shop`'s document, imported (fails on a generator warning)."""
    response = httpx.get(f"{shop.base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text[:600]
    package_dir = run_generator(response.json(), tmp_path_factory.mktemp("generated"))
    with imported_client(package_dir) as generated:
        yield generated


def ok(response: Any, status: int) -> Any:
    """The parsed body of a generated function's `Response`, after checking its status."""
    body = response.content[:600]
    assert response.status_code == status, f"{response.status_code} {body!r}"
    assert response.parsed is not None, f"the client could not read {body!r}"
    return response.parsed


def position(response: Any) -> int:
    """The log position a write reached (its `PayLedger-Position` header)."""
    return int(response.headers[POSITION_HEADER])


def polled(read: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    """`read()` again and again until `done` holds for its answer (bounded): for what the
    payment processor writes after a request, and for read models that follow the log."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not done(answer := read()):
        assert time.monotonic() < deadline, f"{what} never happened: {answer}"
        time.sleep(POLL_INTERVAL_S)
    return answer


def settled(gen: GeneratedClient, client: Any, payment_id: uuid.UUID) -> Any:
    """GetPayment until the payment leaves CREATED and PROCESSING."""
    get_payment = gen.operation("payments", "get_payment")
    unsettled = {gen.models.PaymentStatus.CREATED, gen.models.PaymentStatus.PROCESSING}
    payment = polled(
        lambda: ok(get_payment.sync_detailed(payment_id, client=client), 200),
        lambda payment: payment.status not in unsettled,
        f"settling {payment_id}",
    )
    assert payment.payment_id == payment_id
    return payment


def test_every_operation_of_the_document_has_a_typed_function(
    gen: GeneratedClient, shop: RunningServer
) -> None:
    spec = httpx.get(f"{shop.base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S).json()
    operations = [
        (operation["tags"][0], operation["operationId"])
        for methods in spec["paths"].values()
        for operation in methods.values()
    ]
    assert len(operations) > 50
    for tag, operation_id in operations:
        name = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation_id).lstrip("_")
        assert callable(gen.operation(tag, name).sync_detailed), operation_id


def test_seed_001_pays_refunds_in_part_then_the_rest_and_sums_up(gen: GeneratedClient) -> None:
    models = gen.models
    create_payment = gen.operation("payments", "create_payment")
    refund_payment = gen.operation("payments", "refund_payment")
    with (
        running_server("sqlite", extra_settings=SUCCEEDING) as server,
        gen.authenticated(server.base_url, server.admin_token) as admin,
    ):
        body = models.PaymentCreate(
            amount=SEED_001_AMOUNT,
            currency="USD",
            recipient="alice@example.com",
            description="Invoice #1042",
        )
        created = ok(create_payment.sync_detailed(client=admin, body=body), 201)
        assert created.id == created.payment_id
        assert (created.status, created.method) == (
            models.PaymentStatus.CREATED,
            models.PaymentMethod.LEGACY,
        )

        paid = settled(gen, admin, created.id)
        assert (paid.status, paid.failure_reason) == (models.PaymentStatus.SUCCESS, None)
        assert (paid.amount, paid.currency, paid.captured) == (SEED_001_AMOUNT, "USD", 25_000)

        part = models.RefundCreate(amount=PARTIAL_REFUND)
        refunded = ok(refund_payment.sync_detailed(paid.id, client=admin, body=part), 201)
        assert (refunded.status, refunded.refunded, refunded.refundable) == (
            models.PaymentStatus.PARTIALLY_REFUNDED,
            PARTIAL_REFUND,
            SEED_001_AMOUNT - PARTIAL_REFUND,
        )
        # Seed 001 refunds with no body: all that is left.
        rest = ok(refund_payment.sync_detailed(paid.id, client=admin), 201)
        assert (rest.status, rest.refunded, rest.refundable) == (
            models.PaymentStatus.REFUNDED,
            SEED_001_AMOUNT,
            0,
        )
        assert [step.status for step in rest.history][-2:] == [
            models.PaymentStatus.PARTIALLY_REFUNDED,
            models.PaymentStatus.REFUNDED,
        ]

        zero = models.PaymentCreate(amount=0, currency="USD", recipient="alice@example.com")
        response = create_payment.sync_detailed(client=admin, body=zero)
        broken = ok(response, 201)
        assert (broken.status, broken.failure_reason, broken.retryable) == (
            models.PaymentStatus.FAILED,
            "INVALID_AMOUNT",
            False,
        )

        get_summary = gen.operation("payments", "get_summary")
        summary = ok(get_summary.sync_detailed(client=admin, min_position=position(response)), 200)
    counts = (summary.total, summary.success, summary.failed, summary.refunded)
    assert counts == (2, 0, 1, 1)
    assert summary.failure_reasons.to_dict() == {"INVALID_AMOUNT": 1}


def test_seed_001_retries_a_processing_error_until_the_limit(gen: GeneratedClient) -> None:
    models = gen.models
    retry_payment = gen.operation("payments", "retry_payment")
    with (
        running_server("sqlite", extra_settings=FAILING) as server,
        gen.authenticated(server.base_url, server.admin_token) as admin,
    ):
        body = models.PaymentCreate(amount=SEED_001_AMOUNT, currency="USD", recipient="bob")
        created = ok(
            gen.operation("payments", "create_payment").sync_detailed(client=admin, body=body), 201
        )
        failed = settled(gen, admin, created.id)
        assert (failed.status, failed.failure_reason, failed.retryable, failed.attempts) == (
            models.PaymentStatus.FAILED,
            "PROCESSING_ERROR",
            True,
            1,
        )

        again = ok(retry_payment.sync_detailed(created.id, client=admin), 200)
        assert (again.status, again.attempts) == (models.PaymentStatus.PROCESSING, 2)
        failed_again = settled(gen, admin, created.id)
        assert (failed_again.status, failed_again.failure_reason, failed_again.attempts) == (
            models.PaymentStatus.FAILED,
            "PROCESSING_ERROR",
            2,
        )

        refused = retry_payment.sync_detailed(created.id, client=admin)
        problem = ok(refused, 409)
        assert isinstance(problem, models.Problem), problem
        assert (problem.status, problem.code) == (409, "retry_limit_reached")
        # The refused retry changed nothing.
        unchanged = settled(gen, admin, created.id)
        assert (unchanged.status, unchanged.attempts) == (models.PaymentStatus.FAILED, 2)

        # The summary follows the log within moments; none of our writes comes after the
        # processor's last failure, so there is no position to ask for: wait for the failure.
        get_summary = gen.operation("payments", "get_summary")
        summary = polled(
            lambda: ok(get_summary.sync_detailed(client=admin), 200),
            lambda summary: summary.failed == 1,
            "the failure in the summary",
        )
    assert (summary.total, summary.success, summary.failed, summary.refunded) == (1, 0, 1, 0)
    assert summary.failure_reasons.to_dict() == {"PROCESSING_ERROR": 1}


def test_seed_003_credits_a_wallet_and_charges_it_first(
    gen: GeneratedClient, shop: RunningServer
) -> None:
    models = gen.models
    customer = f"cust-{uuid.uuid4().hex[:12]}"
    get_wallets = gen.operation("wallets", "get_wallets")
    with gen.authenticated(shop.base_url, shop.admin_token) as admin:
        opened = ok(
            gen.operation("wallets", "open_wallet").sync_detailed(
                client=admin, body=models.WalletCreate(customer_id=customer)
            ),
            201,
        )
        assert (opened.customer_id, opened.currency, opened.balance) == (customer, "USD", 0)

        credit = models.CreditCreate(amount=10_000, currency="USD", description="top-up")
        credited = ok(
            gen.operation("wallets", "credit_wallet").sync_detailed(
                customer, client=admin, body=credit
            ),
            201,
        )
        assert (credited.kind, credited.description) == ("credit", "top-up")
        listed = ok(get_wallets.sync_detailed(customer, client=admin), 200)
        assert isinstance(listed, models.CustomerWallets), listed
        assert [(w.currency, w.balance, w.available) for w in listed.wallets] == [
            ("USD", 10_000, 10_000)
        ]

        body = models.ChargeCreate(
            customer_id=customer, recipient="shop", amount=2_500, currency="USD"
        )
        response = gen.operation("charges", "create_charge").sync_detailed(client=admin, body=body)
        charge = ok(response, 201)
        assert (charge.status, charge.wallet_amount, charge.card_amount) == (
            models.PaymentStatus.SUCCESS,
            2_500,
            0,
        )
        wallet = ok(get_wallets.sync_detailed(customer, client=admin, currency="USD"), 200)
        assert isinstance(wallet, models.Wallet), wallet
        assert (wallet.balance, wallet.available) == (7_500, 7_500)

        # The lists come from read models: the charge's position says how far to read.
        charges = ok(
            gen.operation("charges", "list_charges").sync_detailed(
                client=admin, customer_id=customer, min_position=position(response)
            ),
            200,
        )
        assert [(c.id, c.status, c.method) for c in charges.payments] == [
            (charge.id, models.PaymentStatus.SUCCESS, models.PaymentMethod.WALLET_FIRST)
        ]
        statement = ok(
            gen.operation("wallets", "get_statement").sync_detailed(
                customer, client=admin, min_position=position(response)
            ),
            200,
        )
    assert [(e.kind, e.amount, e.balance_after) for e in statement.entries] == [
        ("payment", -2_500, 7_500),
        ("credit", 10_000, 10_000),
    ]


def test_seed_000_signs_up_books_a_trip_and_pays_for_it(
    gen: GeneratedClient, shop: RunningServer
) -> None:
    models = gen.models
    email = f"parent-{uuid.uuid4().hex[:8]}@example.com"
    get_trip = gen.operation("trips", "get_trip")
    get_registration = gen.operation("registrations", "get_registration")
    # Sign-up, sign-in and catalog reads are public: the generated functions take a plain
    # client (no token).
    with (
        gen.anonymous(shop.base_url) as anonymous,
        gen.authenticated(shop.base_url, shop.admin_token) as admin,
    ):
        signup = models.UserCreate(email=email, password="parentpassword", full_name="Pat Parent")
        user = ok(
            gen.operation("users", "create_user").sync_detailed(client=anonymous, body=signup), 201
        )
        assert (user.email, user.role) == (email, models.UserRole.CUSTOMER)
        form = models.LoginForm(username=email, password="parentpassword")
        token = ok(
            gen.operation("users", "login_access_token").sync_detailed(client=anonymous, body=form),
            200,
        )
        assert token.token_type == "bearer"

        school = ok(
            gen.operation("schools", "create_school").sync_detailed(
                client=admin, body=models.SchoolIn(name="Schooly Primary", address="1 School Lane")
            ),
            201,
        )
        trip_in = models.TripIn(
            school_id=school.id,
            title="Science Museum",
            location="London",
            date=datetime.datetime(2031, 5, 4, 9, tzinfo=datetime.UTC),
            price=TRIP_PRICE,
            capacity=TRIP_SEATS,
        )
        created = gen.operation("trips", "create_trip").sync_detailed(client=admin, body=trip_in)
        trip = ok(created, 201)
        assert (trip.school_id, trip.seats_taken, trip.seats_left) == (school.id, 0, TRIP_SEATS)
        catalog = ok(
            gen.operation("trips", "list_trips").sync_detailed(
                client=anonymous, school_id=school.id, min_position=position(created)
            ),
            200,
        )
        assert [(t.id, t.title) for t in catalog.data] == [(trip.id, "Science Museum")]

        with gen.authenticated(shop.base_url, token.access_token) as parent:
            booking = models.RegistrationIn(trip_id=trip.id, student_name="Sam")
            booked = ok(
                gen.operation("registrations", "create_registration").sync_detailed(
                    client=parent, body=booking
                ),
                201,
            )
            assert (booked.status, booked.price, booked.parent_id) == (
                models.RegistrationStatus.PENDING,
                TRIP_PRICE,
                str(user.id),
            )
            read = ok(get_registration.sync_detailed(booked.id, client=parent), 200)
            assert (read.id, read.trip_id, read.student_name) == (booked.id, trip.id, "Sam")

            pay = models.RegistrationPaymentCreate(
                registration_id=booked.id,
                card_number="4242424242424242",
                expiry_date="12/30",
                cvv="123",
            )
            paid = ok(
                gen.operation("payments", "create_payment").sync_detailed(client=parent, body=pay),
                201,
            )
            assert (paid.amount, paid.method, paid.card.brand, paid.card.last4) == (
                TRIP_PRICE,
                models.PaymentMethod.CARD,
                "visa",
                "4242",
            )
            confirmed = polled(
                lambda: ok(get_registration.sync_detailed(booked.id, client=parent), 200),
                lambda registration: registration.status == models.RegistrationStatus.CONFIRMED,
                "the registration's confirmation",
            )
            assert (confirmed.payment_id, confirmed.price) == (paid.id, TRIP_PRICE)
            # The list is a read model; the confirmation was written by the payment's
            # processor, not by a request of ours, so there is no position to ask for.
            list_mine = gen.operation("registrations", "list_my_registrations")
            mine = polled(
                lambda: ok(list_mine.sync_detailed(client=parent), 200),
                lambda page: [r.status for r in page.data] == [confirmed.status],
                "the confirmation in the parent's list",
            )
        assert [(r.id, r.status) for r in mine.data] == [
            (booked.id, models.RegistrationStatus.CONFIRMED)
        ]
        seats = ok(get_trip.sync_detailed(trip.id, client=anonymous), 200)
    assert (seats.seats_taken, seats.seats_left) == (1, TRIP_SEATS - 1)
