"""verify_stripe_event: Stripe's webhook signature scheme over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from adapters.gateways.stripe_webhooks import (
    GatewayEvent,
    WebhookSignatureError,
    verify_stripe_event,
)
from tests.support.fake_stripe import sign_webhook, stripe_event

pytestmark = pytest.mark.integration

SECRET = "whsec_test_secret"
NOW = 1_800_000_000
INTENT = {"id": "pi_123", "object": "payment_intent", "metadata": {"idempotency_key": "p:1"}}
PAYLOAD = stripe_event("evt_1", "payment_intent.succeeded", INTENT)


def rejected_reason(payload: bytes, header: str | None, secret: str = SECRET) -> str:
    with pytest.raises(WebhookSignatureError) as error:
        verify_stripe_event(payload, header, secret, now_s=NOW)
    return error.value.reason


def test_accepts_a_valid_signature_and_returns_the_event() -> None:
    event = verify_stripe_event(PAYLOAD, sign_webhook(PAYLOAD, SECRET, NOW), SECRET, now_s=NOW)
    assert event == GatewayEvent("evt_1", "payment_intent.succeeded", INTENT)


def test_accepts_a_fresh_signature_against_the_real_clock() -> None:
    event = verify_stripe_event(PAYLOAD, sign_webhook(PAYLOAD, SECRET), SECRET)
    assert event.id == "evt_1"


def test_accepts_any_one_matching_v1_signature_as_during_secret_rotation() -> None:
    header = sign_webhook(PAYLOAD, SECRET, NOW)
    old = sign_webhook(PAYLOAD, "whsec_old", NOW).split(",")[1]
    assert verify_stripe_event(PAYLOAD, f"{header},{old}", SECRET, now_s=NOW).id == "evt_1"
    assert verify_stripe_event(PAYLOAD, f"t={NOW},{old},{header.split(',')[1]}", SECRET, now_s=NOW)


def test_verifies_our_own_hmac_of_the_scheme() -> None:
    digest = hmac.new(SECRET.encode(), f"{NOW}.".encode() + PAYLOAD, hashlib.sha256).hexdigest()
    assert verify_stripe_event(PAYLOAD, f"t={NOW},v1={digest}", SECRET, now_s=NOW).id == "evt_1"


def test_rejects_a_tampered_body() -> None:
    header = sign_webhook(PAYLOAD, SECRET, NOW)
    tampered = PAYLOAD.replace(b"pi_123", b"pi_999")
    assert rejected_reason(tampered, header) == "bad_signature"
    assert rejected_reason(PAYLOAD + b" ", header) == "bad_signature"


def test_rejects_a_signature_made_with_another_secret() -> None:
    assert rejected_reason(PAYLOAD, sign_webhook(PAYLOAD, "whsec_other", NOW)) == "bad_signature"


def test_rejects_a_timestamp_swapped_into_a_valid_signature() -> None:
    signature = sign_webhook(PAYLOAD, SECRET, NOW - 1000).split(",")[1]
    assert rejected_reason(PAYLOAD, f"t={NOW},{signature}") == "bad_signature"


@pytest.mark.parametrize("age_s", [301, 3600, -301])
def test_rejects_a_timestamp_outside_the_tolerance(age_s: int) -> None:
    assert rejected_reason(PAYLOAD, sign_webhook(PAYLOAD, SECRET, NOW - age_s)) == "stale_timestamp"


@pytest.mark.parametrize("age_s", [300, 0, -300])
def test_accepts_a_timestamp_within_the_tolerance(age_s: int) -> None:
    header = sign_webhook(PAYLOAD, SECRET, NOW - age_s)
    assert verify_stripe_event(PAYLOAD, header, SECRET, now_s=NOW).id == "evt_1"


def test_tolerance_is_configurable_and_must_be_positive() -> None:
    header = sign_webhook(PAYLOAD, SECRET, NOW - 60)
    with pytest.raises(WebhookSignatureError, match="stale_timestamp"):
        verify_stripe_event(PAYLOAD, header, SECRET, tolerance_s=30, now_s=NOW)
    with pytest.raises(ValueError, match="tolerance_s"):
        verify_stripe_event(PAYLOAD, header, SECRET, tolerance_s=0, now_s=NOW)


@pytest.mark.parametrize("header", [None, ""])
def test_rejects_a_missing_header(header: str | None) -> None:
    assert rejected_reason(PAYLOAD, header) == "missing_header"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "t=notanumber,v1=abc",
        "v1=abc",
        f"t={NOW}",
        f"t={NOW},v0=abc",
        f"t={NOW},t={NOW},v1=abc",
        f"t={NOW},v1=",
        f"t={NOW}," + ",".join(["v1=abc"] * 20),
    ],
)
def test_rejects_a_malformed_header(header: str) -> None:
    assert rejected_reason(PAYLOAD, header) == "malformed_header"


def test_rejects_when_no_secret_is_configured() -> None:
    assert (
        rejected_reason(PAYLOAD, sign_webhook(PAYLOAD, SECRET, NOW), secret="") == "missing_secret"
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"id": "evt_1", "type": "x"}',
        b'{"id": 1, "type": "x", "data": {"object": {}}}',
    ],
)
def test_rejects_a_validly_signed_body_that_is_not_an_event(payload: bytes) -> None:
    assert rejected_reason(payload, sign_webhook(payload, SECRET, NOW)) == "bad_payload"


def test_rejects_a_body_that_is_not_utf8() -> None:
    assert rejected_reason(b"\xff\xfe", f"t={NOW},v1=abc") == "bad_payload"


def test_real_clock_rejects_a_stale_delivery() -> None:
    header = sign_webhook(PAYLOAD, SECRET, int(time.time()) - 301)
    with pytest.raises(WebhookSignatureError, match="stale_timestamp"):
        verify_stripe_event(PAYLOAD, header, SECRET)
