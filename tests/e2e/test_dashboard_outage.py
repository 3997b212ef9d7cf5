"""The dashboard through a database outage: a real server reaches PostgreSQL through a TCP
proxy the test cuts. The open stream says the figures are unavailable (it does not die, and
nothing is a 500), and sends figures again once the database is back, without a reload."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, running_server
from tests.support.services import POSTGRES, require_postgres
from tests.support.sse import sse_events
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

READ_TIMEOUT_S = 30.0  # longer than any quiet spell of the stream (keep-alives every 15 s)
EVENTS_MAX = 50


def _next_of(events: Iterator[tuple[str, str]], wanted: str) -> list[str]:
    """The events up to and including the next `wanted` one (bounded)."""
    seen = []
    for event, _ in events:
        seen.append(event)
        if event == wanted or len(seen) >= EVENTS_MAX:
            break
    return seen


def test_the_stream_reports_an_outage_and_recovers_from_it() -> None:
    require_postgres()
    with TcpProxy(POSTGRES.host, POSTGRES.port) as proxy:
        url = f"postgresql://{POSTGRES.user}@{proxy.url_host}/{POSTGRES.dbname}"
        settings = {"PAYLEDGER_DATABASE_URL": url}
        with (
            running_server("postgres", extra_settings=settings) as server,
            httpx.Client(base_url=server.base_url, timeout=READ_TIMEOUT_S) as session,
        ):
            form = {"username": E2E_ADMIN_EMAIL, "password": E2E_ADMIN_PASSWORD}
            assert session.post("/dashboard/login", data=form).status_code == 303
            with session.stream("GET", "/dashboard/events") as stream:
                events = sse_events(stream.iter_lines())
                assert _next_of(events, "snapshot") == ["hello", "snapshot"]
                proxy.stop()
                try:
                    assert _next_of(events, "unavailable")[-1] == "unavailable"
                    page = session.get("/dashboard")
                    assert page.status_code == 503, page.text
                finally:
                    proxy.start()
                assert _next_of(events, "snapshot")[-1] == "snapshot"
            assert session.get("/dashboard").status_code == 200
