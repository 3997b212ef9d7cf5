"""The HTTP/1.1 connection protocol `payledger serve` runs: uvicorn's httptools protocol,
with limits on the request line and headers, and problem documents for what it refuses.

uvicorn answers a request it cannot parse (bad syntax, or a URL over httptools' 64 KiB) with
a plain-text `400 Invalid HTTP request received.` before any route runs, and puts no limit
on header sizes at all. Every answer of this service is an RFC 9457 problem, so this
subclass bounds the URL (414 `uri_too_long`) and the headers (431
`request_header_fields_too_large`) while parsing, and writes every refusal of the parser as a
problem (400 `malformed_request` for the rest). The limits are those of common proxies.

After a refusal the connection closes gracefully: the answer is sent with a FIN and what the
client still sends is read and dropped for a moment. Closing a socket that holds unread
request bytes makes the kernel send a reset, which can destroy the answer on its way to the
client (the client then sees `connection reset` instead of the problem).
"""

from __future__ import annotations

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.http.problems import PROBLEM_MEDIA_TYPE, problem

URL_BYTES_MAX = 8 * 1024
HEADER_BYTES_MAX = 32 * 1024
LINGER_S = 2.0  # how long a refused connection reads and drops what the client still sends

_REASONS = {
    400: b"Bad Request",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


class _Refused(Exception):
    """Raised inside a parser callback: the parser stops and reports an error."""


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that bounds the request head and refuses with problems."""

    _url_bytes = 0
    _header_bytes = 0
    _refusal: tuple[int, str, str] | None = None
    _lingering = False

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # refused already: drop the rest of the request
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._url_bytes = self._header_bytes = 0
        self._refusal = None
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > URL_BYTES_MAX:
            self._refuse(414, "uri_too_long", f"The URL is longer than {URL_BYTES_MAX} bytes.")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > HEADER_BYTES_MAX:
            detail = f"The request's headers are larger than {HEADER_BYTES_MAX} bytes."
            self._refuse(431, "request_header_fields_too_large", detail)
        super().on_header(name, value)

    def _refuse(self, status: int, code: str, detail: str) -> None:
        self._refusal = (status, code, detail)
        raise _Refused(code)

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn when the parser gave up (after a callback raised, too)."""
        status, code, detail = self._refusal or (
            400,
            "malformed_request",
            "The request is not valid HTTP/1.1.",
        )
        body = msgspec.json.encode(problem(status, code, detail))
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self._close_gracefully()

    def _close_gracefully(self) -> None:
        """Send the answer and a FIN, read and drop for `LINGER_S`, then close."""
        self._lingering = True
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.transport.resume_reading()
        self.loop.call_later(LINGER_S, self.transport.close)
