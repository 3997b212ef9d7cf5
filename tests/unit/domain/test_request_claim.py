"""RequestClaim: the record that an Idempotency-Key was used, for what, and with what result."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.ids import idempotent_id
from domain.request_claim import RequestClaim

pytestmark = pytest.mark.unit


def test_a_claim_remembers_the_operation_the_request_and_the_result() -> None:
    claim_id, result_id = idempotent_id("alice", "key-1"), uuid4()

    claim = RequestClaim.claim(claim_id, "open_wallet", "digest", result_id, 1)

    assert claim.id == claim_id
    assert (claim.operation, claim.request_digest, claim.result_id, claim.result_version) == (
        "open_wallet",
        "digest",
        result_id,
        1,
    )
    assert [type(e) for e in claim.collect_events()] == [RequestClaim.Claimed]
