"""EmailClaim: one email address, held by at most one user at a time.

Its id is derived from the normalized address, so two users registering the same address at
once both try to create the same aggregate: optimistic concurrency lets exactly one win. A
deleted user (or one who changed address) releases it for someone else.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import EmailTakenError
from domain.ids import PAYLEDGER_NAMESPACE


def email_claim_id(normalized_email: str) -> UUID:
    return uuid5(PAYLEDGER_NAMESPACE, f"email:{normalized_email}")


class EmailClaim(Aggregate):
    """Who holds an email address (None: free again)."""

    class Claimed(Aggregate.Created):
        email: str
        user_id: UUID

    class Released(Aggregate.Event):
        user_id: UUID

    class Reclaimed(Aggregate.Event):
        user_id: UUID

    @classmethod
    def claim(cls, email: str, user_id: UUID) -> EmailClaim:
        return cls._create(cls.Claimed, id=email_claim_id(email), email=email, user_id=user_id)

    @event(Claimed)
    def __init__(self, email: str, user_id: UUID) -> None:
        self.email = email
        self.holder: UUID | None = user_id

    def take(self, user_id: UUID) -> None:
        """Claim a released address (refused while someone holds it)."""
        if self.holder is not None and self.holder != user_id:
            raise EmailTakenError()
        if self.holder is None:
            self._reclaim(user_id)

    def release(self, user_id: UUID) -> None:
        if self.holder == user_id:
            self._release(user_id)

    @event(Released)
    def _release(self, user_id: UUID) -> None:
        self.holder = None

    @event(Reclaimed)
    def _reclaim(self, user_id: UUID) -> None:
        self.holder = user_id
