"""Requests refused before any route runs (by the HTTP parser of the real server) are RFC 9457
problems too: an over-long URL or query string, over-long headers, and bytes that are not
HTTP at all. Sent over raw sockets, since HTTP clients refuse to build such requests."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from entrypoints.http.protocol import HEADER_BYTES_MAX, URL_BYTES_MAX
from tests.e2e import api
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

READ_TIMEOUT_S = 10.0
RESPONSE_BYTES_MAX = 1_000_000


def exchange(server: RunningServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers (lower-case names) and body of the answer."""
    url = urlsplit(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(request)
        received = b""
        while len(received) < RESPONSE_BYTES_MAX:
            chunk = sock.recv(65_536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def get(path: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def bearer(server: RunningServer) -> bytes:
    return b"Authorization: Bearer " + server.admin_token.encode()


def assert_problem(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, answer
    assert headers["content-type"].startswith(api.PROBLEM_CONTENT_TYPE), answer
    assert int(headers["content-length"]) == len(body), answer
    problem = json.loads(body)
    assert (problem["status"], problem["code"]) == (status, code), problem
    assert problem["type"].endswith(code), problem
    assert problem["title"], problem
    assert problem["detail"], problem


@pytest.mark.parametrize("length", [100_000, 60_000, URL_BYTES_MAX + 1])
def test_an_over_long_query_string_is_a_414_problem(
    sqlite_server: RunningServer, length: int
) -> None:
    answer = exchange(sqlite_server, get(b"/payments?cursor=" + b"a" * length))
    assert_problem(answer, 414, "uri_too_long")


def test_a_query_string_within_the_limit_reaches_the_route(sqlite_server: RunningServer) -> None:
    request = get(b"/payments?cursor=" + b"a" * 5_000, bearer(sqlite_server))
    answer = exchange(sqlite_server, request)
    assert_problem(answer, 422, "validation_error")  # the route's own limit on a cursor


def test_over_long_headers_are_a_431_problem(sqlite_server: RunningServer) -> None:
    one_big = get(b"/payments", b"X-Big: " + b"a" * 100_000)
    many = get(b"/payments", *(b"X-H%d: %s" % (i, b"b" * 1_000) for i in range(40)))
    assert HEADER_BYTES_MAX < 40 * 1_000
    for request in (one_big, many):
        assert_problem(exchange(sqlite_server, request), 431, "request_header_fields_too_large")


def test_bytes_that_are_not_http_are_a_400_problem(sqlite_server: RunningServer) -> None:
    for request in (b"GARBAGE\r\n\r\n", b"GET /payments HTTP/1.1\r\nHost x\r\n\r\n"):
        assert_problem(exchange(sqlite_server, request), 400, "malformed_request")


def test_the_server_serves_on_after_refusing(sqlite_server: RunningServer) -> None:
    exchange(sqlite_server, get(b"/payments?cursor=" + b"a" * 100_000))
    status, _, body = exchange(sqlite_server, get(b"/payments", bearer(sqlite_server)))
    assert status == 200, body
    assert json.loads(body)["payments"] == []
