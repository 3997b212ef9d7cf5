"""A real `payledger serve` process for end-to-end tests.

`running_server()` starts the server as a subprocess on a free port, waits until
`GET /health` answers 200 and yields a `RunningServer`; afterwards it stops the process
(SIGTERM, then SIGKILL) and, on PostgreSQL, drops the schema the server used.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import httpx
from psycopg.sql import SQL, Identifier

from tests.support.services import POSTGRES, require_postgres

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HEALTH_POLL_INTERVAL_S = 0.1
# PostgreSQL servers refuse to start without a card-fingerprint secret; every server on one
# schema must share it (SQLite servers keep one of their own in their data folder).
POSTGRES_FINGERPRINT_SECRET = "e2e-card-fingerprint-secret-for-tests-only"
PORT_ATTEMPTS_MAX = 3
SERVER_POOL_SIZE = 2
STDERR_TAIL_CHARS = 4_000


# Every test server has this first admin (created by `serve` from PAYLEDGER_ADMIN_*), signs
# tokens with one secret (peers on one schema accept each other's tokens) and hashes
# passwords cheaply (sign-ins are not what these tests measure).
E2E_ADMIN_EMAIL = "admin@e2e.test"
E2E_ADMIN_PASSWORD = "e2e-admin-password"
E2E_AUTH_SETTINGS = {
    "PAYLEDGER_ADMIN_EMAIL": E2E_ADMIN_EMAIL,
    "PAYLEDGER_ADMIN_PASSWORD": E2E_ADMIN_PASSWORD,
    "PAYLEDGER_JWT_SECRET": "an-e2e-test-secret-long-enough-for-hs256!!",
    "PAYLEDGER_ARGON2_TIME_COST": "1",
    "PAYLEDGER_ARGON2_MEMORY_KIB": "1024",
}
# The admin token of each running server, by base URL (for `tests.e2e.api.client`).
ADMIN_TOKENS: dict[str, str] = {}


class ServerStartError(RuntimeError):
    """The server process exited or never answered `GET /health` with 200."""


@dataclass(frozen=True)
class RunningServer:
    """A started server: where it listens, which backend it uses, and its output log."""

    base_url: str
    backend: str
    schema: str | None
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_token: str = ""  # a bearer token of the server's first admin (E2E_ADMIN)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def log_tail(self, chars: int = STDERR_TAIL_CHARS) -> str:
        """The end of the server's combined stdout and stderr (for failure messages)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"
        return text[-chars:]


def _sign_in_admin(server: RunningServer, settings: Mapping[str, str]) -> RunningServer:
    form = {
        "username": settings["PAYLEDGER_ADMIN_EMAIL"],
        "password": settings["PAYLEDGER_ADMIN_PASSWORD"],
    }
    response = httpx.post(f"{server.base_url}/token", data=form, timeout=30.0)
    if response.status_code != 200:
        raise ServerStartError(f"the first admin cannot sign in: {response.text}")
    signed_in = replace(server, admin_token=response.json()["access_token"])
    ADMIN_TOKENS[server.base_url] = signed_in.admin_token
    return signed_in


def free_port() -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def payledger_command(*args: str) -> list[str]:
    """`payledger ARGS...` from the running virtualenv.

    `entrypoints.cli` has no `__main__` guard, so `python -m entrypoints.cli` would do
    nothing; the console script next to the interpreter is the real entry point. Calling
    `main()` through `-c` is the fallback when the script is missing (e.g. no install).
    """
    script = Path(sys.executable).parent / "payledger"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from entrypoints.cli import main; main()", *args]


def serve_command(port: int) -> list[str]:
    """`payledger serve` on 127.0.0.1:`port`."""
    return payledger_command("serve", "--host", "127.0.0.1", "--port", str(port))


def server_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment without any PAYLEDGER_* setting of the caller's shell, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLEDGER_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def postgres_url() -> str:
    target = POSTGRES
    auth = quote(target.user, safe="")
    if target.password:
        auth += ":" + quote(target.password, safe="")
    return f"postgresql://{auth}@{target.host}:{target.port}/{target.dbname}"


