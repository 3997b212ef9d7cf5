"""Request ids and JSON logs: every response carries `X-Request-ID` (the client's when sane,
else a new one), every request logs one JSON line with it, and the payment processor's line
about a payment can be tied to the request that created it (through the payment's id)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from entrypoints.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, configure_logging
from entrypoints.settings import LogSettings
from tests.integration.http.support import credit, expect, open_wallet, running_client

pytestmark = pytest.mark.integration

HEX_ID_LENGTH = 32


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What the root logger has written as JSON while the test ran, parsed on demand."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines_of(lines: list[dict[str, Any]], logger: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == logger]


def test_a_request_logs_one_json_line_with_its_id_and_the_processor_line_ties_to_it(
    json_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    with running_client() as client:
        open_wallet(client, "alice")
        credit(client, "alice", 500)
        body = {"amount": 120, "currency": "USD", "recipient": "school", "method": "wallet"}
        response = client.post(
            "/payments",
            params={"wait": "true"},
            json={**body, "payer_id": "alice"},
            headers={"X-Request-ID": "req-42.abc"},
        )
        paid = expect(response, 201)
        assert paid["status"] == "SUCCESS"
        assert response.headers["x-request-id"] == "req-42.abc"
    lines = json_lines()

    [request_line] = [
        line for line in lines_of(lines, "payledger.http") if line.get("request_id") == "req-42.abc"
    ]
    assert {k: request_line[k] for k in ("method", "route", "status")} == {
        "method": "POST",
        "route": "/payments",
        "status": 201,
    }
    assert {"time", "level", "message", "duration_ms"} <= set(request_line)
    # The request's own line names the payment; the processor's lines name it too.
    [created] = lines_of(lines, "application.payments")
    assert (created["request_id"], created["payment_id"]) == ("req-42.abc", paid["id"])
    processed = [
        line
        for line in lines_of(lines, "application.payment_processor")
        if line.get("payment_id") == paid["id"]
    ]
    assert processed, lines
    assert processed[-1]["status"] == "SUCCESS"


def test_an_absent_or_insane_request_id_is_replaced_by_a_new_one() -> None:
    with running_client() as client:
        plain = client.get("/health")
        insane = client.get("/health", headers={"X-Request-ID": "two words"})
        too_long = client.get("/health", headers={"X-Request-ID": "a" * 129})
        unknown = client.get("/no/such/path", headers={"X-Request-ID": "lost-1"})

    for response in (plain, insane, too_long):
        generated = response.headers["x-request-id"]
        assert len(generated) == HEX_ID_LENGTH
        int(generated, 16)
    assert len({r.headers["x-request-id"] for r in (plain, insane, too_long)}) == 3
    assert (unknown.status_code, unknown.headers["x-request-id"]) == (404, "lost-1")


def test_json_lines_carry_the_request_id_extras_and_exceptions() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(LogSettings(level="info", format="json"), stream=stream)
        token = REQUEST_ID.set("r-1")
        try:
            logging.getLogger("t").info("hello %s", "you", extra={"payment_id": "p-1"})
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("t").exception("failed")
        finally:
            REQUEST_ID.reset(token)
        logging.getLogger("t").debug("below the level")
        logging.getLogger("t").warning("outside a request")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])

    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "request_id", "payment_id")} == {
        "level": "info",
        "logger": "t",
        "message": "hello you",
        "request_id": "r-1",
        "payment_id": "p-1",
    }
    assert "ValueError: boom" in second["exception"]
    assert "request_id" not in third
    assert third["message"] == "outside a request"
