"""Path and query parameters shared by the controllers, with their limits and docs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar.params import PathParameter, QueryParameter

from application.queries import (
    ACCOUNT_CURSOR_PATTERN,
    PAGE_SIZE_MAX,
    POSITION_CURSOR_PATTERN,
    SEQUENCE_CURSOR_PATTERN,
)
from application.webhooks import DELIVERY_CURSOR_PATTERN
from domain.money import CUSTOMER_ID_LENGTH_MAX
from entrypoints.http.bodies import TEXT_PATTERN
from entrypoints.http.problems import FieldError, ProblemError

POSITION_MAX = 2**63 - 1  # positions are PostgreSQL bigints
# An instant in a query: RFC 3339 with its time zone (a number is not an instant here).
INSTANT_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


def query(**constraints: Any) -> Any:
    """A query parameter's definition. Litestar leaves falsy bounds (`ge=0`) out of the
    OpenAPI document and writes big ones as floats (2**63 - 1 rounds up): the bounds are
    restated exactly, so the contract says what the server checks."""
    keys = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
    exact = {keys[k]: v for k, v in constraints.items() if k in keys and isinstance(v, int)}
    return QueryParameter(schema_extra=exact or None, **constraints)


def instant_query(description: str) -> Any:
    return QueryParameter(
        pattern=INSTANT_PATTERN,
        max_length=40,
        schema_extra={"format": "date-time"},
        description=f"{description} (RFC 3339 with a time zone, e.g. `2026-02-26T10:00:00Z`).",
    )


def parse_instant(name: str, text: str | None) -> datetime | None:
    """An instant that matched `INSTANT_PATTERN`, or a 422 problem for an impossible date
    (the pattern lets 31 February through)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ProblemError(
            422,
            "validation_error",
            f"`{name}` is not a date that exists (query {name}).",
            [FieldError("query", name, "Not a date that exists.")],
        ) from None


CURSOR_LENGTH_MAX = 100
PAGE_SIZE_DEFAULT = 50

CustomerIdPath = Annotated[
    str,
    PathParameter(
        max_length=CUSTOMER_ID_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        description="The customer's id.",
    ),
]
MinPosition = Annotated[
    int | None,
    query(
        ge=0,
        le=POSITION_MAX,
        description="A log position from a write's `PayLedger-Position` header: the read waits "
        "(briefly) until the read model has reached it, else 503 "
        "`view_not_caught_up`; a position beyond the log's end is 422 `position_beyond_log`.",
    ),
]


def _cursor(pattern: str) -> object:
    return QueryParameter(
        min_length=1,
        max_length=CURSOR_LENGTH_MAX,
        pattern=pattern,
        description="The `next_cursor` of the previous page.",
    )


# Each list has one kind of cursor, and documents its pattern.
Cursor = Annotated[str | None, _cursor(POSITION_CURSOR_PATTERN)]  # by log position
SequenceCursor = Annotated[str | None, _cursor(SEQUENCE_CURSOR_PATTERN)]  # a wallet's entries
AccountCursor = Annotated[str | None, _cursor(ACCOUNT_CURSOR_PATTERN)]  # balances
DeliveryCursor = Annotated[str | None, _cursor(DELIVERY_CURSOR_PATTERN)]  # webhook deliveries
PageSize = Annotated[
    int,
    QueryParameter(
        ge=1,
        le=PAGE_SIZE_MAX,
        description="Entries per page.",
    ),
]


# Payments.

PaymentId = Annotated[UUID, PathParameter(description="The payment's id.")]
ChargeId = Annotated[UUID, PathParameter(description="The charge's id.")]
PaymentStatus = Annotated[
    Literal["CREATED", "PROCESSING", "SUCCESS", "FAILED", "PARTIALLY_REFUNDED", "REFUNDED"] | None,
    QueryParameter(description="Only payments in this status."),
]
PayerId = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=CUSTOMER_ID_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        description="Only payments from this payer.",
    ),
]
HistoryOf = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=CUSTOMER_ID_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        description="Whose history (admins and auditors; none: your own).",
    ),
]
CreatedFrom = Annotated[str | None, instant_query("Only payments created at or after this")]
CreatedTo = Annotated[str | None, instant_query("Only payments created before this instant")]
WAIT_TIMEOUT_S_MAX = 30.0
WAIT_TIMEOUT_S_DEFAULT = 10.0
Wait = Annotated[
    bool,
    QueryParameter(
        description="Answer once the payment has left CREATED and PROCESSING (or after "
        "`wait_timeout_s`), with its latest state, instead of at once.",
    ),
]
WaitTimeout = Annotated[
    float,
    query(
        ge=0,
        le=WAIT_TIMEOUT_S_MAX,
        description="How long `wait=true` waits at most, in seconds.",
    ),
]


def require_time_zone(name: str, moment: datetime | None) -> datetime | None:
    """A time without a zone is ambiguous (whose 10:00?): refused as a 422 problem."""
    if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
        raise ProblemError(
            422,
            "validation_error",
            f"Give `{name}` with a time zone, e.g. `2026-02-26T10:00:00Z` (query {name}).",
            [FieldError("query", name, "A time zone (`Z` or `+hh:mm`) is required.")],
        )
    return moment
