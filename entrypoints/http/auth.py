"""Who is calling: the `principal` every API route receives, and the base of every controller.

How authentication plugs in (a later issue): every resource controller derives from
`ApiController`, whose `principal` dependency (`PRINCIPAL_PROVIDER`) is the one place that
decides who the caller is, and every handler takes `principal: NamedDependency[Principal]`.
Today the provider returns `ANONYMOUS`. To authenticate every route, point
`PRINCIPAL_PROVIDER` at a function that verifies the bearer token (raising
`NotAuthorizedException`, a 401 problem, when it is missing or invalid) and returns the
token's principal: one line. Idempotency keys are already scoped per principal
(`principal.idempotency_scope`), so the same key from two callers names two requests;
object-level checks (a customer sees only their own wallets) then go into the handlers, which
already hold the principal next to the customer id they act on.

Routes that must stay public (`/health`, `/ready`, `/docs`, `/openapi.json`) do not derive
from `ApiController`.
"""

from __future__ import annotations

import msgspec
from litestar import Controller
from litestar.di import Provide
from litestar.types import Dependencies

ANONYMOUS_SUBJECT = "anonymous"


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller: a subject (user id) and its roles."""

    subject: str
    roles: frozenset[str] = frozenset()

    @property
    def idempotency_scope(self) -> str:
        """Keys are unique per caller: the same key from two callers names two requests."""
        return self.subject


ANONYMOUS = Principal(ANONYMOUS_SUBJECT)


async def anonymous_principal() -> Principal:
    """Until authentication lands, every caller is the anonymous principal."""
    return ANONYMOUS


PRINCIPAL_PROVIDER = Provide(anonymous_principal)


class ApiController(Controller):
    """Base of the resource controllers: every route gets the caller as `principal`."""

    dependencies: Dependencies | None = {"principal": PRINCIPAL_PROVIDER}
