"""Authentication over HTTP: who may call what, and every way a token can be wrong."""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from tests.integration.http.people_support import (
    JWT_SECRET,
    make_admin,
    sign_in,
    sign_up,
    user_id,
)
from tests.integration.http.support import expect_problem, memory_settings, running_client

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(), signed_in=False) as client:
        yield client


def token(**changes: Any) -> str:
    """A token signed like ours, with `changes` to its claims (None removes one)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "00000000-0000-4000-8000-000000000001",
        "role": "admin",
        "cv": 1,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "iss": "payledger",
        "aud": "payledger-api",
    }
    key = changes.pop("key", JWT_SECRET)
    algorithm = changes.pop("algorithm", "HS256")
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    with warnings.catch_warnings():  # the short-key case is forged on purpose
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def test_every_api_route_needs_a_token(client: TestClient[Any]) -> None:
    for method, path in [
        ("GET", "/users/me"),
        ("GET", "/wallets/x"),
        ("POST", "/transfers"),
        ("GET", "/payments"),
        ("GET", "/registrations/me"),
    ]:
        response = client.request(method, path, json={})
        body = expect_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer"), body


def test_every_route_documented_as_needing_a_token_needs_one(client: TestClient[Any]) -> None:
    """Each handler whose OpenAPI security asks for the bearer token (every route of an
    `ApiController` not marked public) answers 401 without one (a controller or handler
    that set its own `before_request` would drop the check: this finds it)."""
    checked = 0
    for route in client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = re.sub(r"\{(\w+):(\w+)\}", _sample_parameter, route.path)
        for method, (handler, _) in route.route_handler_map.items():
            if method == "OPTIONS" or handler.opt.get("public"):
                continue
            if not any("BearerToken" in scheme for scheme in handler.resolve_security()):
                continue
            response = client.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.text)
            checked += 1
    assert checked > 50


def _sample_parameter(match: re.Match[str]) -> str:
    kind = match.group(2)
    return {"uuid": str(uuid.uuid4()), "int": "1"}.get(kind, "x")


def test_public_routes_need_none(client: TestClient[Any]) -> None:
    for path in ("/health", "/schools", "/trips", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-jwt",
        "Bearer",
        token(exp=int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())),
        token(aud="someone-else"),
        token(iss="someone-else"),
        token(exp=None),
        token(iat=None),
        token(key="short"),
        token(key="another-secret-of-the-same-length-as-ours-x"),
        token(algorithm="none", key=""),
    ],
    ids=[
        "garbage",
        "empty",
        "expired",
        "audience",
        "issuer",
        "no-exp",
        "no-iat",
        "short-key",
        "wrong-key",
        "alg-none",
    ],
)
def test_a_bad_token_is_refused(client: TestClient[Any], bad: str) -> None:
    admin = make_admin(client)
    assert client.get("/users", headers=admin).status_code == 200

    response = client.get("/users", headers={"Authorization": f"Bearer {bad}"})

    expect_problem(response, 401, "unauthorized")


def test_a_customer_on_an_admin_route_is_forbidden(client: TestClient[Any]) -> None:
    customer = sign_up(client, "pat@example.com")

    expect_problem(client.get("/users", headers=customer), 403, "forbidden")
    expect_problem(client.post("/schools", json={"name": "S"}, headers=customer), 403, "forbidden")


def test_another_users_account_is_not_found_and_an_admin_sees_it(client: TestClient[Any]) -> None:
    admin = make_admin(client)
    pat, sam = sign_up(client, "pat@example.com"), sign_up(client, "sam@example.com")

    expect_problem(client.get(f"/users/{user_id(client, sam)}", headers=pat), 404, "user_not_found")
    assert client.get(f"/users/{user_id(client, sam)}", headers=admin).status_code == 200


def test_a_token_stops_working_when_the_password_changes(client: TestClient[Any]) -> None:
    pat = sign_up(client, "pat@example.com")
    response = client.patch(
        "/users/me/password",
        json={"current_password": "password-123", "new_password": "password-456"},
        headers=pat,
    )
    assert response.status_code == 200, response.text

    expect_problem(client.get("/users/me", headers=pat), 401, "unauthorized")
    assert client.get("/users/me", headers=sign_in(client, "pat@example.com", "password-456"))


def test_sign_up_takes_no_role_and_answers_without_password_material(
    client: TestClient[Any],
) -> None:
    response = client.post(
        "/users/", json={"email": "a@example.com", "password": "password-1", "role": "admin"}
    )
    expect_problem(response, 401, "unauthorized")  # another role needs an admin's token

    created = client.post("/users/", json={"email": "b@example.com", "password": "password-1"})
    assert created.status_code == 201
    assert "password" not in created.text
    assert created.json()["role"] == "customer"


def test_unknown_fields_are_refused_no_mass_assignment(client: TestClient[Any]) -> None:
    response = client.post(
        "/users", json={"email": "c@example.com", "password": "password-1", "is_superuser": True}
    )
    expect_problem(response, 422, "validation_error")


def test_login_is_rate_limited_per_account(client: TestClient[Any]) -> None:
    sign_up(client, "pat@example.com")
    answers = [
        client.post("/token", data={"username": "pat@example.com", "password": "wrong-pass"})
        for _ in range(12)
    ]

    assert {a.status_code for a in answers[:10]} == {401}
    limited = expect_problem(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["retry-after"]) >= 1, limited


def test_the_owner_signing_in_does_not_use_up_the_failure_allowance(
    client: TestClient[Any],
) -> None:
    sign_up(client, "sam@example.com")
    for _ in range(12):
        sign_in(client, "sam@example.com")
