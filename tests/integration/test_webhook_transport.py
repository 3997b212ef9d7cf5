"""The HTTP transport against real sockets: a receiver that drips its answer is cut off at
the attempt's deadline, a closed port is a quick failure, a name is resolved once (by the
guard) and the connection pinned to that address, over HTTP and over TLS (which still checks
the certificate against the name)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.webhooks.address_guard import AddressGuard
from adapters.webhooks.http_transport import TOTAL_TIMEOUT_FACTOR, HttpWebhookTransport
from tests.support.webhook_receiver import canary, webhook_receiver

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


# Pinned connections: the name is resolved once, by the guard, and the request goes to that
# very address with the name in Host (and, over TLS, in SNI and the certificate check).


def names(mapping: dict[str, str]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError(f"unknown host {host}")
        return [mapping[host]]

    return resolve


def test_a_name_is_resolved_by_the_guard_and_the_request_goes_to_that_address() -> None:
    calls: list[str] = []
    resolve = names({"receiver.test": "127.0.0.1"})

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return resolve(host, port)

    with webhook_receiver() as receiver:
        receiver.script("/pinned", 200)
        port = receiver.base_url.rsplit(":", 1)[1]
        pinned = HttpWebhookTransport(AddressGuard(["127.0.0.1/32"], resolver=counting))
        outcome = pinned.post(f"http://receiver.test:{port}/pinned", {}, b"{}", TIMEOUT_S)

        assert outcome.status_code == 200, outcome
        [request] = receiver.at("/pinned")
        assert request.headers["host"] == f"receiver.test:{port}"
        assert calls == ["receiver.test"]  # once, by the guard: the system resolver never


def test_a_name_that_now_resolves_to_a_refused_address_is_not_called() -> None:
    with canary("127.0.0.2") as listener:
        rebound = HttpWebhookTransport(
            AddressGuard(["127.0.0.1/32"], resolver=names({"rebind.test": "127.0.0.2"}))
        )
        outcome = rebound.post(f"http://rebind.test:{listener.port}/", {}, b"{}", TIMEOUT_S)
        time.sleep(0.2)
        assert outcome.error is not None
        assert outcome.error.startswith("refused:")
        assert listener.connections == 0


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
    """An HTTPS receiver on 127.0.0.1 with a self-signed certificate for `receiver.test`,
    and a client context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(cert_path))
    yield server.server_address[1], client_context
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_vetted_address_and_checks_the_certificate_of_the_name(
    tls_receiver: tuple[int, ssl.SSLContext],
) -> None:
    port, trust = tls_receiver
    guard = AddressGuard(
        ["127.0.0.1/32"], resolver=names({"receiver.test": "127.0.0.1", "other.test": "127.0.0.1"})
    )
    transport = HttpWebhookTransport(guard, tls=trust)

    ok = transport.post(f"https://receiver.test:{port}/", {}, b"{}", TIMEOUT_S)
    assert ok.status_code == 204, ok

    wrong_name = transport.post(f"https://other.test:{port}/", {}, b"{}", TIMEOUT_S)
    assert wrong_name.status_code is None
    assert wrong_name.error is not None
    assert "certificate" in wrong_name.error.lower() or "ssl" in wrong_name.error.lower()
