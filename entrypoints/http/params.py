"""Path and query parameters shared by the controllers, with their limits and docs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from litestar.params import PathParameter, QueryParameter

from application.queries import PAGE_SIZE_MAX
from domain.money import CUSTOMER_ID_LENGTH_MAX
from entrypoints.http.bodies import TEXT_PATTERN
from entrypoints.http.problems import FieldError, ProblemError

POSITION_MAX = 2**63 - 1  # positions are PostgreSQL bigints
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
    QueryParameter(
        ge=0,
        le=POSITION_MAX,
        description="A log position from a write's `PayLedger-Position` header: the read waits "
        "(briefly) until the read model has reached it, else 503 "
        "`view_not_caught_up`; a position beyond the log's end is 422 `position_beyond_log`.",
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=CURSOR_LENGTH_MAX,
        description="The `next_cursor` of the previous page.",
    ),
]
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
CreatedFrom = Annotated[
    datetime | None,
    QueryParameter(
        description="Only payments created at or after this instant (ISO 8601 with a time "
        "zone, e.g. `2026-02-26T10:00:00Z`).",
    ),
]
CreatedTo = Annotated[
    datetime | None,
    QueryParameter(
        description="Only payments created before this instant (ISO 8601 with a time zone).",
    ),
]
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
    QueryParameter(
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
