"""Installment plans: schedules add up to the total to the cent; the plan's and each
installment's state machine; retries with backoff, completion and default; replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import (
    InvalidInstallmentCountError,
    InvalidPlanTransitionError,
    InvalidScheduleError,
    ScheduleTotalMismatchError,
)
from domain.installment_plan import (
    INSTALLMENTS_MAX,
    InstallmentPlan,
    InstallmentStatus,
    PlanStatus,
    RetryPolicy,
    ScheduleEntry,
    equal_schedule,
    split_equally,
)
from domain.money import AMOUNT_MINOR_MAX, Money

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MONTH = timedelta(days=30)
POLICY = RetryPolicy(attempts_max=3, backoff_s=60, backoff_cap_s=100)


def plan(total: int = 10_000, count: int = 3, activate: bool = True) -> InstallmentPlan:
    schedule = equal_schedule(total, count, NOW, MONTH)
    created = InstallmentPlan.create(
        uuid4(), "alice", "shop", Money(total, "USD"), schedule, "pm_card_visa", "sofa", NOW
    )
    if activate:
        created.activate(NOW)
    return created


@given(
    total=st.integers(min_value=INSTALLMENTS_MAX, max_value=AMOUNT_MINOR_MAX),
    count=st.integers(min_value=1, max_value=INSTALLMENTS_MAX),
)
def test_an_equal_split_adds_up_to_the_total_with_the_remainder_on_the_last(
    total: int, count: int
) -> None:
    amounts = split_equally(total, count)

    assert sum(amounts) == total
    assert len(amounts) == count
    assert all(isinstance(a, int) and a > 0 for a in amounts)
    assert len(set(amounts[:-1])) <= 1
    assert 0 <= amounts[-1] - amounts[0] < count


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=24),
    gaps=st.lists(st.integers(min_value=0, max_value=400), min_size=24, max_size=24),
)
def test_an_explicit_schedule_is_kept_to_the_cent(amounts: list[int], gaps: list[int]) -> None:
    dates = [NOW + timedelta(days=sum(gaps[: i + 1])) for i in range(len(amounts))]
    schedule = tuple(ScheduleEntry(d, a) for d, a in zip(dates, amounts, strict=True))

    created = InstallmentPlan.create(
        uuid4(), "alice", "shop", Money(sum(amounts), "EUR"), schedule, "", "", NOW
    )

    assert [i.amount_minor for i in created.installments] == amounts
    assert sum(i.amount_minor for i in created.installments) == created.total_minor


def test_splits_100_00_in_three_as_33_33_33_33_33_34() -> None:
    assert split_equally(10_000, 3) == [3_333, 3_333, 3_334]
    assert [e.due_at for e in equal_schedule(10_000, 3, NOW, MONTH)] == [
        NOW,
        NOW + MONTH,
        NOW + 2 * MONTH,
    ]


@pytest.mark.parametrize(
    ("total", "count", "error"),
    [
        (100, 0, InvalidInstallmentCountError),
        (100, 25, InvalidInstallmentCountError),
        (2, 3, InvalidInstallmentCountError),  # less than a minor unit each
    ],
)
def test_refuses_a_count_out_of_range(total: int, count: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        split_equally(total, count)


def test_refuses_a_schedule_that_does_not_add_up_or_is_out_of_order() -> None:
    later = NOW + MONTH
    with pytest.raises(ScheduleTotalMismatchError):
        InstallmentPlan.create(
            uuid4(),
            "alice",
            "shop",
            Money(1_000, "USD"),
            (ScheduleEntry(NOW, 500), ScheduleEntry(later, 499)),
            "",
            "",
            NOW,
        )
    with pytest.raises(InvalidScheduleError):
        InstallmentPlan.create(
            uuid4(),
            "alice",
            "shop",
            Money(1_000, "USD"),
            (ScheduleEntry(later, 500), ScheduleEntry(NOW, 500)),
            "",
            "",
            NOW,
        )
    with pytest.raises(InvalidScheduleError):
        InstallmentPlan.create(
            uuid4(),
            "alice",
            "shop",
            Money(1_000, "USD"),
            (ScheduleEntry(NOW, 1_001), ScheduleEntry(later, -1)),
            "",
            "",
            NOW,
        )


def test_nothing_is_charged_before_activation_or_before_the_date() -> None:
    pending = plan(activate=False)
    assert pending.chargeable(NOW + 10 * MONTH) == []
    with pytest.raises(InvalidPlanTransitionError):
        pending.start_charge(1, uuid4(), NOW)

    active = plan()
    assert [i.number for i in active.chargeable(NOW)] == [1]
    assert [i.number for i in active.chargeable(NOW + MONTH)] == [1, 2]
    version = active.version
    with pytest.raises(InvalidPlanTransitionError):
        active.start_charge(3, uuid4(), NOW)
    assert active.version == version


def test_paying_every_installment_completes_the_plan() -> None:
    active = plan()
    for number in (1, 2, 3):
        payment_id = uuid4()
        at = NOW + MONTH * (number - 1)
        active.start_charge(number, payment_id, at)
        assert active.installment(number).status == InstallmentStatus.PROCESSING
        active.record_paid(number, payment_id, at)

    assert active.status == PlanStatus.COMPLETED
    assert active.paid_minor == 10_000
    assert [i.attempts for i in active.installments] == [1, 1, 1]


def test_a_failed_installment_is_retried_with_backoff_then_the_plan_defaults() -> None:
    active = plan()
    first = uuid4()
    active.start_charge(1, first, NOW)
    active.record_failed(1, first, "DECLINED", NOW, POLICY)
    installment = active.installment(1)
    assert (installment.status, installment.next_attempt_at) == (
        InstallmentStatus.FAILED,
        NOW + timedelta(seconds=60),
    )
    assert active.chargeable(NOW + timedelta(seconds=59)) == []

    second_at = NOW + timedelta(seconds=60)
    second = uuid4()
    active.start_charge(1, second, second_at)
    active.record_failed(1, second, "DECLINED", second_at, POLICY)
    assert active.installment(1).next_attempt_at == second_at + timedelta(seconds=100)  # cap

    third_at = second_at + timedelta(seconds=100)
    active.start_charge(1, uuid4(), third_at)  # no payment: the wallet fell short
    active.record_failed(1, None, "insufficient_funds", third_at, POLICY)

    assert active.status == PlanStatus.DEFAULTED
    assert active.installment(1).attempts == 3
    assert active.installment(1).next_attempt_at is None
    assert [i.status for i in active.installments[1:]] == [InstallmentStatus.CANCELLED] * 2
    assert active.chargeable(NOW + 10 * MONTH) == []


def test_an_outcome_for_another_attempt_changes_nothing() -> None:
    active = plan()
    payment_id = uuid4()
    active.start_charge(1, payment_id, NOW)
    version = active.version

    with pytest.raises(InvalidPlanTransitionError):
        active.record_paid(1, uuid4(), NOW)
    with pytest.raises(InvalidPlanTransitionError):
        active.start_charge(1, uuid4(), NOW)  # already being charged

    assert active.version == version


def test_cancelling_cancels_the_unpaid_installments_and_keeps_the_paid_ones() -> None:
    active = plan()
    paid = uuid4()
    active.start_charge(1, paid, NOW)
    active.record_paid(1, paid, NOW)
    charging = uuid4()
    active.start_charge(2, charging, NOW + MONTH)

    active.cancel("changed my mind", NOW + MONTH)

    assert active.status == PlanStatus.CANCELLED
    assert [i.status for i in active.installments] == [
        InstallmentStatus.PAID,
        InstallmentStatus.PROCESSING,
        InstallmentStatus.CANCELLED,
    ]
    # The charge under way ends; a failure is not retried on a cancelled plan.
    active.record_failed(2, charging, "DECLINED", NOW + MONTH, POLICY)
    assert active.installment(2).next_attempt_at is None
    assert active.status == PlanStatus.CANCELLED
    with pytest.raises(InvalidPlanTransitionError):
        active.cancel("again", NOW)
    with pytest.raises(InvalidPlanTransitionError):
        active.activate(NOW)


def test_shows_a_scheduled_installment_as_due_once_its_date_has_come() -> None:
    active = plan()
    first = active.installment(1)
    assert first.shown_status(NOW - timedelta(seconds=1)) == InstallmentStatus.SCHEDULED
    assert first.shown_status(NOW) == InstallmentStatus.DUE


def test_replaying_the_events_rebuilds_the_same_plan() -> None:
    active = plan()
    payment_id = uuid4()
    active.start_charge(1, payment_id, NOW)
    active.record_failed(1, payment_id, "DECLINED", NOW, POLICY)

    replayed: InstallmentPlan | None = None
    for domain_event in active.collect_events():
        replayed = domain_event.mutate(replayed)  # type: ignore[assignment]

    assert replayed is not None
    assert replayed.installments == active.installments
    assert (replayed.status, replayed.version) == (active.status, active.version)
