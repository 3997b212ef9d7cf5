"""JournalTransaction: every movement of money is a balanced set of postings."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import UnbalancedTransactionError
from domain.ids import system_account_id, wallet_id
from domain.journal import (
    EXTERNAL_FUNDING,
    POSTINGS_MAX,
    SYSTEM_ACCOUNTS,
    JournalTransaction,
    Posting,
    check_balanced,
    system_posting,
    wallet_posting,
)

pytestmark = pytest.mark.unit

ALICE = wallet_id("alice", "USD")


def record(postings: tuple[Posting, ...]) -> JournalTransaction:
    return JournalTransaction.record(uuid4(), "credit", postings, "top up", "digest")


def test_records_a_balanced_transaction_with_its_postings() -> None:
    transaction_id = uuid4()
    postings = (
        system_posting(EXTERNAL_FUNDING, -2500, "USD"),
        wallet_posting(ALICE, "alice", 2500, "USD", 2500),
    )

    journal = JournalTransaction.record(
        transaction_id, "credit", postings, "top up", "digest", reference="ref-1"
    )

    assert journal.id == transaction_id
    assert journal.postings == postings
    assert (journal.kind, journal.description, journal.request_digest, journal.reference) == (
        "credit",
        "top up",
        "digest",
        "ref-1",
    )
    assert [type(e) for e in journal.collect_events()] == [JournalTransaction.Recorded]


def test_rejects_postings_that_do_not_sum_to_zero() -> None:
    postings = (
        system_posting(EXTERNAL_FUNDING, -2500, "USD"),
        wallet_posting(ALICE, "alice", 2499, "USD", 2499),
    )

    with pytest.raises(UnbalancedTransactionError) as caught:
        record(postings)

    assert caught.value.code == "unbalanced_transaction"


def test_rejects_a_zero_posting_even_when_the_rest_balances() -> None:
    postings = (
        system_posting(EXTERNAL_FUNDING, -10, "USD"),
        wallet_posting(ALICE, "alice", 10, "USD", 10),
        wallet_posting(wallet_id("bob", "USD"), "bob", 0, "USD", 0),
    )

    with pytest.raises(UnbalancedTransactionError, match="zero"):
        check_balanced(postings)


@pytest.mark.parametrize("count", [0, 1, POSTINGS_MAX + 2])
def test_rejects_too_few_or_too_many_postings(count: int) -> None:
    # Pairs of +1/-1 (plus one odd leg) so only the count is wrong where it can be.
    legs = [system_posting(EXTERNAL_FUNDING, 1 if i % 2 else -1, "USD") for i in range(count)]

    with pytest.raises(UnbalancedTransactionError, match="postings"):
        check_balanced(tuple(legs))


def test_accepts_the_largest_allowed_number_of_postings() -> None:
    legs = [system_posting(EXTERNAL_FUNDING, 1 if i % 2 else -1, "USD") for i in range(64)]

    check_balanced(tuple(legs))


def test_accepts_a_transaction_balanced_in_each_of_two_currencies() -> None:
    postings = (
        system_posting(EXTERNAL_FUNDING, -100, "USD"),
        wallet_posting(ALICE, "alice", 100, "USD", 100),
        system_posting(EXTERNAL_FUNDING, -3, "JPY"),
        wallet_posting(wallet_id("alice", "JPY"), "alice", 3, "JPY", 3),
    )

    assert record(postings).postings == postings


def test_rejects_currencies_that_only_balance_each_other() -> None:
    # +100 USD and -100 JPY sum to zero as numbers but are not a balanced exchange.
    postings = (
        wallet_posting(ALICE, "alice", 100, "USD", 100),
        wallet_posting(wallet_id("alice", "JPY"), "alice", -100, "JPY", -100),
    )

    with pytest.raises(UnbalancedTransactionError, match="USD"):
        record(postings)


def test_system_postings_are_marked_as_system_and_named_per_currency() -> None:
    usd = system_posting(EXTERNAL_FUNDING, -1, "USD")
    eur = system_posting(EXTERNAL_FUNDING, -1, "EUR")

    assert usd.is_system
    assert usd.account_code == "system:external_funding"
    assert usd.account_id == system_account_id(EXTERNAL_FUNDING, "USD")
    assert usd.account_id != eur.account_id
    assert usd.balance_after_minor is None


def test_wallet_postings_are_not_system_postings_and_carry_the_balance_after() -> None:
    posting = wallet_posting(ALICE, "alice", 5, "USD", 42)

    assert not posting.is_system
    assert posting.account_code == "wallet:alice"
    assert posting.balance_after_minor == 42


def test_system_account_ids_are_distinct() -> None:
    ids = {system_account_id(name, "USD") for name in SYSTEM_ACCOUNTS}
    assert len(ids) == len(SYSTEM_ACCOUNTS)
