"""Hostile request bodies through the real server: always a 4xx problem, never a 500, and
never a change to the wallet."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}
OPENING_BALANCE = 1_000


def _nested(levels: int) -> bytes:
    return b'{"amount": ' + b"[" * levels + b"]" * levels + b', "currency": "USD"}'


def _body(**fields: object) -> bytes:
    return json.dumps({"amount": 10, "currency": "USD", "description": "x", **fields}).encode()


# (name, content bytes, headers) posted to the wallet's credit endpoint.
CREDIT_CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("nesting 100k levels (200 kB)", _nested(100_000), JSON),
    ("nesting 30k levels (under the body limit)", _nested(30_000), JSON),
    ("top-level nesting 30k levels", b"[" * 30_000 + b"]" * 30_000, JSON),
    ("amount 10**400", b'{"amount": 1' + b"0" * 400 + b', "currency": "USD"}', JSON),
    ("amount 2**64", _body(amount=2**64), JSON),
    ("amount 2**63 - 1", _body(amount=2**63 - 1), JSON),
    ("amount -2**63", _body(amount=-(2**63)), JSON),
    ("amount 1e308", b'{"amount": 1e308, "currency": "USD"}', JSON),
    ("amount 1e999 (inf)", b'{"amount": 1e999, "currency": "USD"}', JSON),
    ("amount NaN", b'{"amount": NaN, "currency": "USD"}', JSON),
    ("float amount 12.5", _body(amount=12.5), JSON),
    ("float amount 10.0", _body(amount=10.0), JSON),
    ("amount as a string", _body(amount="10"), JSON),
    ("amount true", _body(amount=True), JSON),
    ("amount null", _body(amount=None), JSON),
    ("amount zero", _body(amount=0), JSON),
    ("negative amount", _body(amount=-10), JSON),
    ("currency missing", b'{"amount": 10}', JSON),
    ("lowercase currency", _body(currency="usd"), JSON),
    ("unknown currency", _body(currency="XXX"), JSON),
    ("description of 10k characters", _body(description="d" * 10_000), JSON),
    ("JSON body as text/plain", _body(), {"content-type": "text/plain"}),
    (
        "form-encoded body",
        b"amount=10&currency=USD",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
    ("XML body", b"<credit><amount>10</amount></credit>", {"content-type": "application/xml"}),
    ("invalid UTF-8", b'{"amount": 10, "currency": "USD", "description": "\xff\xfe\xc3"}', JSON),
    ("lone surrogate escape", b'{"amount": 10, "currency": "USD", "description": "\\ud800"}', JSON),
    ("1 MB body", _body(description="m" * 1_000_000), JSON),
    ("empty body", b"", JSON),
    ("JSON null", b"null", JSON),
    ("JSON array", b"[]", JSON),
    ("truncated JSON", b'{"amount": 10, "curr', JSON),
]


@pytest.fixture(scope="module")
def funded(pg_server: RunningServer) -> Iterator[tuple[httpx.Client, str]]:
    customer = api.new_customer("hostile")
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
        api.expect(api.credit(http, customer, OPENING_BALANCE), 201)
        yield http, customer


def _post(http: httpx.Client, path: str, content: bytes, headers: dict[str, str]) -> str | None:
    """None if the answer is a proper 4xx problem, else what was wrong with it."""
    try:
        response = http.post(path, content=content, headers=headers)
    except httpx.TransportError as error:
        return f"no HTTP answer: {type(error).__name__}: {error}"
    errors = api.problem_errors(response)
    if errors:
        return f"{'; '.join(errors)}: {response.status_code} {response.text[:300]!r}"
    return None


def test_hostile_credit_bodies_get_a_problem_and_change_nothing(
    pg_server: RunningServer, funded: tuple[httpx.Client, str]
) -> None:
    http, customer = funded
    before = api.wallet(http, customer)
    path = f"/wallets/{customer}/credit"
    wrong: list[str] = []
    for name, content, headers in CREDIT_CASES:
        problem = _post(http, path, content, headers)
        after = api.wallet(http, customer)
        if after != before:
            problem = f"{problem or 'answered'}; the wallet changed: {before} -> {after}"
            before = after
        if problem is not None:
            wrong.append(f"{name}: {problem}")
    assert not wrong, "\n".join(wrong) + f"\nserver log (tail):\n{pg_server.log_tail(2_000)}"
    assert http.get("/health").status_code == 200


def test_hostile_wallet_openings_get_a_problem_and_open_nothing(
    funded: tuple[httpx.Client, str],
) -> None:
    http, _ = funded
    customer = api.new_customer("hostile-open")
    cases = {
        "overdraft 2**63": {"customer_id": customer, "currency": "USD", "overdraft_limit": 2**63},
        "overdraft -1": {"customer_id": customer, "currency": "USD", "overdraft_limit": -1},
        "overdraft float": {"customer_id": customer, "currency": "USD", "overdraft_limit": 1.5},
        "empty customer id": {"customer_id": "", "currency": "USD"},
        "customer id with NUL": {"customer_id": "a\x00b", "currency": "USD"},
        "customer id of 10k characters": {"customer_id": "c" * 10_000, "currency": "USD"},
        "currency as a number": {"customer_id": customer, "currency": 840},
    }
    wrong = [
        f"{name}: {problem}"
        for name, body in cases.items()
        if (problem := _post(http, "/wallets", json.dumps(body).encode(), JSON))
    ]
    assert not wrong, "\n".join(wrong)
    missing = http.get(f"/wallets/{customer}", params={"currency": "USD"})
    api.expect_problem(missing, 404, "wallet_not_found")
