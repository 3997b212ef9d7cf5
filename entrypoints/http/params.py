"""Path and query parameters shared by the controllers, with their limits and docs."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from application.queries import PAGE_SIZE_MAX
from domain.money import CUSTOMER_ID_LENGTH_MAX

POSITION_MAX = 2**63 - 1  # positions are PostgreSQL bigints
CURSOR_LENGTH_MAX = 100
PAGE_SIZE_DEFAULT = 50

CustomerIdPath = Annotated[
    str,
    PathParameter(
        max_length=CUSTOMER_ID_LENGTH_MAX,
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
        "`view_not_caught_up`.",
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
