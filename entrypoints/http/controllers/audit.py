"""Auditors' routes: the stored log, point-in-time reads, verification (admin or auditor).

Everything here is computed by replaying the stored events, not read from projections.
`GET /audit/events` streams JSON Lines (one event per line) with `Accept:
application/x-ndjson` or `?format=jsonl`, for exports of any size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream

from application.audit.folds import ENTRIES_MAX
from application.audit.replay import EVENTS_LIMIT_MAX, AccountAsOf, EventPage, PaymentAsOf
from application.audit.service import AuditService
from application.audit.verify import VerificationReport
from application.principal import Principal
from entrypoints.http.auth import ApiController
from entrypoints.http.params import POSITION_MAX, instant_query, parse_instant, query
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import in_thread

NDJSON = "application/x-ndjson"
_encoder = msgspec.json.Encoder()

Position = Annotated[
    int | None,
    query(ge=0, le=POSITION_MAX, description="As of this log position (inclusive)."),
]
At = Annotated[str | None, instant_query("As of this time: events stamped at or before it")]
After = Annotated[int, query(ge=0, le=POSITION_MAX, description="Events after this position.")]
Upto = Annotated[
    int | None,
    query(ge=0, le=POSITION_MAX, description="Events up to this position (inclusive)."),
]
Since = Annotated[str | None, instant_query("Events stamped at or after this instant")]
Until = Annotated[str | None, instant_query("Events stamped at or before this instant")]
EventsLimit = Annotated[int, query(ge=1, le=EVENTS_LIMIT_MAX, description="Events per page.")]
Format = Annotated[
    Literal["json", "jsonl"] | None,
    QueryParameter(description="`jsonl`: stream every event in range as JSON Lines."),
]
EntriesMax = Annotated[int, query(ge=0, le=ENTRIES_MAX, description="Latest entries to show.")]
AccountId = Annotated[UUID, PathParameter(description="A ledger account's id.")]
AuditPaymentId = Annotated[UUID, PathParameter(description="The payment's id.")]


class AuditController(ApiController):
    path = "/audit"
    tags = ["audit"]

    @get(
        "/events",
        operation_id="ListAuditEvents",
        summary="The stored event log in order, by position or time range (JSON or JSON Lines)",
        responses=problem_responses(403),
    )
    @inject
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        audit: FromDishka[AuditService],
        after: After = 0,
        upto: Upto = None,
        since: Since = None,
        until: Until = None,
        limit: EventsLimit = 100,
        format: Format = None,
    ) -> EventPage:
        wants_lines = format == "jsonl" or (
            format is None and NDJSON in request.headers.get("accept", "")
        )
        start, end = parse_instant("since", since), parse_instant("until", until)
        if not wants_lines:
            return await in_thread(audit.events, principal, after, upto, limit, start, end)
        pages = await in_thread(audit.stream_events, principal, after, upto, start, end)
        # The handler's own media type (JSON) would win over `media_type`: set the header.
        return Stream(  # type: ignore[return-value]
            _lines(pages), media_type=NDJSON, headers={"content-type": NDJSON}
        )

    @get(
        "/accounts/{account_id:uuid}",
        operation_id="GetAuditAccount",
        summary="An account's balance and statement as of a position or time, by replay",
        responses=problem_responses(403, 404),
    )
    @inject
    async def get_account(
        self,
        principal: NamedDependency[Principal],
        audit: FromDishka[AuditService],
        account_id: AccountId,
        position: Position = None,
        at: At = None,
        entries: EntriesMax = 100,
    ) -> AccountAsOf:
        moment = parse_instant("at", at)
        return await in_thread(
            audit.account_as_of, principal, account_id, position, moment, entries
        )

    @get(
        "/payments/{payment_id:uuid}",
        operation_id="GetAuditPayment",
        summary="A payment's state as of a position or time, by replay",
        responses=problem_responses(403, 404),
    )
    @inject
    async def get_payment(
        self,
        principal: NamedDependency[Principal],
        audit: FromDishka[AuditService],
        payment_id: AuditPaymentId,
        position: Position = None,
        at: At = None,
    ) -> PaymentAsOf:
        moment = parse_instant("at", at)
        return await in_thread(audit.payment_as_of, principal, payment_id, position, moment)

    @get(
        "/verify",
        operation_id="VerifyLedger",
        summary="Verify the log: conservation, projections, payments, hash chain, checkpoints",
        responses=problem_responses(403, validated=False),
    )
    @inject
    async def verify(
        self, principal: NamedDependency[Principal], audit: FromDishka[AuditService]
    ) -> VerificationReport:
        return await in_thread(audit.verify, principal)


def _lines(pages: Iterator[list[Any]]) -> Iterator[bytes]:
    for page in pages:
        if page:
            yield b"".join(_encoder.encode(event) + b"\n" for event in page)
