"""Split instructions: dividing a captured amount between payees with no cent lost."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidSplitError

BPS_WHOLE = 10_000
SPLITS_MAX = 16
PAYEE_LENGTH_MAX = 200


@dataclass(frozen=True)
class Split:
    """A payee's share: a fixed amount of minor units or basis points (1/100 of a percent)
    of what is left after the fixed amounts."""

    payee: str
    bps: int | None = None
    amount_minor: int | None = None


@dataclass(frozen=True)
class Allocation:
    """Minor units that went (or go back) to one payee."""

    payee: str
    amount_minor: int


def check_splits(splits: tuple[Split, ...], amount_minor: int) -> None:
    """Fixed amounts fit in the total; basis points cover exactly the rest."""
    if not splits:
        return
    if len(splits) > SPLITS_MAX:
        raise InvalidSplitError(f"At most {SPLITS_MAX} splits.")
    payees = [s.payee for s in splits]
    if len(set(payees)) != len(payees) or not all(0 < len(p) <= PAYEE_LENGTH_MAX for p in payees):
        raise InvalidSplitError("Each split needs a distinct payee of 1 to 200 characters.")
    fixed = 0
    bps_total = 0
    for split in splits:
        if (split.bps is None) == (split.amount_minor is None):
            raise InvalidSplitError(f"Split {split.payee!r} needs either bps or amount.")
        if split.amount_minor is not None:
            if isinstance(split.amount_minor, bool) or split.amount_minor <= 0:
                raise InvalidSplitError("A fixed split amount must be positive.")
            fixed += split.amount_minor
        elif split.bps is not None:
            if isinstance(split.bps, bool) or not 0 < split.bps <= BPS_WHOLE:
                raise InvalidSplitError("Basis points must be between 1 and 10000.")
            bps_total += split.bps
    if fixed > amount_minor:
        raise InvalidSplitError("Fixed split amounts exceed the payment amount.")
    if bps_total not in (0, BPS_WHOLE):
        raise InvalidSplitError("Basis points must add up to 10000.")
    if bps_total == 0 and fixed != amount_minor:
        raise InvalidSplitError("Fixed amounts must add up to the amount when no split has bps.")


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Divide `total` in proportion to `weights`; leftover units go to the largest remainders
    (ties to the earlier entry), so the parts always add up to `total` exactly."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    leftover = total - sum(parts)
    for _, negative_index in sorted(remainders, reverse=True)[:leftover]:
        parts[-negative_index] += 1
    return parts


def allocate(
    amount_minor: int, splits: tuple[Split, ...], default_payee: str
) -> tuple[Allocation, ...]:
    """Who gets what of a captured amount. No splits: all of it to the default payee."""
    if not splits:
        return (Allocation(default_payee, amount_minor),)
    fixed = {s.payee: s.amount_minor for s in splits if s.amount_minor is not None}
    rest = amount_minor - sum(a for a in fixed.values() if a is not None)
    shared = [s for s in splits if s.bps is not None]
    shares = _largest_remainder(rest, [s.bps or 0 for s in shared])
    by_payee = {s.payee: share for s, share in zip(shared, shares, strict=True)}
    allocations = tuple(
        Allocation(s.payee, fixed.get(s.payee) or by_payee.get(s.payee, 0)) for s in splits
    )
    assert sum(a.amount_minor for a in allocations) == amount_minor
    return tuple(a for a in allocations if a.amount_minor > 0)


def allocate_refund(
    amount_minor: int, captured: tuple[Allocation, ...], refunded: dict[str, int]
) -> tuple[Allocation, ...]:
    """Take a refund back from payees in proportion to what each still holds of the capture,
    so no payee ever gives back more than it received and the parts add up exactly."""
    remaining = [a.amount_minor - refunded.get(a.payee, 0) for a in captured]
    assert amount_minor <= sum(remaining)
    parts = _largest_remainder(amount_minor, remaining)
    assert all(p <= r for p, r in zip(parts, remaining, strict=True))
    return tuple(Allocation(a.payee, p) for a, p in zip(captured, parts, strict=True) if p > 0)
