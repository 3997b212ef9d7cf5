"""Identity ports: hashing passwords and issuing signed access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import msgspec


class PasswordHasher(Protocol):
    """One-way password hashing (argon2id in production)."""

    def hash(self, password: str) -> str:
        """A salted hash of `password` to store."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches the stored hash (constant-time, never raises)."""
        ...


class TokenClaims(msgspec.Struct, frozen=True):
    """What an access token says: who (`subject`), as which role, for how long, and the
    credentials version it was issued under (a change makes it stop working)."""

    subject: str
    role: str
    credentials_version: int
    issued_at: datetime
    expires_at: datetime


class InvalidTokenError(Exception):
    """A token that is malformed, forged, expired, or meant for another audience or issuer."""


class TokenCodec(Protocol):
    """Signs and checks access tokens (JWT in production)."""

    def issue(self, claims: TokenClaims) -> str: ...

    def read(self, token: str) -> TokenClaims:
        """The claims of a valid token; `InvalidTokenError` otherwise."""
        ...
