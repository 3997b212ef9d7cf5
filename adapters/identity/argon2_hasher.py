"""The `PasswordHasher` port on argon2id (argon2-cffi), with its recommended parameters."""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2PasswordHasher:
    """argon2id; `time_cost`/`memory_cost_kib` default to the library's recommendations
    (tests may lower them: hashing is slow on purpose)."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65_536) -> None:
        self._hasher = _Argon2(time_cost=time_cost, memory_cost=memory_cost_kib)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
