"""Tests for adapters.gateways.simulated.SimulatedPaymentGateway (the legacy system)."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from adapters.gateways import simulated
from adapters.gateways.simulated import SimulatedPaymentGateway
from adapters.gateways.simulated_checkout import SESSION_TTL_S, SimulatedCheckoutSessions
from application.errors import CardRejectedError
from application.ports.gateway import (
    CARD_DECLINED,
    CHECKOUT_CANCELLED,
    CHECKOUT_EXPIRED,
    EXPIRED_CARD,
    GATEWAY_UNAVAILABLE,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    PROCESSING_ERROR,
    Card,
    ChargeRequest,
    ChargeResult,
    PaymentGateway,
    RefundRequest,
)

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 15)
FUTURE = (12, 2030)


def gateway(
    failure_rate: float = 0.2,
    seed: int = 0,
    latency_s: float = 0.0,
    checkout_base_url: str = "http://127.0.0.1:8000/simulated-gateway",
) -> SimulatedPaymentGateway:
    """A gateway whose calendar stands still on TODAY."""
    return SimulatedPaymentGateway(
        failure_rate, seed, latency_s, checkout_base_url, today=lambda: TODAY
    )


def card(number: str, exp_month: int = FUTURE[0], exp_year: int = FUTURE[1]) -> Card:
    return Card(number, exp_month, exp_year, "123")


def charge(
    gw: SimulatedPaymentGateway, number: str, key: str = "key-1", amount_minor: int = 1000
) -> ChargeResult:
    token = gw.tokenize(card(number)).token
    return gw.charge(ChargeRequest(amount_minor, "USD", token, key))


def test_is_a_payment_gateway() -> None:
    port: PaymentGateway = gateway()
    assert port.name == "simulated"


# --- the test cards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "outcome", "failure_code"),
    [
        ("4242424242424242", "succeeded", ""),
        ("5555555555554444", "succeeded", ""),
        ("378282246310005", "succeeded", ""),
        ("6011111111111117", "succeeded", ""),
        ("4000000000000002", "failed", CARD_DECLINED),
        ("4000000000009995", "failed", INSUFFICIENT_FUNDS),
        ("4000000000000069", "failed", EXPIRED_CARD),
        ("4000000000000119", "failed", PROCESSING_ERROR),
        ("4000000000000127", "failed", INVALID_CARD),
        ("4000000000005035", "failed", GATEWAY_UNAVAILABLE),
    ],
)
def test_test_cards_behave_like_stripes_whatever_the_failure_rate(
    number: str, outcome: str, failure_code: str
) -> None:
    for failure_rate in (0.0, 1.0):
        result = charge(gateway(failure_rate=failure_rate), number)
        assert (result.outcome, result.failure_code) == (outcome, failure_code)
        assert result.reference.startswith("sim_ch_")


def test_timeout_card_is_unknown_on_the_first_call_for_a_key_then_succeeds() -> None:
    gw = gateway()
    first = charge(gw, "4000000000000408", key="k")
    again = charge(gw, "4000000000000408", key="k")
    third = charge(gw, "4000000000000408", key="k")
    assert (first.outcome, first.reference) == ("unknown", "")
    assert again.outcome == third.outcome == "succeeded"
    assert again.reference == third.reference
    assert charge(gw, "4000000000000408", key="other").outcome == "unknown"


def test_timeout_card_memory_is_per_instance() -> None:
    api, worker = gateway(), gateway()
    assert charge(api, "4000000000000408", key="k").outcome == "unknown"
    assert charge(worker, "4000000000000408", key="k").outcome == "unknown"
    assert charge(worker, "4000000000000408", key="k").outcome == "succeeded"


def test_timeout_card_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulated, "TIMEOUT_KEYS_MAX", 2)
    gw = gateway()
    for key in ("a", "b", "c"):
        assert charge(gw, "4000000000000408", key=key).outcome == "unknown"
    assert charge(gw, "4000000000000408", key="c").outcome == "succeeded"
    assert charge(gw, "4000000000000408", key="a").outcome == "unknown"  # forgotten


def test_expired_test_card_tokenizes_and_is_declined_at_charge_time() -> None:
    gw = gateway()
    token = gw.tokenize(card("4000000000000069"))
    assert token.token == "pm_sim_expired_visa_0069"
    result = gw.charge(ChargeRequest(500, "USD", token.token, "k"))
    assert (result.outcome, result.failure_code) == ("failed", EXPIRED_CARD)


@pytest.mark.parametrize(
    ("token", "failure_code"),
    [
        ("pm_card_visa", ""),
        ("pm_card_chargeDeclined", CARD_DECLINED),
        ("pm_card_chargeDeclinedInsufficientFunds", INSUFFICIENT_FUNDS),
    ],
)
def test_accepts_stripes_test_payment_methods_as_tokens(token: str, failure_code: str) -> None:
    result = gateway(failure_rate=1.0).charge(ChargeRequest(500, "USD", token, "k"))
    assert result.failure_code == failure_code


@pytest.mark.parametrize("token", ["pm_sim_bogus_visa_4242", "tok_123", "", "pm_sim_ok_visa"])
def test_fails_a_token_it_never_issued_as_invalid_card(token: str) -> None:
    result = gateway().charge(ChargeRequest(500, "USD", token, "k"))
    assert (result.outcome, result.failure_code) == ("failed", INVALID_CARD)


def test_fails_a_charge_of_no_amount() -> None:
    result = charge(gateway(), "4242424242424242", amount_minor=0)
    assert (result.outcome, result.failure_code) == ("failed", PROCESSING_ERROR)


# --- tokenization ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "token", "brand"),
    [
        ("4242424242424242", "pm_sim_ok_visa_4242", "visa"),
        ("4242 4242-4242 4242", "pm_sim_ok_visa_4242", "visa"),
        ("4111111111111111", "pm_sim_draw_visa_1111", "visa"),
        ("4222222222222", "pm_sim_draw_visa_2222", "visa"),
        ("4000000000000000006", "pm_sim_draw_visa_0006", "visa"),
        ("5555555555554444", "pm_sim_ok_mastercard_4444", "mastercard"),
        ("2223003122003222", "pm_sim_draw_mastercard_3222", "mastercard"),
        ("378282246310005", "pm_sim_ok_amex_0005", "amex"),
        ("6011111111111117", "pm_sim_ok_discover_1117", "discover"),
        ("6500000000000002", "pm_sim_draw_discover_0002", "discover"),
        ("3530111333300000", "pm_sim_draw_unknown_0000", "unknown"),
        ("4000000000000408", "pm_sim_timeout_visa_0408", "visa"),
    ],
)
def test_tokens_describe_behaviour_brand_and_last4(number: str, token: str, brand: str) -> None:
    result = gateway().tokenize(card(number))
    assert (result.token, result.brand, result.last4) == (token, brand, token[-4:])


@pytest.mark.parametrize(
    ("number", "exp_month", "exp_year", "code"),
    [
        ("4242424242424241", 12, 2030, INVALID_CARD),  # Luhn
        ("411111111117", 12, 2030, INVALID_CARD),  # 12 digits, Luhn-valid
        ("40000000000000000002", 12, 2030, INVALID_CARD),  # 20 digits, Luhn-valid
        ("4242x24242424242", 12, 2030, INVALID_CARD),
        ("", 12, 2030, INVALID_CARD),
        ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", 12, 2030, INVALID_CARD),  # non-ASCII digits
        ("4242424242424242", 0, 2030, INVALID_CARD),
        ("4242424242424242", 13, 2030, INVALID_CARD),
        ("4242424242424242", 12, 2200, INVALID_CARD),
        ("4242424242424242", 10, 2026, EXPIRED_CARD),  # last month
        ("4242424242424242", 12, 2025, EXPIRED_CARD),
        ("4242424242424242", 1, 24, EXPIRED_CARD),  # two-digit year
    ],
)
def test_tokenize_rejects_bad_or_expired_cards_without_echoing_the_number(
    number: str, exp_month: int, exp_year: int, code: str
) -> None:
    with pytest.raises(CardRejectedError) as rejected:
        gateway().tokenize(Card(number, exp_month, exp_year))
    assert rejected.value.reason == code
    if number:
        assert number not in str(rejected.value)


@pytest.mark.parametrize(("exp_month", "exp_year"), [(11, 2026), (11, 26), (1, 2027)])
def test_tokenize_accepts_a_card_expiring_this_month_or_later(
    exp_month: int, exp_year: int
) -> None:
    assert gateway().tokenize(Card("4242424242424242", exp_month, exp_year)).last4 == "4242"


def test_never_keeps_or_shows_a_card_number() -> None:
    gw = gateway()
    numbers = ["4242424242424242", "4111111111111111", "378282246310005", "4000000000000408"]
    tokens = [gw.tokenize(card(number)) for number in numbers]
    charge(gw, "4000000000000408")
    for number in numbers:
        assert number not in repr(gw)
        assert number not in repr(vars(gw))
        assert number not in repr(card(number))
        assert all(number not in repr(token) for token in tokens)


# --- the seeded draw ------------------------------------------------------------------------


def draw_outcomes(gw: SimulatedPaymentGateway, keys: range) -> list[str]:
    token = gw.tokenize(card("4111111111111111")).token
    return [gw.charge(ChargeRequest(100, "USD", token, f"key-{i}")).outcome for i in keys]


def test_same_key_gives_the_same_answer_in_every_instance_with_the_same_seed() -> None:
    first = draw_outcomes(gateway(seed=7), range(300))
    assert draw_outcomes(gateway(seed=7), range(300)) == first
    assert draw_outcomes(gateway(seed=7), range(300)) == first  # replays are stable too
    assert draw_outcomes(gateway(seed=8), range(300)) != first


def test_replay_returns_the_same_reference_and_a_new_key_draws_again() -> None:
    gw = gateway(failure_rate=0.5)
    outcomes = draw_outcomes(gw, range(40))
    assert {"succeeded", "failed"} <= set(outcomes)  # new keys draw again
    token = gw.tokenize(card("4111111111111111")).token
    replayed = [gw.charge(ChargeRequest(100, "USD", token, "key-3")) for _ in range(3)]
    assert len(set(replayed)) == 1


def test_failure_rate_holds_over_many_keys() -> None:
    keys, rate = 2000, 0.2
    failures = draw_outcomes(gateway(failure_rate=rate, seed=42), range(keys)).count("failed")
    sigma = math.sqrt(keys * rate * (1 - rate))
    assert abs(failures - keys * rate) < 4 * sigma


def test_failed_draws_are_processing_errors() -> None:
    gw = gateway(failure_rate=1.0)
    token = gw.tokenize(card("4111111111111111")).token
    result = gw.charge(ChargeRequest(100, "USD", token, "k"))
    assert (result.outcome, result.failure_code) == ("failed", PROCESSING_ERROR)


@pytest.mark.parametrize(("failure_rate", "expected"), [(0.0, "succeeded"), (1.0, "failed")])
def test_failure_rate_zero_and_one_are_absolute(failure_rate: float, expected: str) -> None:
    assert set(draw_outcomes(gateway(failure_rate=failure_rate), range(500))) == {expected}


@pytest.mark.parametrize("failure_rate", [-0.1, 1.1])
def test_rejects_a_failure_rate_outside_zero_to_one(failure_rate: float) -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        SimulatedPaymentGateway(failure_rate=failure_rate)


def test_latency_applies_to_every_call() -> None:
    gw = gateway(latency_s=0.02)
    started = time.monotonic()
    charge(gw, "4242424242424242")  # tokenize + charge
    gw.refund(RefundRequest("sim_ch_x", 100, "USD", "r"))
    assert time.monotonic() - started >= 0.06


# --- refunds and checkout -------------------------------------------------------------------


def test_refund_succeeds_with_a_reference_derived_from_the_key() -> None:
    gw = gateway(failure_rate=1.0)
    first = gw.refund(RefundRequest("sim_ch_abc", 500, "USD", "refund-1"))
    assert first.outcome == "succeeded"
    assert first.reference.startswith("sim_re_")
    assert gw.refund(RefundRequest("sim_ch_abc", 500, "USD", "refund-1")) == first
    assert gw.refund(RefundRequest("sim_ch_abc", 500, "USD", "refund-2")) != first


@pytest.mark.parametrize("amount_minor", [0, -5])
def test_refund_of_no_amount_fails(amount_minor: int) -> None:
    result = gateway().refund(RefundRequest("sim_ch_abc", amount_minor, "USD", "r"))
    assert (result.outcome, result.failure_code) == ("failed", PROCESSING_ERROR)


def test_checkout_session_url_points_at_the_apps_simulated_page() -> None:
    gw = gateway(checkout_base_url="http://shop.test:9000/simulated-gateway/")
    success, cancel = "http://shop.test:9000/checkout/success?a=1&b=2", "http://x/cancel"
    session = gw.create_checkout_session(5000, "EUR", success, cancel, "checkout:1")
    assert session.id.startswith("cs_sim_")
    url = urlsplit(session.url)
    assert (url.scheme, url.netloc, url.query) == ("http", "shop.test:9000", "")
    assert url.path == f"/simulated-gateway/checkout/{session.id}"
    kept = gw.checkout_sessions.find(session.id)
    assert kept is not None
    assert (kept.amount_minor, kept.currency, kept.success_url, kept.cancel_url) == (
        5000,
        "EUR",
        success,
        cancel,
    )
    assert (kept.attempt_key, kept.status) == ("checkout:1", "open")
    assert gw.create_checkout_session(5000, "EUR", success, cancel, "checkout:1") == session
    assert gw.create_checkout_session(5000, "EUR", success, cancel, "checkout:2").id != session.id


def test_a_checkout_is_unknown_while_open_then_paid_once_for_good() -> None:
    gw = gateway()
    session = gw.create_checkout_session(700, "USD", "http://s", "http://c", "pay-1:1")
    assert gw.checkout_status(session.id).outcome == "unknown"

    paid = gw.pay_checkout(session.id)

    assert paid is not None
    assert paid.status == "paid"
    outcome = gw.checkout_status(session.id)
    assert outcome.outcome == "succeeded"
    assert outcome.reference.startswith("sim_ch_")
    # Paid is final: neither the Cancel button nor a cancel from our side undoes it.
    assert gw.leave_checkout(session.id).status == "paid"  # type: ignore[union-attr]
    assert gw.cancel_checkout(session.id) == outcome


def test_a_cancelled_checkout_fails_and_can_no_longer_be_paid() -> None:
    gw = gateway()
    session = gw.create_checkout_session(700, "USD", "http://s", "http://c", "pay-2:1")
    cancelled = gw.cancel_checkout(session.id)
    assert (cancelled.outcome, cancelled.failure_code) == ("failed", CHECKOUT_CANCELLED)
    assert gw.pay_checkout(session.id).status == "cancelled"  # type: ignore[union-attr]
    assert gw.checkout_status(session.id) == cancelled


def test_an_unpaid_checkout_expires_and_an_unknown_one_never_pays() -> None:
    store = SimulatedCheckoutSessions.in_memory()
    gw = SimulatedPaymentGateway(checkout_sessions=store)
    session = gw.create_checkout_session(700, "USD", "http://s", "http://c", "pay-3:1")
    later = datetime.now(UTC) + timedelta(seconds=SESSION_TTL_S + 1)
    assert store.find(session.id, later).status == "expired"  # type: ignore[union-attr]
    assert store.settle(session.id, "paid", later).status == "expired"  # type: ignore[union-attr]
    unknown = gw.checkout_status("cs_sim_nobody")
    assert (unknown.outcome, unknown.failure_code) == ("failed", CHECKOUT_EXPIRED)


def test_two_gateways_on_one_store_see_the_same_sessions() -> None:
    """Two processes' gateways share the sessions table: one's Pay is the other's answer."""
    store = SimulatedCheckoutSessions.in_memory()
    one, other = (SimulatedPaymentGateway(checkout_sessions=store) for _ in range(2))
    session = one.create_checkout_session(700, "USD", "http://s", "http://c", "pay-4:1")
    other.pay_checkout(session.id)
    assert one.checkout_status(session.id).outcome == "succeeded"


def test_checkout_session_refuses_no_amount() -> None:
    with pytest.raises(ValueError, match="amount"):
        gateway().create_checkout_session(0, "USD", "http://s", "http://c", "k")


def test_checkout_session_ids_never_look_like_a_card_number() -> None:
    # A session id is kept where a card token is, which refuses a Luhn-valid run of digits:
    # hex ids held one about once in 200 sessions.
    gw = gateway()
    for n in range(2_000):
        session = gw.create_checkout_session(100, "USD", "s", "c", f"{n}:1")
        assert session.id.startswith("cs_sim_")
        assert not any(c.isdigit() for c in session.id), session.id
