"""Small helpers for talking to the PayLedger HTTP API in end-to-end tests."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx

from tests.support.pages import walk_pages
from tests.support.server import ADMIN_TOKENS

PROBLEM_CONTENT_TYPE = "application/problem+json"
POSITION_HEADER = "PayLedger-Position"
REPLAYED_HEADER = "Idempotent-Replayed"
PAGE_SIZE_MAX = 200
PAGES_MAX = 1_000
REQUEST_TIMEOUT_S = 30.0
METRICS_PATH = "/metrics"

Json = dict[str, Any]


def client(base_url: str, token: str | None = None) -> httpx.Client:
    """A client of the server at `base_url`, signed in as its first admin unless `token`
    names another caller."""
    bearer = token if token is not None else ADMIN_TOKENS.get(base_url, "")
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=headers)


def new_customer(prefix: str) -> str:
    """A customer id no other test (or earlier run against the same server) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def describe(response: httpx.Response) -> str:
    """One line to put in an assertion message: request, status, body."""
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code} {response.text[:600]!r}"


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body, after asserting the status."""
    assert response.status_code == status, describe(response)
    return response.json()


def position_of(response: httpx.Response) -> int:
    """The log position a write reached (the `PayLedger-Position` header)."""
    value = response.headers.get(POSITION_HEADER)
    assert value is not None, f"no {POSITION_HEADER} header: {describe(response)}"
    assert value.isdigit(), f"{POSITION_HEADER}={value!r} is not a position"
    return int(value)


def is_replay(response: httpx.Response) -> bool:
    value: str = response.headers.get(REPLAYED_HEADER, "")
    return value.lower() == "true"


def problem_errors(response: httpx.Response, code: str | None = None) -> list[str]:
    """What is wrong with `response` as a 4xx RFC 9457 problem (empty when all is well)."""
    errors: list[str] = []
    if not 400 <= response.status_code < 500:
        errors.append(f"status {response.status_code} is not 4xx")
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(PROBLEM_CONTENT_TYPE):
        errors.append(f"content-type {content_type!r} is not {PROBLEM_CONTENT_TYPE}")
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [*errors, "body is not JSON"]
    if not isinstance(body, dict):
        return [*errors, "body is not a JSON object"]
    if not isinstance(body.get("code"), str) or not body["code"]:
        errors.append("no `code` member")
    elif code is not None and body["code"] != code:
        errors.append(f"code {body['code']!r} is not {code!r}")
    if "status" in body and body["status"] != response.status_code:
        errors.append(f"`status` member {body['status']!r} differs from the HTTP status")
    return errors


def expect_problem(response: httpx.Response, status: int | None, code: str) -> Json:
    """Assert a problem+json answer with this `code` (and this status when given)."""
    errors = problem_errors(response, code)
    if status is not None and response.status_code != status:
        errors.append(f"status {response.status_code} is not {status}")
    assert not errors, f"{'; '.join(errors)}: {describe(response)}"
    body: Json = response.json()
    return body


def open_wallet(
    http: httpx.Client, customer_id: str, currency: str = "USD", overdraft_limit: int = 0
) -> Json:
    body = {"customer_id": customer_id, "currency": currency, "overdraft_limit": overdraft_limit}
    opened: Json = expect(http.post("/wallets", json=body), 201)
    return opened


def credit(
    http: httpx.Client,
    customer_id: str,
    amount: int,
    currency: str = "USD",
    description: str = "top-up",
) -> httpx.Response:
    body = {"amount": amount, "currency": currency, "description": description}
    return http.post(f"/wallets/{customer_id}/credit", json=body)


def debit(
    http: httpx.Client,
    customer_id: str,
    amount: int,
    currency: str = "USD",
    description: str = "payout",
) -> httpx.Response:
    body = {"amount": amount, "currency": currency, "description": description}
    return http.post(f"/wallets/{customer_id}/debit", json=body)


def wallet(http: httpx.Client, customer_id: str, currency: str = "USD") -> Json:
    """The customer's wallet in `currency`, strongly consistent (read from the log): with
    `?currency=` the answer is the wallet object itself."""
    response = http.get(f"/wallets/{customer_id}", params={"currency": currency})
    found: Json = expect(response, 200)
    assert "wallets" not in found, describe(response)
    assert found["currency"] == currency, describe(response)
    assert found["customer_id"] == customer_id, describe(response)
    return found


def wallet_posting(transaction: Json, customer_id: str) -> Json:
    """The one posting of `transaction` on the customer's wallet."""
    legs = [p for p in transaction["postings"] if p["account"] == f"wallet:{customer_id}"]
    assert len(legs) == 1, f"expected one posting on wallet:{customer_id}: {transaction}"
    leg: Json = legs[0]
    return leg


