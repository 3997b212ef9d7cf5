"""Settings: read once from PAYLEDGER_* environment variables, in the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import msgspec

ENV_PREFIX = "PAYLEDGER_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting, with its default. The README's configuration table mirrors this."""

    # Where events live: empty = SQLite file under data_dir; postgresql://...; memory://
    database_url: str = ""
    database_schema: str = "public"
    database_pool_size: int = 10
    data_dir: str = "data"
    host: str = "127.0.0.1"
    port: int = 8000
    # Run the projections inside `serve` (default: yes on SQLite/memory, no on PostgreSQL).
    projections_in_process: bool | None = None
    aggregate_cache_size: int = 10_000
    snapshot_interval: int = 100
    command_retries: int = 20
    request_body_max_bytes: int = 64 * 1024
    view_wait_timeout_s: float = 5.0
    ready_lag_max: int = 10_000
    log_level: str = "info"
    # Payments.
    gateway: str = "simulated"  # simulated | stripe
    failure_rate: float = 0.2  # the simulated gateway's random PROCESSING_ERROR rate
    gateway_seed: int = 0  # seeds the simulated gateway's random draws
    gateway_latency_ms: int = 0  # simulated processing latency per gateway call
    fraud_threshold: str = "10000.00"  # major units in the payment's currency (strictly above)
    max_retries: int = 3  # retries of a payment that failed for a transient reason
    stripe_api_key: str = ""
    stripe_api_base: str = ""  # e.g. a local fake Stripe server in tests
    stripe_webhook_secret: str = ""
    public_url: str = ""  # how clients reach this service (default http://host:port)

    @property
    def backend(self) -> str:
        """`postgres`, `sqlite` or `memory`."""
        scheme = urlsplit(self.database_url).scheme
        if not self.database_url or scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgres", "postgresql"):
            return "postgres"
        if scheme == "memory":
            return "memory"
        raise ValueError(f"PAYLEDGER_DATABASE_URL has an unknown scheme: {scheme!r}")

    @property
    def sqlite_path(self) -> Path:
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return Path(self.data_dir) / "payledger.sqlite3"

    @property
    def run_projections_in_process(self) -> bool:
        if self.projections_in_process is not None:
            return self.projections_in_process
        return self.backend != "postgres"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def postgres_params(self) -> dict[str, str]:
        """Host, port, user, password and database name from the URL."""
        url = urlsplit(self.database_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": url.path.lstrip("/") or "postgres",
        }


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from PAYLEDGER_* variables; unknown or malformed values fail loudly."""
    environ = os.environ if environ is None else environ
    fields = set(Settings.__struct_fields__)
    raw: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX):
            name = key.removeprefix(ENV_PREFIX).lower()
            if name in fields:
                raw[name] = value
    return msgspec.convert(raw, Settings, strict=False)