def drop_schema(schema: str) -> None:
    with POSTGRES.connect() as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _wait_healthy(server: RunningServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            code = server.process.poll()
            if code is not None:
                raise ServerStartError(
                    f"server exited with code {code} before answering /health:\n{server.log_tail()}"
                )
            try:
                response = client.get("/health")
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:500]}"
            time.sleep(HEALTH_POLL_INTERVAL_S)
    raise ServerStartError(
        f"server at {server.base_url} did not answer GET /health with 200 within "
        f"{timeout_s:.0f} s (last: {last}):\n{server.log_tail()}"
    )


def _start(
    settings: Mapping[str, str], backend: str, schema: str | None, log_dir: Path, timeout_s: float
) -> RunningServer:
    """Start on a free port; retry on another port if this one was taken meanwhile."""
    for attempt in range(PORT_ATTEMPTS_MAX):
        port = free_port()
        log_path = log_dir / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                serve_command(port),
                cwd=PROJECT_ROOT,
                env=server_env(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = RunningServer(f"http://127.0.0.1:{port}", backend, schema, process, log_path)
        try:
            _wait_healthy(server, timeout_s)
        except ServerStartError:
            _stop(process)
            taken = "address already in use" in server.log_tail().lower()
            if taken and attempt + 1 < PORT_ATTEMPTS_MAX:
                continue
            raise
        return _sign_in_admin(server, settings)
    raise AssertionError("unreachable: the loop returns or raises")


@contextmanager
def running_server(
    backend: str = "sqlite",
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    extra_settings: Mapping[str, str] | None = None,
    shared_schema: str | None = None,
) -> Iterator[RunningServer]:
    """A `payledger serve` process on `sqlite` (a fresh data dir) or `postgres` (a fresh
    schema `e2e_<uuidhex>`, dropped afterwards), with the projections in process (the default).

    `extra_settings` adds or overrides PAYLEDGER_* variables (e.g. PAYLEDGER_COMMAND_RETRIES,
    or PAYLEDGER_DATABASE_URL to reach PostgreSQL through a proxy).
    `shared_schema` starts a peer of a running PostgreSQL server: it uses that server's schema
    and leaves dropping it to that server's owner.
    """
    if backend not in ("sqlite", "postgres"):
        raise ValueError(f"unknown backend {backend!r}")
    if shared_schema is not None and backend != "postgres":
        raise ValueError("only PostgreSQL servers can share a schema")
    if backend == "postgres":
        require_postgres()
    workdir = Path(tempfile.mkdtemp(prefix=f"payledger-e2e-{backend}-"))
    schema = shared_schema or (f"e2e_{uuid.uuid4().hex}" if backend == "postgres" else None)
    owns_schema = schema is not None and shared_schema is None
    # The projections and the payment processor run in-process by default, on every backend.
    settings = {"PAYLEDGER_LOG_LEVEL": "warning", **E2E_AUTH_SETTINGS}
    if schema is not None:
        settings.update(
            PAYLEDGER_DATABASE_URL=postgres_url(),
            PAYLEDGER_DATABASE_SCHEMA=schema,
            PAYLEDGER_CARD_FINGERPRINT_SECRET=POSTGRES_FINGERPRINT_SECRET,
        )
        # PostgreSQL is shared (100 connections for every suite and engineer): a test server
        # keeps SERVER_POOL_SIZE event-store connections (twice that at most), one per read
        # model (four at most) and its LISTEN connection.
        settings["PAYLEDGER_DATABASE_POOL_SIZE"] = str(SERVER_POOL_SIZE)
    else:
        settings.update(PAYLEDGER_DATABASE_URL="", PAYLEDGER_DATA_DIR=str(workdir / "data"))
    settings.update(extra_settings or {})
    server: RunningServer | None = None
    try:
        server = _start(settings, backend, schema, workdir, startup_timeout_s)
        yield server
    finally:
        if server is not None:
            _stop(server.process)
            ADMIN_TOKENS.pop(server.base_url, None)
        if owns_schema and schema is not None:
            drop_schema(schema)
        with suppress(OSError):
            shutil.rmtree(workdir)