def statement(
    http: httpx.Client,
    customer_id: str,
    currency: str,
    min_position: int,
    limit: int = PAGE_SIZE_MAX,
) -> tuple[list[Json], list[int]]:
    """Every statement entry, newest first, walking `next_cursor`; also the page sizes."""
    entries: list[Json] = []
    page_sizes: list[int] = []
    cursor: str | None = None
    for _ in range(PAGES_MAX):
        params: dict[str, str | int] = {
            "currency": currency,
            "limit": limit,
            "min_position": min_position,
        }
        if cursor is not None:
            params["cursor"] = cursor
        response = http.get(f"/wallets/{customer_id}/ledger", params=params)
        page = expect(response, 200)
        assert page["customer_id"] == customer_id, describe(response)
        assert page["currency"] == currency, describe(response)
        assert len(page["entries"]) <= limit, describe(response)
        entries.extend(page["entries"])
        page_sizes.append(len(page["entries"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return entries, page_sizes
    raise AssertionError(f"statement of {customer_id} has more than {PAGES_MAX} pages")


def check_statement(entries: list[Json], balance: int) -> None:
    """Newest first, unique sequences, running balances that add up, ending at `balance`."""
    sequences = [e["sequence"] for e in entries]
    assert sequences == sorted(set(sequences), reverse=True), f"not newest first: {sequences}"
    running = 0
    for entry in reversed(entries):
        running += entry["amount"]
        assert entry["balance_after"] == running, f"running balance broken at {entry}"
    assert running == balance, f"entries sum to {running}, the wallet holds {balance}"


def balances(http: httpx.Client, min_position: int) -> list[Json]:
    """Every row of `/balances`, walking its pages, once the view has reached `min_position`."""

    def fetch(query: dict[str, Any]) -> Json:
        page: Json = expect(http.get("/balances", params=query), 200)
        return page

    params = {"min_position": min_position, "limit": PAGE_SIZE_MAX}
    return walk_pages(fetch, "balances", params, PAGES_MAX)


def sums_by_currency(rows: list[Json]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["balance"]
    return dict(totals)


def wait_for_balances(
    http: httpx.Client, min_position: int, expected: dict[str, int], timeout_s: float = 5.0
) -> list[Json]:
    """`/balances` once it shows the `expected` {account_id: balance} (the view may lag)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = balances(http, min_position)
        by_id = {row["account_id"]: row["balance"] for row in rows}
        if all(by_id.get(account) == amount for account, amount in expected.items()):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"/balances never showed {expected}: {rows}")
        time.sleep(0.05)


_CONFLICT_LINE = re.compile(r"^([A-Za-z_:][\w:]*conflict\w*)(\{[^}]*\})?\s+([0-9.eE+-]+)\s*$")


def _conflicts_in_json(value: object) -> int | None:
    if isinstance(value, dict):
        total: int | None = None
        for key, item in value.items():
            if "conflict" in str(key).lower() and isinstance(item, int | float):
                total = (total or 0) + int(item)
            else:
                nested = _conflicts_in_json(item)
                if nested is not None:
                    total = (total or 0) + nested
        return total
    return None


def conflicts_seen(base_url: str) -> int | None:
    """How many optimistic-concurrency conflicts the server has retried so far, read from
    `GET /metrics` (JSON, or Prometheus text with a metric whose name contains
    `conflict`); None while the server exposes no such counter."""
    try:
        response = httpx.get(f"{base_url}{METRICS_PATH}", timeout=REQUEST_TIMEOUT_S)
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    if "json" in response.headers.get("content-type", ""):
        return _conflicts_in_json(response.json())
    total: int | None = None
    for line in response.text.splitlines():
        match = _CONFLICT_LINE.match(line.strip())
        if match and not match.group(1).endswith(("_created", "_bucket")):
            total = (total or 0) + int(float(match.group(3)))
    return total
