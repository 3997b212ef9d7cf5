"""Splits: checking instructions, allocating a capture and reversing it with no cent lost."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidSplitError
from domain.splits import (
    BPS_WHOLE,
    PAYEE_LENGTH_MAX,
    SPLITS_MAX,
    Allocation,
    Split,
    allocate,
    allocate_refund,
    check_splits,
)

pytestmark = pytest.mark.unit


def amounts(allocations: tuple[Allocation, ...]) -> dict[str, int]:
    return {a.payee: a.amount_minor for a in allocations}


# Checking split instructions.


@pytest.mark.parametrize(
    "splits",
    [
        (),
        (Split("school", bps=BPS_WHOLE),),
        (Split("school", bps=9000), Split("platform", bps=1000)),
        (Split("school", amount_minor=7000), Split("platform", amount_minor=3000)),
        (Split("platform", amount_minor=250), Split("school", bps=BPS_WHOLE)),
        (Split("platform", amount_minor=10_000), Split("school", bps=BPS_WHOLE)),
        tuple(Split(f"p{i}", bps=625) for i in range(SPLITS_MAX)),
        (Split("x" * PAYEE_LENGTH_MAX, bps=BPS_WHOLE),),
    ],
)
def test_accepts_splits_that_cover_the_amount_exactly(splits: tuple[Split, ...]) -> None:
    check_splits(splits, 10_000)


@pytest.mark.parametrize(
    ("splits", "why"),
    [
        (tuple(Split(f"p{i}", bps=10) for i in range(SPLITS_MAX + 1)), "too many"),
        ((Split("school", bps=5000), Split("school", bps=5000)), "duplicate payee"),
        ((Split("", bps=BPS_WHOLE),), "empty payee"),
        ((Split("x" * (PAYEE_LENGTH_MAX + 1), bps=BPS_WHOLE),), "payee too long"),
        ((Split("school"),), "neither bps nor amount"),
        ((Split("school", bps=BPS_WHOLE, amount_minor=10_000),), "both bps and amount"),
        ((Split("school", amount_minor=0), Split("p", bps=BPS_WHOLE)), "zero amount"),
        ((Split("school", amount_minor=-1), Split("p", bps=BPS_WHOLE)), "negative amount"),
        ((Split("school", amount_minor=True), Split("p", bps=BPS_WHOLE)), "bool amount"),
        ((Split("school", bps=0), Split("p", bps=BPS_WHOLE)), "zero bps"),
        ((Split("school", bps=BPS_WHOLE + 1),), "bps above whole"),
        ((Split("school", bps=True), Split("p", bps=9999)), "bool bps"),
        ((Split("school", bps=9000), Split("p", bps=999)), "bps short of whole"),
        ((Split("school", bps=9000), Split("p", bps=1001)), "bps beyond whole"),
        ((Split("school", amount_minor=10_001), Split("p", bps=BPS_WHOLE)), "fixed too big"),
        ((Split("school", amount_minor=9_999),), "fixed short with no bps"),
        ((Split("a", amount_minor=6_000), Split("b", amount_minor=5_000)), "fixed sum too big"),
    ],
)
def test_refuses_invalid_splits(splits: tuple[Split, ...], why: str) -> None:
    with pytest.raises(InvalidSplitError) as refused:
        check_splits(splits, 10_000)

    assert refused.value.code == "invalid_split", why


# Allocating a capture.


def test_without_splits_the_whole_amount_goes_to_the_default_payee() -> None:
    assert allocate(12_345, (), "school") == (Allocation("school", 12_345),)


def test_basis_points_divide_the_amount_and_the_leftover_cent_goes_to_the_largest_remainder() -> (
    None
):
    splits = (Split("a", bps=3333), Split("b", bps=3333), Split("c", bps=3334))

    assert allocate(100, splits, "x") == (
        Allocation("a", 33),
        Allocation("b", 33),
        Allocation("c", 34),
    )


def test_equal_remainders_give_the_leftover_cent_to_the_earlier_split() -> None:
    splits = (Split("a", bps=5000), Split("b", bps=5000))

    assert allocate(3, splits, "x") == (Allocation("a", 2), Allocation("b", 1))


def test_a_payee_whose_share_rounds_to_nothing_gets_no_allocation() -> None:
    splits = (Split("a", bps=5000), Split("b", bps=5000))

    assert allocate(1, splits, "x") == (Allocation("a", 1),)


def test_fixed_amounts_come_first_and_basis_points_share_the_rest() -> None:
    splits = (
        Split("platform", amount_minor=250),
        Split("school", bps=7000),
        Split("district", bps=3000),
    )

    # 9751 left: 6825.7 and 2925.3; the cent left over goes to the larger remainder.
    assert allocate(10_001, splits, "x") == (
        Allocation("platform", 250),
        Allocation("school", 6_826),
        Allocation("district", 2_925),
    )


def test_fixed_amounts_alone_allocate_exactly_those_amounts() -> None:
    splits = (Split("a", amount_minor=7), Split("b", amount_minor=3))

    assert allocate(10, splits, "x") == (Allocation("a", 7), Allocation("b", 3))


def test_amounts_without_minor_units_split_in_whole_units() -> None:
    splits = (Split("school", bps=9000), Split("platform", bps=1000))

    assert allocate(15, splits, "x") == (Allocation("school", 14), Allocation("platform", 1))


# Reversing a capture.


def test_a_full_refund_takes_back_exactly_what_each_payee_got() -> None:
    captured = (Allocation("school", 9_001), Allocation("platform", 1_000))

    assert allocate_refund(10_001, captured, {}) == captured


def test_a_partial_refund_takes_back_in_proportion_to_what_each_payee_holds() -> None:
    captured = (Allocation("school", 9_000), Allocation("platform", 1_000))

    assert allocate_refund(5_000, captured, {}) == (
        Allocation("school", 4_500),
        Allocation("platform", 500),
    )
    # After school gave back 8_000 of its 9_000, the two hold 1_000 each.
    assert allocate_refund(1_000, captured, {"school": 8_000}) == (
        Allocation("school", 500),
        Allocation("platform", 500),
    )


def test_a_payee_that_gave_everything_back_gives_nothing_more() -> None:
    captured = (Allocation("school", 9_000), Allocation("platform", 1_000))

    assert allocate_refund(500, captured, {"platform": 1_000}) == (Allocation("school", 500),)


# Properties.

payees = st.sampled_from(["platform", "school", "district", "club", "bus", "canteen"])


@st.composite
def instructions(draw: st.DrawFn) -> tuple[int, tuple[Split, ...]]:
    """An amount and valid splits for it: some fixed amounts, bps covering the rest."""
    amount = draw(st.integers(min_value=1, max_value=10**9))
    names = draw(st.lists(payees, min_size=1, max_size=6, unique=True))
    fixed_count = draw(st.integers(min_value=0, max_value=len(names)))
    fixed_names, bps_names = names[:fixed_count], names[fixed_count:]
    fixed: list[Split] = []
    left = amount
    for name in fixed_names:
        if left == 0:
            break
        share = draw(st.integers(min_value=1, max_value=left))
        fixed.append(Split(name, amount_minor=share))
        left -= share
    if not bps_names:
        if left:  # fixed amounts alone must cover the amount
            fixed.append(Split("rest", amount_minor=left))
        return amount, tuple(fixed)
    cuts = sorted(
        draw(
            st.lists(
                st.integers(min_value=1, max_value=BPS_WHOLE - 1),
                min_size=len(bps_names) - 1,
                max_size=len(bps_names) - 1,
                unique=True,
            )
        )
    )
    bounds = [0, *cuts, BPS_WHOLE]
    shared = [
        Split(n, bps=hi - lo) for n, lo, hi in zip(bps_names, bounds, bounds[1:], strict=False)
    ]
    splits = [*fixed, *shared]
    return amount, tuple(draw(st.permutations(splits)))


@settings(max_examples=300, deadline=None)
@given(instructions())
def test_allocation_never_loses_or_invents_a_cent(case: tuple[int, tuple[Split, ...]]) -> None:
    amount, splits = case
    check_splits(splits, amount)

    allocations = allocate(amount, splits, "default")

    assert sum(a.amount_minor for a in allocations) == amount
    assert all(a.amount_minor > 0 for a in allocations)
    assert len({a.payee for a in allocations}) == len(allocations)
    by_payee = amounts(allocations)
    rest = amount - sum(s.amount_minor for s in splits if s.amount_minor is not None)
    for split in splits:
        got = by_payee.get(split.payee, 0)
        if split.amount_minor is not None:
            assert got == split.amount_minor
        else:
            assert split.bps is not None
            exact = Fraction(rest * split.bps, BPS_WHOLE)
            assert abs(got - exact) < 1  # largest remainder: off by less than a cent


@st.composite
def capture_and_refunds(draw: st.DrawFn) -> tuple[tuple[Allocation, ...], list[int]]:
    amount, splits = draw(instructions())
    captured = allocate(amount, splits, "default")
    refunds: list[int] = []
    left = amount
    while left and len(refunds) < 8:
        refund = draw(st.integers(min_value=1, max_value=left))
        refunds.append(refund)
        left -= refund
    return captured, refunds


@settings(max_examples=300, deadline=None)
@given(capture_and_refunds())
def test_refunds_reverse_splits_in_proportion_and_never_take_more_than_a_payee_got(
    case: tuple[tuple[Allocation, ...], list[int]],
) -> None:
    captured, refunds = case
    got = amounts(captured)
    refunded: dict[str, int] = {}

    for refund in refunds:
        holding = {p: got[p] - refunded.get(p, 0) for p in got}
        parts = allocate_refund(refund, captured, refunded)

        assert sum(a.amount_minor for a in parts) == refund
        assert all(a.amount_minor > 0 for a in parts)
        for part in parts:
            assert part.amount_minor <= holding[part.payee]
            exact = Fraction(refund * holding[part.payee], sum(holding.values()))
            assert abs(part.amount_minor - exact) < 1
            refunded[part.payee] = refunded.get(part.payee, 0) + part.amount_minor

    assert all(refunded.get(p, 0) <= got[p] for p in got)
    if sum(refunds) == sum(got.values()):
        assert refunded == got  # refunded in full: each payee gave back exactly its share
