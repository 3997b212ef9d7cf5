"""Money: an integer number of minor units in an ISO 4217 currency. No floats anywhere."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import (
    InvalidAmountError,
    InvalidCustomerIdError,
    UnknownCurrencyError,
)
from domain.text import check_text

# ISO 4217 codes in circulation with their minor-unit exponent (decimal places).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
    "WST XCD YER ZAR ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_0.split(), 0),
    **dict.fromkeys(_EXPONENT_2.split(), 2),
    **dict.fromkeys(_EXPONENT_3.split(), 3),
    **dict.fromkeys(_EXPONENT_4.split(), 4),
}

# A limit on every amount: far above any real payment, far below int64 overflow in views.
AMOUNT_MINOR_MAX = 10**15


def check_currency(code: str) -> str:
    """Return the currency code if it is a known ISO 4217 code, else raise."""
    if code not in CURRENCY_EXPONENTS:
        raise UnknownCurrencyError(f"Unknown currency {code!r}: use an ISO 4217 code like 'USD'.")
    return code


CUSTOMER_ID_LENGTH_MAX = 200


def check_customer_id(customer_id: str) -> str:
    """Customer ids are opaque strings of 1 to 200 printable characters, and never a card
    number (`CardNumberInTextError`)."""
    if (
        not isinstance(customer_id, str)
        or not (0 < len(customer_id) <= CUSTOMER_ID_LENGTH_MAX)
        or not customer_id.isprintable()
    ):
        raise InvalidCustomerIdError()
    return check_text(customer_id, "customer_id", CUSTOMER_ID_LENGTH_MAX)


def check_amount(amount_minor: int) -> int:
    """Return a positive amount of minor units within limits, else raise."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidAmountError("The amount must be an integer number of minor units.")
    if amount_minor <= 0:
        raise InvalidAmountError("The amount must be greater than zero.")
    if amount_minor > AMOUNT_MINOR_MAX:
        raise InvalidAmountError(f"The amount must not exceed {AMOUNT_MINOR_MAX} minor units.")
    return amount_minor


@dataclass(frozen=True, slots=True)
class Money:
    """A signed amount of minor units in one currency (e.g. 25000 USD = 250.00 USD)."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise InvalidAmountError("Money holds an integer number of minor units.")

    @classmethod
    def positive(cls, amount_minor: int, currency: str) -> Money:
        """An amount to move: a known currency and a positive amount within limits."""
        check_currency(currency)
        return cls(check_amount(amount_minor), currency)
