"""Hold: pending, then posted (fully or partly) or voided; it can expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import (
    HoldAmountExceededError,
    HoldExpiredError,
    HoldNotPendingError,
    InvalidAmountError,
)
from domain.hold import EXPIRED, PENDING, POSTED, VOIDED, Hold
from domain.ids import wallet_id

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXPIRES_AT = NOW + timedelta(minutes=10)


def placed(amount_minor: int = 500, expires_at: datetime | None = EXPIRES_AT) -> Hold:
    hold = Hold.place(
        uuid4(), wallet_id("alice", "USD"), "alice", amount_minor, "USD", expires_at, "", "d"
    )
    hold.collect_events()
    return hold


def state(hold: Hold) -> tuple[str, int, object, int]:
    return hold.state, hold.posted_minor, hold.transaction_id, hold.version


def test_a_placed_hold_is_pending() -> None:
    hold = placed()

    assert hold.state == PENDING
    assert hold.status(NOW) == PENDING
    assert hold.posted_minor == 0
    assert hold.transaction_id is None


@pytest.mark.parametrize("amount", [0, -1, True, 2.5])
def test_rejects_placing_a_hold_for_an_invalid_amount(amount: object) -> None:
    with pytest.raises(InvalidAmountError):
        Hold.place(uuid4(), uuid4(), "alice", amount, "USD", None, "", "d")  # type: ignore[arg-type]


def test_a_pending_hold_reads_as_expired_from_its_expiry_on() -> None:
    hold = placed()

    assert hold.status(EXPIRES_AT - timedelta(microseconds=1)) == PENDING
    assert hold.status(EXPIRES_AT) == EXPIRED
    assert hold.state == PENDING  # expiry is read, not recorded


def test_a_hold_without_expiry_never_expires() -> None:
    hold = placed(expires_at=None)

    assert hold.status(NOW + timedelta(days=3650)) == PENDING


def test_posts_the_whole_hold() -> None:
    hold = placed()
    transaction_id = uuid4()

    hold.post(500, transaction_id, NOW)

    assert hold.status(NOW) == POSTED
    assert (hold.posted_minor, hold.transaction_id) == (500, transaction_id)
    assert [type(e) for e in hold.collect_events()] == [Hold.Posted]


def test_posts_part_of_a_hold() -> None:
    hold = placed()

    hold.post(120, uuid4(), NOW)

    assert hold.state == POSTED
    assert hold.posted_minor == 120
    assert hold.amount_minor == 500


def test_rejects_posting_more_than_was_held() -> None:
    hold = placed()
    before = state(hold)

    with pytest.raises(HoldAmountExceededError):
        hold.post(501, uuid4(), NOW)

    assert state(hold) == before
    assert hold.collect_events() == []


@pytest.mark.parametrize("amount", [0, -3])
def test_rejects_posting_a_non_positive_amount(amount: int) -> None:
    hold = placed()
    before = state(hold)

    with pytest.raises(InvalidAmountError):
        hold.post(amount, uuid4(), NOW)

    assert state(hold) == before


def test_rejects_posting_a_hold_twice() -> None:
    hold = placed()
    hold.post(100, uuid4(), NOW)
    hold.collect_events()
    before = state(hold)

    with pytest.raises(HoldNotPendingError) as caught:
        hold.post(100, uuid4(), NOW)

    assert caught.value.code == "hold_not_pending"
    assert state(hold) == before
    assert hold.collect_events() == []


def test_rejects_posting_an_expired_hold() -> None:
    hold = placed()
    before = state(hold)

    with pytest.raises(HoldExpiredError) as caught:
        hold.post(100, uuid4(), EXPIRES_AT)

    assert caught.value.code == "hold_expired"
    assert state(hold) == before
    assert hold.collect_events() == []


def test_voids_a_pending_hold() -> None:
    hold = placed()

    hold.void("cancelled", "void-digest", NOW)

    assert hold.status(NOW) == VOIDED
    assert hold.void_digest == "void-digest"
    assert [type(e) for e in hold.collect_events()] == [Hold.Voided]


def test_voids_an_expired_hold() -> None:
    hold = placed()

    hold.void("tidy up", "d", EXPIRES_AT + timedelta(days=1))

    assert hold.state == VOIDED


def test_rejects_voiding_a_posted_hold() -> None:
    hold = placed()
    hold.post(500, uuid4(), NOW)
    hold.collect_events()
    before = state(hold)

    with pytest.raises(HoldNotPendingError):
        hold.void("too late", "d", NOW)

    assert state(hold) == before
    assert hold.collect_events() == []


def test_rejects_voiding_twice_and_posting_after_void() -> None:
    hold = placed()
    hold.void("cancelled", "d", NOW)
    hold.collect_events()
    before = state(hold)

    with pytest.raises(HoldNotPendingError):
        hold.void("again", "d", NOW)
    with pytest.raises(HoldNotPendingError):
        hold.post(100, uuid4(), NOW)

    assert state(hold) == before
    assert hold.collect_events() == []
