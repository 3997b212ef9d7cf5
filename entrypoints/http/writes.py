"""What every handler shares: running the synchronous ledger in a worker thread, the
`Idempotency-Key` header, and how a command's result becomes a response."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter

from application.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX
from application.results import Written

T = TypeVar("T")

POSITION_HEADER = "PayLedger-Position"
REPLAYED_HEADER = "Idempotent-Replayed"
# At most this many ledger calls run at once per event loop; more wait for a free thread.
WORKER_THREADS_MAX = 64

_limiter: RunVar[CapacityLimiter] = RunVar("payledger_http_limiter")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking (eventsourcing) call in a worker thread, bounded by one limiter per
    event loop. A call that started runs to its end even if the client goes away."""
    try:
        limiter = _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(WORKER_THREADS_MAX)
        _limiter.set(limiter)
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs), limiter=limiter)


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_LENGTH_MAX,
        description="Your name for this request: a retry with the same key and body returns the "
        "original result (with `Idempotent-Replayed: true`) instead of acting twice.",
    ),
]

WRITE_HEADERS = [
    ResponseHeader(
        name=POSITION_HEADER,
        documentation_only=True,
        required=False,
        description="The log position this write reached; pass it as "
        "`min_position` to read your write from lists and statements.",
    ),
    ResponseHeader(
        name=REPLAYED_HEADER,
        documentation_only=True,
        required=False,
        description="`true` when this is the stored result of an earlier request "
        "with the same `Idempotency-Key`.",
    ),
]


def written_response(
    written: Written[T], status_code: int, location: str | None = None
) -> Response[T]:
    """The response of a command: the same status and body on a replay, plus headers."""
    headers: dict[str, str] = {}
    if written.position is not None:
        headers[POSITION_HEADER] = str(written.position)
    if written.replayed:
        headers[REPLAYED_HEADER] = "true"
    if location is not None:
        headers["Location"] = location
    return Response(written.value, status_code=status_code, headers=headers)
