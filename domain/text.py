"""Text that becomes an event: safe for every read model, and never a card number.

Every string a client sends that the ledger records (ids, descriptions, recipients, payees,
reasons, tokens) passes `check_text` first, whoever the caller is (the HTTP API checks the
same rules at its boundary, but a script or a worker calling a use case must not be able to
record what the API would refuse):

- no control characters (C0, DEL, C1) and no lone surrogates: PostgreSQL text columns refuse
  NUL, and a read model that cannot store an event stops for good;
- nothing that looks like a card number (PCI DSS: a PAN must never be stored in clear):
  13 to 19 digits, maybe grouped by spaces or dashes, that pass the Luhn check, anywhere in
  the string. Card numbers are written in groups of at least three digits (4-4-4-4, 4-6-5,
  4-4-4-4-3) or in one block, and a UUID is never one (its first groups are digits often
  enough to pass otherwise), so neither shorter groups nor UUIDs count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from domain.errors import CardNumberInTextError, InvalidTextError

# Limits on what clients may record (the HTTP bodies declare the same).
DESCRIPTION_LENGTH_MAX = 500  # what a description of money moved may hold
REASON_LENGTH_MAX = 200  # why a refund was asked for, or a hold voided
PARTY_LENGTH_MAX = 200  # payer, recipient and payee ids
TOKEN_LENGTH_MAX = 255  # a gateway's payment-method token
CURRENCY_TEXT_LENGTH_MAX = 3  # a payment's currency as asked for (an unknown code fails a rule)

PAN_DIGITS_MIN = 13
PAN_DIGITS_MAX = 19
PAN_GROUP_DIGITS_MIN = 3
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# Scanned in C, not character by character in Python: text is checked on every command.
# Cc (C0, DEL, C1) and Cs (lone surrogates, which no UTF-8 column can store).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# `\d` is any Unicode decimal digit (category Nd), as `str.isdecimal`.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]+\d+)*")
_SEPARATORS = re.compile(r"[ -]+")


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (C0, DEL, C1) or a lone surrogate."""
    return _UNSAFE.search(text) is not None


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digit_runs(text: str) -> Iterator[list[str]]:
    """Runs of digit groups (any script's digits, as ASCII) joined by spaces or dashes, long
    enough to hold a card number: "ref 4242 4242-4242 4242." gives
    ["4242", "4242", "4242", "4242"]. UUIDs are left out."""
    if "-" in text:
        text = _UUID.sub("/", text)
    for run in _DIGIT_RUN.finditer(text):
        if len(run.group()) >= PAN_DIGITS_MIN:
            yield [_ascii_digits(group) for group in _SEPARATORS.split(run.group())]


def _ascii_digits(group: str) -> str:
    if group.isascii():
        return group
    return "".join(str(unicodedata.decimal(char)) for char in group)


def contains_card_number(text: str) -> bool:
    """Whether `text` holds something shaped like a card number: consecutive groups of at
    least three digits (within one run), 13-19 digits in all, that pass the Luhn check.
    UUIDs are left out. Linear in the length: a span never grows past 19 digits, so past
    six groups of three."""
    if len(text) < PAN_DIGITS_MIN:
        return False
    for groups in _digit_runs(text):
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                if len(group) < PAN_GROUP_DIGITS_MIN:
                    break
                digits += group
                if len(digits) > PAN_DIGITS_MAX:
                    break
                if len(digits) >= PAN_DIGITS_MIN and luhn_valid(digits):
                    return True
    return False


def check_text(value: str, field: str, max_length: int, *, required: bool = False) -> str:
    """Return `value` if it may be recorded as `field`, else raise `InvalidTextError`
    (not a string, too long, empty when `required`, a control character) or
    `CardNumberInTextError`."""
    if not isinstance(value, str):
        raise InvalidTextError(f"`{field}` must be text.")
    if len(value) > max_length:
        raise InvalidTextError(f"`{field}` must be at most {max_length} characters.")
    if required and not value:
        raise InvalidTextError(f"`{field}` must not be empty.")
    if has_control_characters(value):
        raise InvalidTextError(f"`{field}` must not contain control characters.")
    if contains_card_number(value):
        raise CardNumberInTextError(
            f"`{field}` looks like it holds a card number; card numbers are never stored. "
            "Send card details in `card` only."
        )
    return value
