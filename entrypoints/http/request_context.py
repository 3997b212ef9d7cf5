"""Every request gets an id and one log line.

It also marks when the request came in: its reads must see every write finished by then.

The id is the client's `X-Request-ID` when it is sane (1-128 characters of letters, digits
and `._:-`), else a new one; it is set in `REQUEST_ID` for the request (so every log line
the request causes carries it) and returned in the response's `X-Request-ID` header. When the
response starts, one INFO line `request` records method, route, status and duration.

It wraps the app's whole ASGI handler (as Litestar's own OpenTelemetry plugin does), so
unknown paths and errors get an id and a line too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.log_head import reads_since
from entrypoints.logs import REQUEST_ID

log = logging.getLogger("payledger.http")

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The client's request id if it is sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY:
            incoming = value.decode("latin-1")
            if _SANE_ID.fullmatch(incoming):
                return incoming
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """ASGI middleware: request id in, request id out, one log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (_HEADER_KEY, request_id.encode())]
                message = {**message, "headers": headers}
                _log_request(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            # The request's reads need only see what was written before it came in: they
            # can share one check of the log's head (application/log_head.py).
            with reads_since(time.monotonic()):
                await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def _log_request(scope: Scope, status: int, duration_s: float) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    route: Any = scope.get("path_template") or scope.get("path")
    log.info(
        "%s %s %s",
        scope.get("method"),
        scope.get("path"),
        status,
        extra={
            "method": scope.get("method"),
            "path": scope.get("path"),
            "route": route,
            "status": status,
            "duration_ms": round(duration_s * 1000, 2),
        },
    )
