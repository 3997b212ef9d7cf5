"""Money, amounts, currencies and customer ids: the value rules everything else relies on."""

from __future__ import annotations

import pytest

from domain.errors import (
    InvalidAmountError,
    InvalidCustomerIdError,
    UnknownCurrencyError,
)
from domain.money import (
    AMOUNT_MINOR_MAX,
    CURRENCY_EXPONENTS,
    CUSTOMER_ID_LENGTH_MAX,
    Money,
    check_amount,
    check_currency,
    check_customer_id,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("currency", "exponent"), [("JPY", 0), ("USD", 2), ("BHD", 3)])
def test_knows_the_minor_unit_exponent_of_a_currency(currency: str, exponent: int) -> None:
    assert CURRENCY_EXPONENTS[currency] == exponent


def test_every_known_currency_is_a_three_letter_upper_case_code() -> None:
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_EXPONENTS)
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3, 4}


@pytest.mark.parametrize("currency", ["usd", "XXX", "", "US", "USDD", "BTC"])
def test_rejects_an_unknown_currency(currency: str) -> None:
    with pytest.raises(UnknownCurrencyError) as caught:
        check_currency(currency)
    assert caught.value.code == "unknown_currency"

    with pytest.raises(UnknownCurrencyError):
        Money(1, currency)


def test_accepts_a_known_currency() -> None:
    assert check_currency("EUR") == "EUR"


@pytest.mark.parametrize("amount", [1.0, 1.5, True, False, "100", None])
def test_money_refuses_anything_but_an_integer_of_minor_units(amount: object) -> None:
    with pytest.raises(InvalidAmountError):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [1, 99, AMOUNT_MINOR_MAX])
def test_accepts_a_positive_amount_within_the_limit(amount: int) -> None:
    assert check_amount(amount) == amount


@pytest.mark.parametrize(
    "amount",
    [0, -1, -(10**6), AMOUNT_MINOR_MAX + 1, 10**30, True, False, 1.0, 2.5, "5", None],
)
def test_rejects_an_amount_that_is_not_a_positive_integer_within_the_limit(
    amount: object,
) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        check_amount(amount)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize("customer_id", ["c", "alice@example.com", "x" * CUSTOMER_ID_LENGTH_MAX])
def test_accepts_a_printable_customer_id_of_at_most_200_characters(customer_id: str) -> None:
    assert check_customer_id(customer_id) == customer_id


@pytest.mark.parametrize(
    "customer_id", ["", "x" * (CUSTOMER_ID_LENGTH_MAX + 1), "line\nbreak", "tab\t", "nul\x00"]
)
def test_rejects_an_empty_overlong_or_unprintable_customer_id(customer_id: str) -> None:
    with pytest.raises(InvalidCustomerIdError) as caught:
        check_customer_id(customer_id)
    assert caught.value.code == "invalid_customer_id"
