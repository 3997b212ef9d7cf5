"""Who is calling: bearer-token authentication on every API route, and the `principal`.

Every resource controller derives from `ApiController`: its `before_request` hook
(`require_token`) authenticates the bearer token of every route (a 401 problem with
`WWW-Authenticate: Bearer` when it is missing or invalid) and counts writes against the
principal's rate limit (429 with `Retry-After`). No controller or handler may set its own
`before_request`: it would replace this one (tests/integration/http/test_auth.py asks every
route for a token).
The few public routes of such a controller say so with `opt={"public": True}` (catalog
reads, sign-up, login). Handlers pass the principal to the use cases, which scope
idempotency keys by it and check object-level access: one place per use case.

Routes outside the API (`/health`, `/ready`, `/metrics`, `/docs`, `/openapi.json`, the
gateway's inbound webhook, the checkout return pages) do not derive from `ApiController`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.types import BeforeRequestHookHandler, Dependencies

from application.errors import UnauthenticatedError
from application.log_head import LogHead
from application.principal import Principal
from application.users import UserService
from entrypoints.http.problems import TooManyRequestsError
from entrypoints.http.ratelimit import RateLimiter
from entrypoints.http.reads import read_current
from entrypoints.settings import Settings

ANONYMOUS_SUBJECT = "anonymous"
ANONYMOUS = Principal(ANONYMOUS_SUBJECT)
PRINCIPAL_STATE_KEY = "payledger_principal"
WRITE_LIMITER_STATE_KEY = "payledger_write_limiter"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError()
    return token.strip()


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal of the request's bearer token (401 problem without a valid one)."""
    container = connection.state.dishka_container
    users: UserService = await container.get(UserService)
    head: LogHead = await container.get(LogHead)
    return await read_current(head, users.authenticate, bearer_token(connection))


async def _write_limiter(connection: ASGIConnection[Any, Any, Any, Any]) -> RateLimiter:
    state = connection.app.state
    limiter = state.get(WRITE_LIMITER_STATE_KEY)
    if limiter is None:
        settings: Settings = await connection.state.dishka_container.get(Settings)
        limiter = state[WRITE_LIMITER_STATE_KEY] = RateLimiter(settings.auth.writes_per_minute)
    return limiter


async def require_token(request: Request[Any, Any, Any]) -> None:
    """Run before every API route's handler (and its dependencies): authenticate (unless
    the route is public) and count a customer's writes against their limit (admins are
    staff or a merchant's backend, trusted with volume: not limited). A `before_request`
    hook rather than a guard: Litestar calls each guard with a copy of the route handler,
    a cost on every request."""
    if request.route_handler.opt.get("public"):
        return
    principal = await authenticate(request)
    request.state[PRINCIPAL_STATE_KEY] = principal
    if not principal.is_admin and request.scope.get("method") not in READ_METHODS:
        wait_s = (await _write_limiter(request)).hit(principal.subject)
        if wait_s:
            raise TooManyRequestsError(wait_s, "Too many writes: retry after a while.")


async def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated caller (the anonymous principal on a public route)."""
    principal = request.state.get(PRINCIPAL_STATE_KEY)
    return principal if isinstance(principal, Principal) else ANONYMOUS


PRINCIPAL_PROVIDER = Provide(current_principal)


class ApiController(Controller):
    """Base of the resource controllers: authenticated, with the caller as `principal`."""

    dependencies: Dependencies | None = {"principal": PRINCIPAL_PROVIDER}
    before_request: BeforeRequestHookHandler | None = require_token
    security = [{"BearerToken": []}]
