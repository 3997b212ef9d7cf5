"""Malformed requests (bodies, parameters, headers, URLs, methods) and our own failures:
always an RFC 9457 problem, never a 500 for a client's mistake, and nothing changes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar.testing import TestClient

from application.wallets import WalletService
from tests.integration.http.support import (
    OPENING_BALANCE,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    open_wallet,
    running_client,
    wallet,
)

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}


# Malformed requests over HTTP.


def _nested(levels: int) -> bytes:
    return b'{"amount": ' + b"[" * levels + b"]" * levels + b', "currency": "USD"}'


def _body(**fields: Any) -> bytes:
    return json.dumps({"amount": 10, "currency": "USD", **fields}).encode()


# (name, body bytes, headers, status, code) posted to alice's credit endpoint.
BAD_CREDITS: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("100k nested arrays", _nested(100_000), JSON, 413, "payload_too_large"),
    ("30k nested arrays in a field", _nested(30_000), JSON, 422, "validation_error"),
    ("30k nested arrays at the top", b"[" * 30_000 + b"]" * 30_000, JSON, 422, "validation_error"),
    (
        "amount 10**400",
        b'{"amount": 1' + b"0" * 400 + b', "currency": "USD"}',
        JSON,
        422,
        "validation_error",
    ),
    ("amount 2**64", _body(amount=2**64), JSON, 422, "validation_error"),
    ("amount above the limit", _body(amount=10**15 + 1), JSON, 422, "validation_error"),
    ("amount 1e999", b'{"amount": 1e999, "currency": "USD"}', JSON, 422, "validation_error"),
    ("amount NaN", b'{"amount": NaN, "currency": "USD"}', JSON, 400, "malformed_json"),
    ("float amount", _body(amount=12.5), JSON, 422, "validation_error"),
    ("whole float amount", _body(amount=10.0), JSON, 422, "validation_error"),
    ("string amount", _body(amount="10"), JSON, 422, "validation_error"),
    ("boolean amount", _body(amount=True), JSON, 422, "validation_error"),
    ("null amount", _body(amount=None), JSON, 422, "validation_error"),
    ("zero amount", _body(amount=0), JSON, 422, "validation_error"),
    ("negative amount", _body(amount=-10), JSON, 422, "validation_error"),
    ("missing currency", b'{"amount": 10}', JSON, 422, "validation_error"),
    ("null currency", _body(currency=None), JSON, 422, "validation_error"),
    ("numeric currency", _body(currency=840), JSON, 422, "validation_error"),
    ("extra field", _body(fee=1), JSON, 422, "validation_error"),
    ("description too long", _body(description="d" * 501), JSON, 422, "validation_error"),
    ("description with a NUL", _body(description="a\x00b"), JSON, 422, "validation_error"),
    (
        "invalid UTF-8",
        b'{"amount": 10, "currency": "USD", "description": "\xff\xfe"}',
        JSON,
        400,
        "malformed_json",
    ),
    (
        "lone surrogate",
        b'{"amount": 10, "currency": "USD", "description": "\\ud800"}',
        JSON,
        400,
        "malformed_json",
    ),
    (
        "a key twice (the last would win)",
        b'{"amount": 100, "currency": "USD", "amount": 777}',
        JSON,
        400,
        "duplicate_json_key",
    ),
    (
        "a key twice with the same value",
        b'{"amount": 10, "currency": "USD", "currency": "USD"}',
        JSON,
        400,
        "duplicate_json_key",
    ),
    ("truncated JSON", b'{"amount": 10, "curr', JSON, 400, "malformed_json"),
    ("not JSON at all", b"amount=10", JSON, 400, "malformed_json"),
    ("empty body", b"", JSON, 400, "malformed_json"),
    ("JSON null", b"null", JSON, 422, "validation_error"),
    ("JSON array", b"[]", JSON, 422, "validation_error"),
    ("JSON string", b'"credit"', JSON, 422, "validation_error"),
    ("text/plain body", _body(), {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    (
        "form body",
        b"amount=10&currency=USD",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    ("no content type", _body(), {}, 415, "unsupported_media_type"),
    (
        "latin-1 charset",
        _body(),
        {"content-type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
    ),
    ("1 MB body", _body(description="m" * 1_000_000), JSON, 413, "payload_too_large"),
]


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [case[1:] for case in BAD_CREDITS],
    ids=[c[0] for c in BAD_CREDITS],
)
def test_a_malformed_body_is_a_problem_and_changes_nothing(
    funded_client: TestClient[Any], content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    before = ledger_state(funded_client)
    response = funded_client.post("/wallets/alice/credit", content=content, headers=headers)
    problem = expect_problem(response, status, code)
    if code == "validation_error":
        assert problem["errors"], problem
        assert problem["errors"][0]["source"] == "body"
        assert problem["errors"][0]["path"].startswith("$")
    assert ledger_state(funded_client) == before
    assert wallet(funded_client, "alice")["balance"] == OPENING_BALANCE


def test_a_validation_problem_names_the_json_path(funded_client: TestClient[Any]) -> None:
    response = funded_client.post(
        "/transfers",
        json={
            "from_customer_id": "alice",
            "to_customer_id": "bob",
            "amount": "5",
            "currency": "USD",
        },
    )
    problem = expect_problem(response, 422, "validation_error")
    assert problem["errors"] == [
        {"source": "body", "path": "$.amount", "message": "Expected `int`, got `str`"}
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": 500, "currency": "USD", "recipient": "shop", "method": "card", "card": '
        b'{"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, '
        b'"number": "4000000000000002"}}',
        b'{"amount": 500, "currency": "USD", "recipient": "shop", "method": "card", '
        b'"payment_method": "pm_card_visa", "splits": [{"payee": "a", "bps": 5000}, '
        b'{"payee": "b", "bps": 5000, "payee": "c"}]}',
    ],
    ids=["in the card", "in a split"],
)
def test_a_key_twice_in_a_nested_object_is_refused_and_changes_nothing(
    funded_client: TestClient[Any], body: bytes
) -> None:
    before = ledger_state(funded_client)
    response = funded_client.post("/payments", content=body, headers=JSON)
    expect_problem(response, 400, "duplicate_json_key")
    assert ledger_state(funded_client) == before
    listed = expect(funded_client.get("/payments"), 200)
    assert listed["payments"] == []


def test_a_body_streamed_past_the_limit_is_refused() -> None:
    with running_client(memory_settings(request_body_max_bytes=1_000)) as client:
        open_wallet(client, "alice")
        before = ledger_state(client)
        chunks = (b" " * 100 for _ in range(20))  # no Content-Length: chunked
        response = client.post("/wallets/alice/credit", content=chunks, headers=JSON)
        expect_problem(response, 413, "payload_too_large")
        padded = _body(description="p" * 400)
        assert len(padded) < 1_000
        expect(client.post("/wallets/alice/credit", content=padded, headers=JSON), 201)
        assert ledger_state(client) != before


BAD_PARAMETERS: list[tuple[str, str, dict[str, Any], str]] = [
    # Without a currency, a statement is of the default one (seed 003): see test_seeds.py.
    ("statement in a lower-case currency", "/wallets/alice/ledger", {"currency": "usd"}, "query"),
    ("limit 0", "/wallets/alice/ledger", {"currency": "USD", "limit": 0}, "query"),
    ("limit 201", "/wallets/alice/ledger", {"currency": "USD", "limit": 201}, "query"),
    ("limit not a number", "/wallets/alice/ledger", {"currency": "USD", "limit": "x"}, "query"),
    ("negative min_position", "/balances", {"min_position": -1}, "query"),
    ("huge min_position", "/balances", {"min_position": 10**30}, "query"),
    ("fractional min_position", "/wallets/alice", {"min_position": "1.5"}, "query"),
    ("customer id too long", "/wallets/" + "c" * 201, {}, "path"),
]


@pytest.mark.parametrize(
    ("path", "params", "source"),
    [c[1:] for c in BAD_PARAMETERS],
    ids=[c[0] for c in BAD_PARAMETERS],
)
def test_a_bad_parameter_is_a_validation_problem(
    funded_client: TestClient[Any], path: str, params: dict[str, Any], source: str
) -> None:
    problem = expect_problem(funded_client.get(path, params=params), 422, "validation_error")
    assert problem["errors"][0]["source"] == source
    assert problem["errors"][0]["path"]


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_bad_idempotency_key_is_a_validation_problem(
    funded_client: TestClient[Any], key: str
) -> None:
    before = ledger_state(funded_client)
    response = funded_client.post(
        "/wallets/alice/credit",
        json={"amount": 10, "currency": "USD"},
        headers={"Idempotency-Key": key},
    )
    problem = expect_problem(response, 422, "validation_error")
    assert problem["errors"][0]["source"] == "header"
    assert ledger_state(funded_client) == before


def test_the_longest_idempotency_key_is_accepted(funded_client: TestClient[Any]) -> None:
    response = funded_client.post(
        "/wallets/alice/credit",
        json={"amount": 10, "currency": "USD"},
        headers={"Idempotency-Key": "k" * 255},
    )
    expect(response, 201)


# Routing.


def test_an_unknown_url_is_a_404_problem(funded_client: TestClient[Any]) -> None:
    for path in ("/nope", "/wallets/alice/nope", "/docs/nope", "/docs/assets/nope.js"):
        expect_problem(funded_client.get(path), 404, "not_found")


def test_a_wrong_method_is_a_405_problem_with_allow(funded_client: TestClient[Any]) -> None:
    before = ledger_state(funded_client)
    response = funded_client.delete("/wallets/alice")
    expect_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    expect_problem(funded_client.put("/transfers", json={}), 405, "method_not_allowed")
    assert ledger_state(funded_client) == before


# Our own failures.


class _SecretError(RuntimeError):
    pass


class BrokenWallets:
    """Fails the way a bug would, with internals in the message."""

    def get_wallet(self, caller: Any, customer_id: str, currency: str) -> Any:
        raise _SecretError("password=hunter2 in /srv/payledger/secret.py")


class BrokenLedgerProvider(Provider):
    scope = Scope.APP

    @provide(override=True)
    def wallets(self) -> WalletService:
        return BrokenWallets()  # type: ignore[return-value]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing() -> None:
    # Litestar's logging setup replaces the root handlers at startup (so caplog sees
    # nothing): listen on the problems module's logger itself.
    recorder = _Recorder()
    logger = logging.getLogger("entrypoints.http.problems")
    logger.addHandler(recorder)
    try:
        settings = memory_settings(projections_in_process=False)
        with running_client(settings, BrokenLedgerProvider()) as client:
            response = client.get("/wallets/alice", params={"currency": "USD"})
    finally:
        logger.removeHandler(recorder)
    problem = expect_problem(response, 500, "internal_error")
    for secret in ("hunter2", "secret", "_SecretError", "Traceback"):
        assert secret not in response.text
    assert problem["detail"]
    logged = [r.exc_info[1] for r in recorder.records if r.exc_info is not None]
    assert any(isinstance(error, _SecretError) for error in logged)
