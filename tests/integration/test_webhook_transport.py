"""The HTTP transport against real sockets: a receiver that drips its answer is cut off at
the attempt's deadline, a closed port is a quick failure, and nothing is followed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from adapters.webhooks.address_guard import AddressGuard
from adapters.webhooks.http_transport import TOTAL_TIMEOUT_FACTOR, HttpWebhookTransport

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.5


@pytest.fixture
def dripping_port() -> Iterator[int]:
    """A server that answers one byte of a status line every 0.1 s, forever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                        if stop.is_set():
                            break
                        conn.sendall(bytes([byte]))
                        time.sleep(0.1)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def transport() -> HttpWebhookTransport:
    return HttpWebhookTransport(AddressGuard(["127.0.0.1/32"]))


def test_a_dripping_receiver_is_cut_off_at_the_deadline(dripping_port: int) -> None:
    started = time.monotonic()
    outcome = transport().post(f"http://127.0.0.1:{dripping_port}/", {}, b"{}", TIMEOUT_S)
    elapsed_s = time.monotonic() - started

    assert outcome.status_code is None
    assert outcome.error is not None
    assert elapsed_s < TIMEOUT_S * TOTAL_TIMEOUT_FACTOR + 1.0, elapsed_s


def test_a_closed_port_fails_at_once() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    outcome = transport().post(f"http://127.0.0.1:{port}/", {}, b"{}", TIMEOUT_S)
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "Connection" in outcome.error or "refused" in outcome.error.lower()
    assert outcome.latency_ms < 1_000
