"""Who is calling: the principal every use case receives.

The HTTP layer authenticates the caller and passes its principal in; workers act as
`SYSTEM`. Idempotency keys are scoped per principal, so the same key from two callers names
two requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a principal may do: admins act for anyone; customers for themselves."""

    ADMIN = "admin"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the system itself)."""

    subject: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def idempotency_scope(self) -> str:
        """Keys are unique per caller."""
        return self.subject


SYSTEM = Principal("system", frozenset({Role.ADMIN}))
