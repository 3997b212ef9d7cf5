"""Sends webhook requests over HTTP(S) with the standard library, pinned to vetted addresses.

Each attempt vets the URL again (`AddressGuard.vet`) and connects to one of the addresses
vetted then, never resolving the name a second time, so DNS rebinding cannot reach an
address the guard refused; TLS still checks the certificate against the host name (SNI).
Redirects are never followed (http.client does not), every socket operation has the
timeout, the whole attempt has a deadline (`TOTAL_TIMEOUT_FACTOR` times the timeout: a
receiver that drips its answer a byte at a time is cut off), and only a bounded part of the
answer is read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping

from adapters.webhooks.address_guard import AddressGuard, IPAddress, VettedTarget
from application.errors import WebhookUrlRefusedError
from application.ports.webhooks import AttemptOutcome

RESPONSE_READ_MAX_BYTES = 4_096
TOTAL_TIMEOUT_FACTOR = 2.0


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to `host` (Host header) made to a vetted `address`."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a vetted `address`, verifying the certificate of `host`."""

    def __init__(
        self, host: str, port: int, address: IPAddress, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class HttpWebhookTransport:
    """The `WebhookTransport` port (see the module)."""

    def __init__(self, guard: AddressGuard, tls: ssl.SSLContext | None = None) -> None:
        self.guard = guard
        self.tls = tls or ssl.create_default_context()

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> AttemptOutcome:
        started = time.monotonic()
        try:
            target = self.guard.vet(url)
        except WebhookUrlRefusedError as refused:
            return AttemptOutcome(None, 0, f"refused: {refused.reason}")
        error = "no address"
        for address in target.addresses:
            try:
                status = self._post_to(target, address, headers, body, timeout_s)
            except (OSError, http.client.HTTPException) as failure:
                error = f"{type(failure).__name__}: {failure}"
                continue
            return AttemptOutcome(status, _elapsed_ms(started))
        return AttemptOutcome(None, _elapsed_ms(started), error)

    def _post_to(
        self,
        target: VettedTarget,
        address: IPAddress,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
    ) -> int:
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = _PinnedHTTPSConnection(
                target.host, target.port, address, timeout_s, self.tls
            )
        else:
            connection = _PinnedHTTPConnection(target.host, target.port, address, timeout_s)
        # The deadline of the whole attempt: shutting the socket down wakes a blocked read.
        deadline = threading.Timer(timeout_s * TOTAL_TIMEOUT_FACTOR, _cut_off, (connection,))
        deadline.daemon = True
        deadline.start()
        try:
            connection.request("POST", target.target, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(RESPONSE_READ_MAX_BYTES)
            return response.status
        finally:
            deadline.cancel()
            connection.close()


def _cut_off(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
