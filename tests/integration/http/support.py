"""Helpers for the HTTP API tests: an app on an in-memory store, and small request helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dishka import Provider
from litestar.testing import TestClient

from application.principal import SYSTEM
from application.users import UserService
from domain.user import UserRole
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.support.pages import walk_pages

PROBLEM_CONTENT_TYPE = "application/problem+json"
POSITION_HEADER = "PayLedger-Position"
REPLAYED_HEADER = "Idempotent-Replayed"
PROBLEM_TYPE_BASE = "https://payledger.dev/problems/"

Json = Any
# Cheap password hashing and a fixed token secret: sign-ins in tests take microseconds.
TEST_AUTH_ENV = {
    "PAYLEDGER_ARGON2_TIME_COST": "1",
    "PAYLEDGER_ARGON2_MEMORY_KIB": "1024",
    "PAYLEDGER_JWT_SECRET": "an-http-test-secret-long-enough-for-hs256!",
}
ADMIN_EMAIL = "admin@example.com"
TEST_PASSWORD = "password-123"
OPENING_BALANCE = 1_000  # what the `funded_client` fixture credits to alice


def memory_settings(**overrides: Any) -> Settings:
    """Settings on the in-memory store; overrides use the names of the `PAYLEDGER_*`
    variables (`view_wait_timeout_s=0.05` is `PAYLEDGER_VIEW_WAIT_TIMEOUT_S=0.05`)."""
    environ = {"PAYLEDGER_DATABASE_URL": "memory://", **TEST_AUTH_ENV}
    environ.update({f"PAYLEDGER_{name.upper()}": str(value) for name, value in overrides.items()})
    return load_settings(environ)


@contextmanager
def running_client(
    settings: Settings | None = None, *providers: Provider, signed_in: bool = True
) -> Iterator[TestClient[Any]]:
    """A test client on a fresh app and container; the app's lifespan runs around it.
    `signed_in`: every request carries an admin's token (an admin acts for any customer, as
    the tests of wallets and payments do); tests of access control pass False."""
    container = build_container(settings or memory_settings(), *providers)
    with TestClient(create_app(container)) as client:
        if signed_in:
            client.headers.update(admin_headers(client))
        yield client


def scope_of(client: TestClient[Any]) -> str:
    """The idempotency scope of the client's caller (keys are scoped per user)."""
    response = client.get("/users/me")
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def admin_headers(client: TestClient[Any], email: str = ADMIN_EMAIL) -> dict[str, str]:
    """An admin (created the way `payledger users create-admin` does), signed in."""
    users = client.blocking_portal.call(client.app.state.dishka_container.get, UserService)
    users.register(SYSTEM, email, TEST_PASSWORD, "Admin", UserRole.ADMIN)
    response = client.post("/token", data={"username": email, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def position_of(response: Any) -> int:
    value = response.headers.get(POSITION_HEADER)
    assert value is not None, (response.status_code, response.headers)
    assert value.isdigit(), value
    return int(value)


def expect(response: Any, status: int) -> Json:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def expect_problem(response: Any, status: int, code: str) -> Json:
    """Assert an RFC 9457 problem with this status and code; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE), response.headers
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert body["type"] == PROBLEM_TYPE_BASE + code, body
    assert isinstance(body["title"], str), body
    assert body["title"], body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    return body


def open_wallet(
    client: TestClient[Any], customer_id: str, currency: str = "USD", overdraft_limit: int = 0
) -> Any:
    body = {"customer_id": customer_id, "currency": currency, "overdraft_limit": overdraft_limit}
    response = client.post("/wallets", json=body)
    expect(response, 201)
    return response


def credit(
    client: TestClient[Any],
    customer_id: str,
    amount: int,
    currency: str = "USD",
    description: str = "top-up",
) -> Any:
    response = client.post(
        f"/wallets/{customer_id}/credit",
        json={"amount": amount, "currency": currency, "description": description},
    )
    expect(response, 201)
    return response


def wallet(client: TestClient[Any], customer_id: str, currency: str = "USD") -> Json:
    """One wallet, strongly consistent (read from the event store): the wallet object."""
    body = expect(client.get(f"/wallets/{customer_id}", params={"currency": currency}), 200)
    assert (body["customer_id"], body["currency"]) == (customer_id, currency), body
    return body


def all_balances(client: TestClient[Any], **params: Any) -> list[Json]:
    """Every row of `/balances`, walking its pages (200 rows each)."""

    def fetch(query: dict[str, Any]) -> Json:
        return expect(client.get("/balances", params=query), 200)

    return walk_pages(fetch, "balances", {**params, "limit": 200})


def ledger_state(client: TestClient[Any]) -> tuple[int | None, list[Json]]:
    """The log's last position and every account's balance once the view has caught up:
    equal before and after a request means the request changed nothing."""
    position = expect(client.get("/ready"), 200)["log_position"]
    params = {"min_position": position} if position is not None else {}
    rows = all_balances(client, **params)
    return position, sorted(rows, key=lambda row: row["account_id"])
