"""Settings: read once from PAYLEDGER_* environment variables, in the composition root.

One struct per concern (database, HTTP, gateway, payments, workers, logging); each field is
read from `PAYLEDGER_<NAME>`, where NAME is the field's encoded name (`msgspec.field(name=)`),
so the variable names stay short and stable while the groups keep the code tidy. The README's
configuration table mirrors these structs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import msgspec

ENV_PREFIX = "PAYLEDGER_"


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where events and read models live, and how the event store is tuned."""

    # Empty: an SQLite file under data_dir; postgresql://...; sqlite:///path; memory://
    url: str = msgspec.field(default="", name="database_url")
    schema: str = msgspec.field(default="public", name="database_schema")
    pool_size: int = msgspec.field(default=10, name="database_pool_size")
    # How long a call waits for a pooled connection before the database counts as down
    # (a request then answers 503 instead of hanging).
    wait_timeout_s: int = msgspec.field(default=2, name="database_wait_timeout_s")
    data_dir: str = "data"
    aggregate_cache_size: int = 10_000
    snapshot_interval: int = 100
    command_retries: int = 20

    @property
    def backend(self) -> Literal["postgres", "sqlite", "memory"]:
        scheme = urlsplit(self.url).scheme
        if not self.url or scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgres", "postgresql"):
            return "postgres"
        if scheme == "memory":
            return "memory"
        raise ValueError(f"PAYLEDGER_DATABASE_URL has an unknown scheme: {scheme!r}")

    @property
    def sqlite_path(self) -> Path:
        if self.url.startswith("sqlite:///"):
            return Path(self.url.removeprefix("sqlite:///"))
        return Path(self.data_dir) / "payledger.sqlite3"

    def postgres_params(self) -> dict[str, str]:
        """Host, port, user, password and database name from the URL."""
        url = urlsplit(self.url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": url.path.lstrip("/") or "postgres",
        }


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how clients reach this service (default http://host:port)
    request_body_max_bytes: int = 64 * 1024
    view_wait_timeout_s: float = 5.0
    view_waiters_max: int = 1_000  # reads waiting for a read model at once, per process
    ready_lag_max: int = 10_000

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class GatewaySettings(msgspec.Struct, frozen=True, kw_only=True):
    """The card gateway: the simulated legacy system or Stripe."""

    kind: Literal["simulated", "stripe"] = msgspec.field(default="simulated", name="gateway")
    failure_rate: float = 0.2  # the simulated gateway's random PROCESSING_ERROR rate
    seed: int = msgspec.field(default=0, name="gateway_seed")
    latency_ms: int = msgspec.field(default=0, name="gateway_latency_ms")
    stripe_api_key: str = ""
    stripe_api_base: str = ""  # e.g. a local fake Stripe server in tests
    stripe_webhook_secret: str = ""


class PaymentSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The payment rules, money defaults, and the secret that keys card fingerprints."""

    fraud_threshold: str = "10000.00"  # major units in the payment's currency (strictly above)
    max_retries: int = 3  # retries of a payment that failed for a transient reason
    default_currency: str = "USD"  # of a wallet opened without one (seed 003)
    # Keys the HMAC of card numbers in request digests (see entrypoints/card_secret.py).
    card_fingerprint_secret: str = ""

    def __repr__(self) -> str:  # a secret never reaches a log line
        hidden = "<hidden>" if self.card_fingerprint_secret else "<unset>"
        return (
            f"PaymentSettings(fraud_threshold={self.fraud_threshold!r}, "
            f"max_retries={self.max_retries}, default_currency={self.default_currency!r}, "
            f"card_fingerprint_secret={hidden})"
        )


class WorkerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The followers of the log: projections and the payment processor."""

    # Run them inside `serve` (on every backend); false moves them to `payledger worker`.
    in_process: bool = msgspec.field(default=True, name="projections_in_process")
    # Idle followers wait for a signal of new events, and look anyway after this long.
    poll_interval_s: float = msgspec.field(default=1.0, name="workers_poll_interval_s")
    # Where `payledger worker` writes its health (`payledger worker --check` reads it);
    # empty: `<data_dir>/worker-health.json`.
    health_file: str = msgspec.field(default="", name="worker_health_file")


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Users, tokens and rate limits."""

    # Empty on the embedded default: one is generated once and kept in the data folder.
    jwt_secret: str = ""
    token_ttl_s: int = 1800
    login_attempts_per_minute: int = 10  # per account and per client address
    writes_per_minute: int = 600  # per customer (admins are not limited), 0 = no limit
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    # The first admin, created by `serve` and `db migrate` if that email has no account yet
    # (a deployment's way in: compose sets these once).
    admin_email: str = ""
    admin_password: str = ""


class TripSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Schools, trips and registrations."""

    seat_hold_s: int = 900  # how long an unpaid registration holds its seat
    platform_fee_bps: int = 0  # the platform's share of a trip's price, in basis points


class AuditSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The hash chain's signed checkpoints."""

    # Ed25519 seed, 64 hex digits. Empty on the embedded default: one is generated once and
    # kept in the data folder. Empty on PostgreSQL: the chain is kept but nothing is signed.
    signing_key: str = msgspec.field(default="", name="audit_signing_key")
    checkpoint_interval: int = msgspec.field(default=1_000, name="audit_checkpoint_interval")

    def __repr__(self) -> str:  # a secret never reaches a log line
        hidden = "<hidden>" if self.signing_key else "<unset>"
        return f"AuditSettings(signing_key={hidden}, interval={self.checkpoint_interval})"


class InstallmentSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Installment plans (seed 003): how their scheduler charges and retries."""

    # Attempts at one installment before its plan defaults (the first one included).
    attempts_max: int = msgspec.field(default=4, name="installment_attempts_max")
    # The n-th retry waits backoff_s * 2**(n-1) after the failure, at most backoff_max_s.
    backoff_s: float = msgspec.field(default=3600.0, name="installment_retry_backoff_s")
    backoff_max_s: float = msgspec.field(default=86400.0, name="installment_retry_backoff_max_s")
    # How often an idle scheduler looks for installments that fell due.
    scan_interval_s: float = msgspec.field(default=1.0, name="installment_scan_interval_s")


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Outbound webhooks: global endpoints, the SSRF allow-list, retries and concurrency."""

    # Comma-separated URLs that get every event (seed 001's WEBHOOK_URL is added to them),
    # signed with `secret` (whsec_...).
    urls: str = msgspec.field(default="", name="webhook_urls")
    secret: str = msgspec.field(default="", name="webhook_secret")
    # Comma-separated networks webhooks may call although the SSRF guard refuses them
    # (e.g. 10.0.0.0/8 for receivers inside a private network; tests: 127.0.0.1/32).
    allow_networks: str = msgspec.field(default="", name="webhook_allow_networks")
    horizon_s: float = msgspec.field(default=3 * 24 * 3600.0, name="webhook_retry_horizon_s")
    timeout_s: float = msgspec.field(default=10.0, name="webhook_timeout_s")
    concurrency: int = msgspec.field(default=16, name="webhook_concurrency")
    per_endpoint_max: int = msgspec.field(default=2, name="webhook_per_endpoint_max")
    backoff_base_s: float = msgspec.field(default=5.0, name="webhook_backoff_base_s")
    backoff_max_s: float = msgspec.field(default=6 * 3600.0, name="webhook_backoff_max_s")
    poll_interval_s: float = msgspec.field(default=0.5, name="webhook_poll_interval_s")

    @property
    def url_list(self) -> list[str]:
        return [url.strip() for url in self.urls.split(",") if url.strip()]

    @property
    def network_list(self) -> list[str]:
        return [net.strip() for net in self.allow_networks.split(",") if net.strip()]

    def __repr__(self) -> str:  # a secret never reaches a log line
        hidden = "<hidden>" if self.secret else "<unset>"
        return f"WebhookSettings(urls={self.urls!r}, secret={hidden})"


class LogSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Log lines: their level, and plain text or one JSON object per line."""

    level: str = msgspec.field(default="info", name="log_level")
    format: Literal["text", "json"] = msgspec.field(default="text", name="log_format")


class NatsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The relay of integration events to NATS JetStream (off while `url` is empty)."""

    url: str = msgspec.field(default="", name="nats_url")
    stream: str = msgspec.field(default="PAYLEDGER", name="nats_stream")
    subject_prefix: str = msgspec.field(default="payledger", name="nats_subject_prefix")
    duplicate_window_s: float = msgspec.field(default=120.0, name="nats_duplicate_window_s")
    max_age_s: float = msgspec.field(default=0.0, name="nats_max_age_s")  # 0: kept
    publish_timeout_s: float = msgspec.field(default=5.0, name="nats_publish_timeout_s")
    connect_timeout_s: float = msgspec.field(default=2.0, name="nats_connect_timeout_s")
    batch_size: int = msgspec.field(default=500, name="nats_batch_size")
    lease_s: float = msgspec.field(default=10.0, name="nats_lease_s")

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting, by concern, with its default."""

    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    payments: PaymentSettings = msgspec.field(default_factory=PaymentSettings)
    workers: WorkerSettings = msgspec.field(default_factory=WorkerSettings)
    logging: LogSettings = msgspec.field(default_factory=LogSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    trips: TripSettings = msgspec.field(default_factory=TripSettings)
    installments: InstallmentSettings = msgspec.field(default_factory=InstallmentSettings)
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)

    @property
    def run_workers_in_process(self) -> bool:
        return self.workers.in_process

    @property
    def worker_health_path(self) -> Path:
        if self.workers.health_file:
            return Path(self.workers.health_file)
        return Path(self.database.data_dir) / "worker-health.json"

    def replace(self, **groups: Any) -> Settings:
        """A copy with some groups' fields changed: `replace(http={"port": 9000})`."""
        changed = {
            name: msgspec.structs.replace(getattr(self, name), **fields)
            for name, fields in groups.items()
        }
        return msgspec.structs.replace(self, **changed)


def env_names(group: type[msgspec.Struct]) -> dict[str, str]:
    """`PAYLEDGER_*` variable -> encoded field name, for one settings group."""
    info = msgspec.inspect.type_info(group)
    assert isinstance(info, msgspec.inspect.StructType)
    return {ENV_PREFIX + field.encode_name.upper(): field.encode_name for field in info.fields}


_GROUPS: dict[str, type[msgspec.Struct]] = {
    "database": DatabaseSettings,
    "http": HttpSettings,
    "gateway": GatewaySettings,
    "payments": PaymentSettings,
    "workers": WorkerSettings,
    "logging": LogSettings,
    "auth": AuthSettings,
    "trips": TripSettings,
    "installments": InstallmentSettings,
    "nats": NatsSettings,
    "audit": AuditSettings,
    "webhooks": WebhookSettings,
}
SEED_WEBHOOK_URL = "WEBHOOK_URL"  # seed 001's one receiver of every status change


def all_env_names() -> set[str]:
    """Every `PAYLEDGER_*` variable a setting is read from."""
    return {variable for group in _GROUPS.values() for variable in env_names(group)}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from PAYLEDGER_* variables; malformed values fail loudly."""
    environ = os.environ if environ is None else environ
    groups: dict[str, Any] = {}
    for name, group in _GROUPS.items():
        raw = {
            field: environ[variable]
            for variable, field in env_names(group).items()
            if variable in environ
        }
        if name == "webhooks" and environ.get(SEED_WEBHOOK_URL):
            raw["webhook_urls"] = ",".join(
                url for url in (raw.get("webhook_urls", ""), environ[SEED_WEBHOOK_URL]) if url
            )
        groups[name] = msgspec.convert(raw, group, strict=False)
    return Settings(**groups)
