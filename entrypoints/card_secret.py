"""Where the secret that keys card fingerprints comes from (PCI DSS: a stored digest must
not let anyone recover a card number).

- `PAYLEDGER_CARD_FINGERPRINT_SECRET` when set (at least 32 characters);
- otherwise, on the embedded SQLite default, a secret generated once with `secrets` and kept
  next to the database (`card-fingerprint.secret`, mode 0600), reused on every restart;
- on the in-memory store (tests), a new secret per process: the log dies with it;
- on PostgreSQL, no default: several hosts share that log, and a secret one host invented
  for itself would make the others' digests disagree. The service refuses to start.
"""

from __future__ import annotations

import secrets

from adapters.secret_file import read_or_create_secret
from entrypoints.settings import Settings

# Names, not secrets (ruff's S105 reads "SECRET" as a hard-coded password).
SECRET_ENV = "PAYLEDGER_CARD_FINGERPRINT_SECRET"  # noqa: S105
SECRET_FILE_NAME = "card-fingerprint.secret"  # noqa: S105
SECRET_LENGTH_MIN = 32
EPHEMERAL_SECRET_BYTES = 32


class ConfigurationError(Exception):
    """The configuration cannot run the service; the message says what to change."""


def card_fingerprint_secret(settings: Settings) -> bytes:
    """The secret for this configuration (see the module docstring), or ConfigurationError."""
    configured = settings.payments.card_fingerprint_secret
    if configured:
        if len(configured) < SECRET_LENGTH_MIN:
            raise ConfigurationError(
                f"{SECRET_ENV} must be at least {SECRET_LENGTH_MIN} characters; generate one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return configured.encode()
    backend = settings.database.backend
    if backend == "memory":
        return secrets.token_bytes(EPHEMERAL_SECRET_BYTES)
    if backend == "postgres":
        raise ConfigurationError(
            f"{SECRET_ENV} is not set. On PostgreSQL every PayLedger process must key card "
            "fingerprints with the same secret; set it (at least 32 characters) for every "
            "process, e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    path = settings.database.sqlite_path.parent / SECRET_FILE_NAME
    return read_or_create_secret(path).encode()
