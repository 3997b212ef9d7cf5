"""What every HTTP benchmark needs: wrk runs, a `serve` process signed in as an admin, and
the limits of this machine measured in the same run (pgbench, the framework's own ceiling).

Imported by bench/all.py, bench/ledger.py and bench/payments.py; not a script of its own.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import psycopg
from psycopg.sql import SQL, Identifier

BENCH_DIR = Path(__file__).resolve().parent
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password"  # a throwaway account on a throwaway schema
SERVER_START_S = 120.0

# wrk prints this line when it is done; the request function comes from the caller.
WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WrkResult(NamedTuple):
    """One wrk run: successful requests per second, latency percentiles, what went wrong."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_status: int
    socket_errors: int
    seconds: float


def lua_headers(token: str | None, json_body: bool = False) -> str:
    """Lua that sets the headers every request of the run carries."""
    lines = []
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if json_body:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    return "\n".join(lines) + "\n"


def wrk_start(base: str, script: str, connections: int, seconds: float) -> subprocess.Popen[str]:
    """Start wrk (2 threads) with this Lua script; `wrk_result` waits for it."""
    path = Path(tempfile.mkdtemp(prefix="bench-wrk-")) / "load.lua"
    path.write_text(script + WRK_DONE)
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(path), base],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wrk_result(process: subprocess.Popen[str]) -> WrkResult:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.strip()}")
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50_us, p99_us, bad, errors = line.split()[1:]
    seconds = int(duration_us) / 1e6
    ok = int(requests) - int(bad)
    return WrkResult(
        ok / seconds,
        float(p50_us) / 1e3,
        float(p99_us) / 1e3,
        int(requests),
        int(bad),
        int(errors),
        seconds,
    )


def wrk(base: str, script: str, connections: int, seconds: float) -> WrkResult:
    return wrk_result(wrk_start(base, script, connections, seconds))


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start in time")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Server:
    """`payledger serve` in a child process, with an admin signed in (`token`, `client`).

    `env` holds the PAYLEDGER_* settings of the run; the admin and the port are added here.
    """

    def __init__(self, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            **os.environ,
            **env,
            "PAYLEDGER_PORT": str(self.port),
            "PAYLEDGER_ADMIN_EMAIL": ADMIN_EMAIL,
            "PAYLEDGER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PAYLEDGER_LOG_LEVEL": "warning",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.client = httpx.Client(base_url=self.base, timeout=60)

    def __enter__(self) -> Server:
        exe = Path(sys.executable).parent / "payledger"
        self.process = subprocess.Popen(
            [str(exe), "serve", "--workers", str(self.workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(self.base, self.process, SERVER_START_S)
            form = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            response = self.client.post("/token", data=form)
            response.raise_for_status()
            self.token = response.json()["access_token"]
            self.client.headers["Authorization"] = f"Bearer {self.token}"
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        self.client.close()

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        response = self.client.post(path, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        result: dict[str, object] = response.json()
        return result

    def get(self, path: str) -> dict[str, object]:
        response = self.client.get(path)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def wait_caught_up(self, timeout_s: float = 300) -> float:
        """Seconds until every follower of the log (views, processor, relay) has caught up."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            ready = self.client.get("/ready").json()
            relay = ready.get("relay") or {}
            if ready.get("view_lag", 1) == 0 and relay.get("lag", 0) == 0:
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError("the followers of the log did not catch up in time")


# --- limits --------------------------------------------------------------------------------

PGBENCH_SCRIPT = (
    "INSERT INTO raw_events VALUES "
    "(gen_random_uuid(), 1, 'bench', decode(repeat('ab', 200), 'hex'));\n"
)


def pgbench_commits(dsn: str, clients: int = 16, seconds: int = 10) -> float:
    """Single-row INSERT commits/s by pgbench (-n -c16 -j2), into a table shaped like the
    event store's, in a scratch database created here and dropped after."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    database = f"bench_pgbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL("CREATE DATABASE {}").format(Identifier(database)))
    try:
        with psycopg.connect(dsn, dbname=database, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE raw_events (originator_id uuid, originator_version int, "
                "topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))"
            )
        script = Path(tempfile.mkdtemp(prefix="bench-pgbench-")) / "insert.sql"
        script.write_text(PGBENCH_SCRIPT)
        command = ["pgbench", "-n", f"-c{clients}", "-j2", f"-T{seconds}", "-f", str(script)]
        command += ["-h", str(params.get("host", "127.0.0.1"))]
        command += ["-p", str(params.get("port", 5432)), "-U", str(params.get("user", "postgres"))]
        out = subprocess.run(
            [*command, database], capture_output=True, text=True, check=True
        ).stdout
        match = re.search(r"tps = ([\d.]+)", out)
        if match is None:
            raise RuntimeError(f"no tps in pgbench's output: {out}")
        return float(match.group(1))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SQL("DROP DATABASE {} WITH (FORCE)").format(Identifier(database)))


CEILING_POST = (
    'wrk.method = "POST"\n'
    'wrk.headers["Content-Type"] = "application/json"\n'
    'wrk.body = \'{"id":"p-1","amount":100,"currency":"USD","recipient":"school-1"}\'\n'
)


def framework_ceilings(seconds: float) -> tuple[WrkResult, WrkResult]:
    """GET and POST requests/s of a trivial Litestar app (bench/ceiling.py) in one uvicorn
    process, under wrk -t2 -c32: what the framework does with no work of ours."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "ceiling:app",
            "--app-dir",
            str(BENCH_DIR),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(base, process, 30)
        wrk(f"{base}/item", "", 32, 1)  # warm up
        get = wrk(f"{base}/item", "", 32, seconds)
        post = wrk(f"{base}/item", CEILING_POST, 32, seconds)
    finally:
        stop(process)
    return get, post


@contextmanager
def scratch_schema(dsn: str, prefix: str) -> Iterator[str]:
    """A new, uniquely named schema for one run, dropped with everything in it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    try:
        yield schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    """The settings of a server on `schema`: payments never fail by chance, fresh secrets."""
    return {
        "PAYLEDGER_DATABASE_URL": dsn,
        "PAYLEDGER_DATABASE_SCHEMA": schema,
        "PAYLEDGER_FAILURE_RATE": "0",
        **secrets_env(),
    }


def secrets_env() -> dict[str, str]:
    """The secrets a server on PostgreSQL needs, fresh for this run."""
    return {
        "PAYLEDGER_JWT_SECRET": secrets.token_urlsafe(48),
        "PAYLEDGER_CARD_FINGERPRINT_SECRET": secrets.token_urlsafe(32),
    }
