"""A real local HTTP receiver of webhooks for tests, and a canary that no one may reach.

`WebhookReceiver` is a threaded HTTP server on 127.0.0.1 that records every request (path,
headers, raw body, when) and answers per path from a script: a status sequence (the last
one repeats), an optional delay, an optional `Location` (a redirect). `Canary` is a bare
TCP listener that counts the connections it accepts: an SSRF test proves it counted none.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()


@dataclass
class Script:
    """How a path answers: `statuses` in turn (the last repeats), after `delay_s`."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay_s: float = 0.0
    location: str | None = None
    served: int = 0

    def next_status(self) -> int:
        status = self.statuses[min(self.served, len(self.statuses) - 1)]
        self.served += 1
        return status


class WebhookReceiver:
    def __init__(self) -> None:
        self.server: ThreadingHTTPServer | None = None
        self.received: list[Received] = []
        self.scripts: dict[str, Script] = {}
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, *statuses: int, delay_s: float = 0.0, location: str = "") -> str:
        """Make `path` answer `statuses` in turn; returns its URL."""
        self.scripts[path] = Script(list(statuses) or [200], delay_s, location or None)
        return self.url(path)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while True:
                found = [r for r in self.received if r.path == path]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.arrived.wait(left)


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            script = receiver.scripts.get(self.path, Script())
            with receiver.arrived:
                status = script.next_status()
                received = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                receiver.received.append(received)
                receiver.arrived.notify_all()
            if script.delay_s:
                time.sleep(script.delay_s)
            self.send_response(status)
            if script.location:
                self.send_header("Location", script.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # many senders connect at once

    receiver = WebhookReceiver()
    server = receiver.server = Server(("127.0.0.1", 0), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class Canary:
    """A TCP listener that counts accepted connections (and closes them)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


@contextmanager
def canary(host: str = "127.0.0.2") -> Iterator[Canary]:
    """A canary on a loopback address other than the one tests allow (127.0.0.1)."""
    listener = Canary(host)
    try:
        yield listener
    finally:
        listener.close()
