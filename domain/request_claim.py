"""RequestClaim: reserves an Idempotency-Key for a command that creates no keyed aggregate."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class RequestClaim(Aggregate):
    """Records that a key was used, for which request, and what it produced.

    Commands whose result has its own natural id (opening a wallet, voiding a hold) save a
    claim next to their result, in the same transaction, so a replay finds the original.
    """

    class Claimed(Aggregate.Created):
        operation: str
        request_digest: str
        result_id: UUID
        result_version: int

    @classmethod
    def claim(
        cls,
        claim_id: UUID,
        operation: str,
        request_digest: str,
        result_id: UUID,
        result_version: int,
    ) -> RequestClaim:
        """Claim a key for a command whose result is `result_id` at `result_version`."""
        return cls._create(
            cls.Claimed,
            id=claim_id,
            operation=operation,
            request_digest=request_digest,
            result_id=result_id,
            result_version=result_version,
        )

    @event(Claimed)
    def __init__(
        self, operation: str, request_digest: str, result_id: UUID, result_version: int
    ) -> None:
        self.operation = operation
        self.request_digest = request_digest
        self.result_id = result_id
        self.result_version = result_version
