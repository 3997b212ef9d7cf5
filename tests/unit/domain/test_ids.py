"""Deterministic ids: the same inputs always name the same aggregate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ids import PAYLEDGER_NAMESPACE, idempotent_id, system_account_id, wallet_id

pytestmark = pytest.mark.unit


def test_ids_are_stable_across_releases() -> None:
    # Pinned values: changing the namespace or the name format would orphan stored aggregates.
    assert str(PAYLEDGER_NAMESPACE) == "6f1c3f0e-8a51-5b7e-9a53-2d4f1c0b7e10"
    assert wallet_id("alice", "USD") == wallet_id("alice", "USD")
    assert wallet_id("alice", "USD").version == 5
    assert str(wallet_id("alice", "USD")) == "aff2cd1f-8fd7-55a9-b05f-817c01d78523"


def test_a_customer_has_one_wallet_id_per_currency() -> None:
    assert wallet_id("alice", "USD") != wallet_id("alice", "EUR")
    assert wallet_id("alice", "USD") != wallet_id("bob", "USD")


def test_system_wallet_and_idempotency_ids_do_not_collide() -> None:
    ids = {
        wallet_id("external_funding", "USD"),
        system_account_id("external_funding", "USD"),
        idempotent_id("external_funding", "USD"),
    }
    assert len(ids) == 3


def test_an_idempotency_key_is_scoped() -> None:
    assert idempotent_id("alice", "key-1") == idempotent_id("alice", "key-1")
    assert idempotent_id("alice", "key-1") != idempotent_id("bob", "key-1")
    assert idempotent_id("", "key-1") != idempotent_id("", "key-2")


@given(customers=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=2, unique=True))
def test_different_customers_never_share_a_wallet_id(customers: list[str]) -> None:
    first, second = customers
    assert wallet_id(first, "USD") != wallet_id(second, "USD")


def test_different_scope_and_key_pairs_never_share_an_id() -> None:
    assert idempotent_id("alice:x", "key") != idempotent_id("alice", "x:key")
