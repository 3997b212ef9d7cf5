"""The error hierarchy: one base, stable snake_case codes, a one-line docstring each."""

from __future__ import annotations

import inspect
import re

import pytest

from domain import errors
from domain.errors import DomainError, InsufficientFundsError

pytestmark = pytest.mark.unit

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, DomainError) and cls is not DomainError
]


def test_finds_the_error_classes_it_checks() -> None:
    assert len(ERROR_CLASSES) >= 20


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_has_its_own_snake_case_code_and_a_one_line_docstring(
    cls: type[DomainError],
) -> None:
    assert cls.__name__.endswith("Error")
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code)
    assert cls.code != DomainError.code
    assert cls.__doc__ is not None
    assert "\n" not in cls.__doc__.strip()


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes))


def test_an_error_without_a_message_explains_itself_with_its_docstring() -> None:
    error = InsufficientFundsError()
    assert error.message == InsufficientFundsError.__doc__
    assert str(error) == error.message


def test_an_error_keeps_a_specific_message() -> None:
    error = InsufficientFundsError("Available 5 is less than 10.")
    assert error.message == "Available 5 is less than 10."
    assert error.code == "insufficient_funds"
    assert isinstance(error, DomainError)
