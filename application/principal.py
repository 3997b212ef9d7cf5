"""Who is calling: the principal every use case receives, and what it may do.

The HTTP layer authenticates the caller and passes its principal in; workers act as
`SYSTEM`. Idempotency keys are scoped per principal, so the same key from two callers names
two requests. Object-level checks happen in the use cases, with `may_act_for` and
`require_admin`: a customer acts for themself only (another's object is not found), an admin
for anyone, an auditor reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from application.errors import ForbiddenError, NotFoundError
from domain.user import UserRole

Role = UserRole


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the system itself)."""

    subject: str
    roles: frozenset[UserRole] = field(default_factory=frozenset)

    @property
    def idempotency_scope(self) -> str:
        """Keys are unique per caller."""
        return self.subject

    @property
    def is_admin(self) -> bool:
        return UserRole.ADMIN in self.roles

    @property
    def may_read_everything(self) -> bool:
        """Admins and auditors see every object."""
        return self.is_admin or UserRole.AUDITOR in self.roles

    def may_act_for(self, customer_id: str) -> bool:
        """Whether this caller may act on what belongs to `customer_id`."""
        return self.is_admin or customer_id == self.subject

    def may_read(self, customer_id: str) -> bool:
        return self.may_read_everything or customer_id == self.subject

    def require_admin(self) -> None:
        if not self.is_admin:
            raise ForbiddenError("Only an admin may do this.")

    def require_reader(self) -> None:
        """Admins and auditors only (views over every customer)."""
        if not self.may_read_everything:
            raise ForbiddenError("Only an admin or an auditor may read this.")

    def require_acts_for(self, customer_id: str, missing: type[NotFoundError]) -> None:
        """Raise `missing` (not found: another's object does not exist for this caller)
        unless this caller may act for `customer_id`."""
        if not self.may_act_for(customer_id):
            raise missing()

    def require_reads(self, customer_id: str, missing: type[NotFoundError]) -> None:
        """Raise `missing` unless this caller may read what `customer_id` owns."""
        if not self.may_read(customer_id):
            raise missing()


SYSTEM = Principal("system", frozenset({UserRole.ADMIN}))
