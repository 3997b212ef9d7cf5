"""Signed-in clients for the HTTP tests: users made through the real sign-up and sign-in."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.integration.http.support import TEST_AUTH_ENV, TEST_PASSWORD, admin_headers

JWT_SECRET = TEST_AUTH_ENV["PAYLEDGER_JWT_SECRET"]
PASSWORD = TEST_PASSWORD


def sign_up(client: TestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    """A new customer, signed in: the headers that carry its token."""
    response = client.post("/users", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return sign_in(client, email, password)


def sign_in(client: TestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


make_admin = admin_headers


def user_id(client: TestClient[Any], headers: dict[str, str]) -> str:
    response = client.get("/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])
