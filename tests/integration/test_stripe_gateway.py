"""StripePaymentGateway through the real SDK against a local fake Stripe HTTP server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from adapters.gateways.stripe_gateway import (
    KEY_METADATA_FIELD,
    StripeCheckoutError,
    StripePaymentGateway,
)
from application.errors import CardRejectedError
from application.ports.gateway import (
    CARD_DECLINED,
    EXPIRED_CARD,
    GATEWAY_UNAVAILABLE,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    PROCESSING_ERROR,
    Card,
    ChargeRequest,
    PaymentGateway,
    RefundRequest,
)
from tests.support.fake_stripe import API_KEY, FakeStripe, running_fake_stripe

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT_S = 0.5
INTENTS = "/v1/payment_intents"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as server:
        yield server


@pytest.fixture
def gateway(fake: FakeStripe) -> StripePaymentGateway:
    return StripePaymentGateway(API_KEY, api_base=fake.base_url, timeout_s=CLIENT_TIMEOUT_S)


def charge_request(
    token: str = "pm_card_visa", key: str = "pay-1:1", amount: int = 2500
) -> ChargeRequest:
    return ChargeRequest(amount, "USD", token, key, "order 42")


def test_is_a_payment_gateway(gateway: StripePaymentGateway) -> None:
    port: PaymentGateway = gateway
    assert port.name == "stripe"


def test_constructor_requires_a_key_and_positive_limits() -> None:
    with pytest.raises(ValueError, match="API key"):
        StripePaymentGateway("")
    with pytest.raises(ValueError, match="timeout_s"):
        StripePaymentGateway(API_KEY, timeout_s=0)
    with pytest.raises(ValueError, match="max_network_retries"):
        StripePaymentGateway(API_KEY, max_network_retries=-1)
    assert API_KEY not in repr(StripePaymentGateway(API_KEY))


# --- tokenize -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "token", "brand"),
    [
        ("4242424242424242", "pm_card_visa", "visa"),
        ("5555555555554444", "pm_card_mastercard", "mastercard"),
        ("378282246310005", "pm_card_amex", "amex"),
        ("4000000000000002", "pm_card_chargeDeclined", "visa"),
        ("4000000000009995", "pm_card_chargeDeclinedInsufficientFunds", "visa"),
        ("4000000000000069", "pm_card_chargeDeclinedExpiredCard", "visa"),
        ("4000000000000119", "pm_card_chargeDeclinedProcessingError", "visa"),
    ],
)
def test_tokenize_maps_stripe_test_numbers_to_test_payment_methods_without_a_request(
    gateway: StripePaymentGateway, fake: FakeStripe, number: str, token: str, brand: str
) -> None:
    result = gateway.tokenize(Card(number, 12, 2030, "123"))
    assert (result.token, result.brand, result.last4) == (token, brand, number[-4:])
    assert fake.requests("/v1/payment_methods") == 0


def test_tokenize_creates_a_payment_method_for_other_cards(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    result = gateway.tokenize(Card("4111 1111 1111 1111", 12, 2030, "123"))
    assert result.token.startswith("pm_fake_")
    assert (result.brand, result.last4) == ("visa", "1111")
    assert fake.requests("/v1/payment_methods") == 1
    charged = gateway.charge(charge_request(result.token))
    assert charged.outcome == "succeeded"


def test_tokenize_rejects_a_bad_card_locally(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    with pytest.raises(CardRejectedError) as rejected:
        gateway.tokenize(Card("4111111111111112", 12, 2030))
    assert rejected.value.reason == INVALID_CARD
    with pytest.raises(CardRejectedError) as expired:
        gateway.tokenize(Card("4111111111111111", 1, 2020))
    assert expired.value.reason == EXPIRED_CARD
    assert fake.requests("/v1/payment_methods") == 0


def test_tokenize_reports_an_outage_as_gateway_unavailable(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    fake.fail_next(1, 500)
    with pytest.raises(CardRejectedError) as rejected:
        gateway.tokenize(Card("4111111111111111", 12, 2030))
    assert rejected.value.reason == GATEWAY_UNAVAILABLE
    assert "4111111111111111" not in str(rejected.value)


def test_card_details_never_reach_the_logs(
    gateway: StripePaymentGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="stripe"):
        gateway.tokenize(Card("4111111111111111", 12, 2030, "987"))
    posted = [r.getMessage() for r in caplog.records if "Post details" in r.getMessage()]
    assert posted, "the SDK logged no request body: the test proves nothing"
    assert "[redacted]" in posted[0]
    assert "4111111111111111" not in caplog.text
    assert "987" not in posted[0]


# --- charge ---------------------------------------------------------------------------------


def test_charge_succeeds_and_sends_our_key(gateway: StripePaymentGateway, fake: FakeStripe) -> None:
    result = gateway.charge(charge_request())
    assert result.outcome == "succeeded"
    assert result.reference.startswith("pi_fake_")
    intent = fake.payment_intent(result.reference)
    assert (intent["amount"], intent["currency"]) == (2500, "usd")
    assert intent["metadata"] == {KEY_METADATA_FIELD: "pay-1:1"}
    assert fake.executions("pay-1:1") == 1


@pytest.mark.parametrize(
    ("token", "failure_code"),
    [
        ("pm_card_chargeDeclined", CARD_DECLINED),
        ("pm_card_chargeDeclinedInsufficientFunds", INSUFFICIENT_FUNDS),
        ("pm_card_chargeDeclinedExpiredCard", EXPIRED_CARD),
        ("pm_card_chargeDeclinedProcessingError", PROCESSING_ERROR),
        ("pm_card_chargeDeclinedIncorrectCvc", INVALID_CARD),
    ],
)
def test_declines_map_to_failure_codes(
    gateway: StripePaymentGateway, fake: FakeStripe, token: str, failure_code: str
) -> None:
    result = gateway.charge(charge_request(token))
    assert (result.outcome, result.failure_code) == ("failed", failure_code)
    assert fake.payment_intent(result.reference)["status"] == "requires_payment_method"
    assert result.message


@pytest.mark.parametrize(
    ("code", "decline_code", "failure_code"),
    [
        ("card_declined", "lost_card", CARD_DECLINED),
        ("card_declined", "insufficient_funds", INSUFFICIENT_FUNDS),
        ("incorrect_number", None, INVALID_CARD),
        ("invalid_number", None, INVALID_CARD),
        ("expired_card", None, EXPIRED_CARD),
        ("something_new", None, CARD_DECLINED),
    ],
)
def test_decline_codes_map_by_decline_code_then_code(
    gateway: StripePaymentGateway,
    fake: FakeStripe,
    code: str,
    decline_code: str | None,
    failure_code: str,
) -> None:
    fake.decline("pm_card_visa", code, decline_code)
    assert gateway.charge(charge_request()).failure_code == failure_code


def test_unknown_payment_method_fails_as_invalid_card(gateway: StripePaymentGateway) -> None:
    result = gateway.charge(charge_request("pm_does_not_exist"))
    assert (result.outcome, result.failure_code) == ("failed", INVALID_CARD)


def test_replay_with_the_same_key_returns_the_same_payment_intent(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    first = gateway.charge(charge_request())
    second = gateway.charge(charge_request())
    assert second == first
    assert fake.requests(INTENTS) == 2
    assert fake.executions("pay-1:1") == 1
    assert len(fake.payment_intent_ids()) == 1


def test_timeout_is_unknown_and_a_retry_with_the_same_key_charges_once(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    fake.hang_first_call("pay-1:1", delay_s=CLIENT_TIMEOUT_S * 3)
    first = gateway.charge(charge_request())
    assert first.outcome == "unknown"
    # Stripe is still executing the first request: a same-key retry gets a 409 (still unknown).
    assert gateway.charge(charge_request()).outcome == "unknown"
    fake.wait_idle()
    settled = gateway.charge(charge_request())
    assert settled.outcome == "succeeded"
    assert fake.payment_intent_ids() == [settled.reference]
    assert fake.executions("pay-1:1") == 1


def test_server_error_is_unknown_and_stripe_replays_it_for_the_same_key(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    fake.fail_next(1, 500)
    assert gateway.charge(charge_request()).outcome == "unknown"
    # Stripe saves a 500 under the key: the same key stays unknown (the webhook settles it),
    # and nothing is charged twice.
    assert gateway.charge(charge_request()).outcome == "unknown"
    assert fake.executions("pay-1:1") == 1
    assert fake.payment_intent_ids() == []


def test_rate_limit_is_unknown_and_the_same_key_then_charges(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    fake.fail_next(1, 429)
    assert gateway.charge(charge_request()).outcome == "unknown"
    assert gateway.charge(charge_request()).outcome == "succeeded"
    assert fake.executions("pay-1:1") == 1


def test_same_key_with_other_parameters_is_unknown_not_failed(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    first = gateway.charge(charge_request(amount=2500))
    clash = gateway.charge(charge_request(amount=9900))
    assert first.outcome == "succeeded"
    assert clash.outcome == "unknown"  # the first request with this key did charge
    assert "IdempotencyError" in clash.message
    assert len(fake.payment_intent_ids()) == 1


def test_wrong_api_key_is_unknown(fake: FakeStripe) -> None:
    gateway = StripePaymentGateway("sk_test_wrong", api_base=fake.base_url, timeout_s=1.0)
    result = gateway.charge(charge_request())
    assert (result.outcome, result.reference) == ("unknown", "")
    assert "AuthenticationError" in result.message
    assert fake.payment_intent_ids() == []


def test_unreachable_stripe_is_unknown() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = StripePaymentGateway(API_KEY, api_base=f"http://127.0.0.1:{port}", timeout_s=1.0)
    result = gateway.charge(charge_request())
    assert result.outcome == "unknown"
    assert "APIConnectionError" in result.message


def test_sdk_retries_a_connection_error_with_the_same_key_when_allowed(fake: FakeStripe) -> None:
    fake.hang_first_call("pay-1:1", delay_s=CLIENT_TIMEOUT_S * 2)
    gateway = StripePaymentGateway(
        API_KEY, api_base=fake.base_url, timeout_s=CLIENT_TIMEOUT_S, max_network_retries=3
    )
    result = gateway.charge(charge_request())
    assert result.outcome == "succeeded"
    assert fake.executions("pay-1:1") == 1


# --- refund ---------------------------------------------------------------------------------


def test_refund_succeeds_and_replays(gateway: StripePaymentGateway, fake: FakeStripe) -> None:
    charged = gateway.charge(charge_request())
    request = RefundRequest(charged.reference, 1000, "USD", "refund-1")
    first = gateway.refund(request)
    assert first.outcome == "succeeded"
    assert first.reference.startswith("re_fake_")
    assert gateway.refund(request) == first
    assert fake.executions("refund-1") == 1


def test_refund_beyond_the_charge_fails(gateway: StripePaymentGateway) -> None:
    charged = gateway.charge(charge_request(amount=1000))
    assert (
        gateway.refund(RefundRequest(charged.reference, 600, "USD", "r-1")).outcome == "succeeded"
    )
    result = gateway.refund(RefundRequest(charged.reference, 600, "USD", "r-2"))
    assert (result.outcome, result.failure_code) == ("failed", PROCESSING_ERROR)
    assert "amount_too_large" in result.message


def test_refund_of_an_unknown_payment_fails(gateway: StripePaymentGateway) -> None:
    result = gateway.refund(RefundRequest("pi_missing", 100, "USD", "r-1"))
    assert (result.outcome, result.failure_code) == ("failed", PROCESSING_ERROR)


def test_refund_during_an_outage_is_unknown(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    charged = gateway.charge(charge_request())
    fake.fail_next(1, 500)
    assert gateway.refund(RefundRequest(charged.reference, 100, "USD", "r-1")).outcome == "unknown"


# --- checkout -------------------------------------------------------------------------------


def test_checkout_session_is_created_once_per_key(
    gateway: StripePaymentGateway, fake: FakeStripe
) -> None:
    args = (5000, "EUR", "http://shop.test/checkout/success", "http://shop.test/checkout/cancel")
    session = gateway.create_checkout_session(*args, "checkout:1")
    assert session.id.startswith("cs_test_fake_")
    assert session.url.endswith(session.id)
    assert gateway.create_checkout_session(*args, "checkout:1") == session
    assert fake.executions("checkout:1") == 1


def test_checkout_session_failure_raises(gateway: StripePaymentGateway, fake: FakeStripe) -> None:
    fake.fail_next(1, 500)
    with pytest.raises(StripeCheckoutError, match="APIError"):
        gateway.create_checkout_session(5000, "EUR", "http://s", "http://c", "checkout:1")
