"""Signed-in clients for the HTTP tests: users made through the real sign-up and sign-in."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from application.principal import SYSTEM
from application.users import UserService
from domain.user import UserRole

JWT_SECRET = "an-http-test-secret-long-enough-for-hs256!"
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "jwt_secret": JWT_SECRET}
PASSWORD = "password-123"


def sign_up(client: TestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    """A new customer, signed in: the headers that carry its token."""
    response = client.post("/users", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return sign_in(client, email, password)


def sign_in(client: TestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_admin(client: TestClient[Any], email: str = "admin@example.com") -> dict[str, str]:
    """An admin (created the way `payledger users create-admin` does), signed in."""
    users = client.blocking_portal.call(client.app.state.dishka_container.get, UserService)
    users.register(SYSTEM, email, PASSWORD, "Admin", UserRole.ADMIN)
    return sign_in(client, email)


def user_id(client: TestClient[Any], headers: dict[str, str]) -> str:
    response = client.get("/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])
