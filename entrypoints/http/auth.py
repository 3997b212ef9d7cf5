"""Who is calling: the `principal` every API route receives, and the base of every controller.

How authentication plugs in (a later issue): every resource controller derives from
`ApiController`, whose `principal` dependency (`PRINCIPAL_PROVIDER`) is the one place that
decides who the caller is, and every handler takes `principal: NamedDependency[Principal]`.
Today the provider returns `ANONYMOUS`. To authenticate every route, point
`PRINCIPAL_PROVIDER` at a function that verifies the bearer token (raising
`NotAuthorizedException`, a 401 problem, when it is missing or invalid) and returns the
token's principal: one line. Handlers pass the principal to the use cases, which scope
idempotency keys by it and are where object-level checks (a customer sees only their own
wallets) belong: one place per use case, not one per handler.

Routes that must stay public (`/health`, `/ready`, `/docs`, `/openapi.json`) do not derive
from `ApiController`.
"""

from __future__ import annotations

from litestar import Controller
from litestar.di import Provide
from litestar.types import Dependencies

from application.principal import Principal

ANONYMOUS_SUBJECT = "anonymous"
ANONYMOUS = Principal(ANONYMOUS_SUBJECT)


async def anonymous_principal() -> Principal:
    """Until authentication lands, every caller is the anonymous principal."""
    return ANONYMOUS


PRINCIPAL_PROVIDER = Provide(anonymous_principal)


class ApiController(Controller):
    """Base of the resource controllers: every route gets the caller as `principal`."""

    dependencies: Dependencies | None = {"principal": PRINCIPAL_PROVIDER}
