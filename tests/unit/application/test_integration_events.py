"""Integration event contracts: mapped from domain events, encoded, decoded, schema current."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest

from application import integration_events as ie
from application.integration_mapping import to_integration_event
from domain.account import Account
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.registration import Registration
from domain.splits import Split

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SCHEMA_PATH = Path(__file__).parents[3] / "docs" / "events.schema.json"


def published(aggregate: object) -> list[ie.IntegrationEvent]:
    events = aggregate.collect_events()  # type: ignore[attr-defined]
    mapped = [to_integration_event(e, position) for position, e in enumerate(events, 1)]
    return [m for m in mapped if m is not None]


def test_wallet_postings_become_credited_and_debited_with_positive_amounts() -> None:
    wallet = Account.open("alice", "USD")
    wallet.credit(2500, "USD", uuid4(), "deposit", "top-up")
    wallet.debit(1000, "USD", uuid4(), "withdrawal", "cash", NOW)
    opened, credited, debited = published(wallet)
    assert isinstance(opened, ie.WalletOpened)
    assert opened.customer_id == "alice"
    assert isinstance(credited, ie.WalletCredited)
    assert (credited.amount_minor, credited.balance_after_minor) == (2500, 2500)
    assert isinstance(debited, ie.WalletDebited)
    assert (debited.amount_minor, debited.balance_after_minor) == (1000, 1500)
    assert ie.subject_of(debited) == "payledger.wallets.debited"
    assert [e.id for e in (opened, credited, debited)] == [
        f"{wallet.id}:1",
        f"{wallet.id}:2",
        f"{wallet.id}:3",
    ]
    assert [e.position for e in (opened, credited, debited)] == [1, 2, 3]


def test_a_payment_maps_without_card_data_and_round_trips_through_json() -> None:
    payment = Payment.create(
        uuid4(),
        "alice",
        "shop",
        1000,
        "USD",
        PaymentMethod.CARD,
        "shoes",
        (Split("shop", bps=10_000),),
        "digest",
        NOW,
        card_token="tok_secret_4242",
        card_brand="visa",
        card_last4="4242",
    )
    payment.start_processing("key-1", NOW)
    payment.succeed(uuid4(), "ch_1", NOW)
    created, processing, succeeded = published(payment)
    assert isinstance(created, ie.PaymentCreated)
    assert created.splits == [ie.SplitPart("shop", 10_000, None)]
    body = ie.encode(created)
    assert b"tok_secret" not in body
    assert b"digest" not in body
    assert json.loads(body)["type"] == "payments.created"
    assert ie.decode(body) == created
    assert isinstance(processing, ie.PaymentProcessing)
    assert isinstance(succeeded, ie.PaymentSucceeded)
    assert succeeded.gateway_reference == "ch_1"
    assert ie.subject_of(succeeded) == "payledger.payments.succeeded"


def test_a_rejected_payment_is_published_as_failed_not_retryable() -> None:
    payment = Payment.create(
        uuid4(), "alice", "shop", 1000, "USD", PaymentMethod.CARD, "", (), "d", NOW
    )
    payment.reject("FRAUD_SUSPECTED", NOW)
    _, failed = published(payment)
    assert isinstance(failed, ie.PaymentFailed)
    assert (failed.reason, failed.retryable) == ("FRAUD_SUSPECTED", False)


def test_a_registration_maps_without_the_students_name() -> None:
    registration = Registration.book(uuid4(), uuid4(), "parent", "Ada Pupil", 5000, "USD", NOW)
    payment_id = uuid4()
    registration.attach_payment(payment_id, NOW)
    registration.confirm(payment_id, NOW)
    booked, confirmed = published(registration)  # attaching a payment is not published
    assert isinstance(booked, ie.RegistrationBooked)
    assert b"Ada" not in ie.encode(booked)
    assert isinstance(confirmed, ie.RegistrationConfirmed)
    assert confirmed.payment_id == payment_id
    assert ie.subject_of(confirmed) == "payledger.registrations.confirmed"


def test_an_unknown_type_is_refused_on_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        ie.decode(b'{"type":"payments.teleported","id":"x","position":1}')


def test_every_contract_has_a_distinct_type_and_is_in_the_union() -> None:
    types = [contract.__struct_config__.tag for contract in ie.CONTRACTS]
    assert len(set(types)) == len(types) == len(ie.CONTRACTS)
    schema = ie.json_schema()
    assert set(schema["$defs"]) >= {c.__name__ for c in ie.CONTRACTS}


def test_the_checked_in_schema_is_current() -> None:
    """Regenerate with `uv run payledger events schema > docs/events.schema.json`."""
    current = json.loads(SCHEMA_PATH.read_text())
    assert current == ie.json_schema()


def test_the_readme_shows_one_valid_example_per_contract() -> None:
    readme = (SCHEMA_PATH.parents[1] / "README.md").read_text()
    block = readme.split("```jsonl\n", 1)[1].split("```", 1)[0]
    examples = [ie.decode(line.encode()) for line in block.strip().splitlines()]
    assert {type(example) for example in examples} == set(ie.CONTRACTS)
    for example in examples:
        assert f"`{ie.subject_of(example)}`" in readme
