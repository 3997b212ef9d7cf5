"""Text that reaches an event: printable, no control characters, and never a card number."""

from __future__ import annotations

import unicodedata

from domain.errors import InvalidTextError


def check_text(value: str, field: str) -> str:
    """Refuse control and format-breaking characters (C0, C1, NUL, unpaired surrogates):
    every read model and every log must be able to hold what an event holds."""
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in "\u2028\u2029":
            raise InvalidTextError(f"`{field}` holds a control character.")
    return value
