"""OpenAPI: Swagger UI at `/docs` with its assets served from this process (no CDN, works
offline), and the spec at `/openapi.json`.

Swagger UI 5 is vendored under `static/swagger-ui/` (see the README there): Litestar emits
OpenAPI 3.1, which Swagger UI 4 cannot render.

The OpenAPI router lives under `/docs`, not `/`: mounted at the root, its catch-all would answer
every unknown URL of the app with an HTML 404. The catch-all it keeps under `/docs/` is turned
into a problem too, so every error stays `application/problem+json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.enums import MediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OAuthFlow,
    OAuthFlows,
    Reference,
    SecurityScheme,
    Tag,
)
from litestar.static_files import create_static_files_router

from entrypoints.http.contract import finish_document
from entrypoints.http.problems import problem, problem_response

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
SPEC_PATH = "/openapi.json"
API_TITLE = "PayLedger API"
API_VERSION = "0.1.0"
SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI_DIR = Path(__file__).parent / "static" / "swagger-ui"
_DOCUMENT_STATE_KEY = "payledger_openapi_document"

API_DESCRIPTION = """\
An event-sourced, double-entry payments ledger.

* **Amounts** are integer minor units: `"amount": 25000` is 250.00 USD. Integers are written
  as integers: `25000.0` is refused (422 `validation_error`), so an amount in major units
  (`250.00`) never passes for minor units.
* **Idempotency**: every `POST` takes an optional `Idempotency-Key` header; a replay returns the
  original status and body with `Idempotent-Replayed: true`; the same key with a different
  request is a 422 `idempotency_key_reused` problem.
* **Consistency**: writes return `PayLedger-Position`; pass it as `min_position` to lists and
  statements to read your own write.
* **Errors** are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
"""

# One scheme for every protected operation: Swagger's "Authorize" signs in with the OAuth2
# password flow (a form posted to our own token URL) and sends the token as a bearer.
TOKEN_URL = "/users/login/access-token"  # noqa: S105 (a URL, not a secret)
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "BearerToken": SecurityScheme(
        type="oauth2",
        description="Sign in with your email and password; the token goes in "
        "`Authorization: Bearer <token>`.",
        flows=OAuthFlows(password=OAuthFlow(token_url=TOKEN_URL, scopes={})),
    )
}

TAGS = [
    Tag(name="wallets", description="Open wallets, read them, credit and debit them."),
    Tag(name="transfers", description="Wallet-to-wallet transfers."),
    Tag(name="transactions", description="Balanced journal transactions."),
    Tag(name="holds", description="Two-phase payments: reserve, then post or void."),
    Tag(name="balances", description="Every account's balance."),
    Tag(
        name="payments",
        description="Payments by wallet or card: create, follow, retry, refund; and the summary.",
    ),
    Tag(name="charges", description="Charge a customer: wallet first, card for the rest."),
    Tag(name="checkout", description="Hosted checkout at the gateway, and its return pages."),
    Tag(name="webhooks", description="Signed events from the card gateway (Stripe)."),
    Tag(name="health", description="Probes for orchestrators, and metrics."),
    Tag(name="users", description="Sign up, sign in (OAuth2 password flow), accounts."),
    Tag(name="schools", description="Schools (public reads; admins write)."),
    Tag(name="trips", description="A school's trips, with their seats (public reads)."),
    Tag(
        name="registrations",
        description="Book a seat on a trip for a student, and pay for it.",
    ),
    Tag(
        name="audit",
        description="Admins and auditors: the stored log, point-in-time reads by replay, "
        "and verification (conservation, projections, payments, hash chain).",
    ),
    Tag(
        name="installments",
        description="Installment plans (orders): a total charged in 1 to 24 installments.",
    ),
]


def _asset(name: str) -> str:
    return f"{ASSETS_PATH}/{name}"


def _problem_for_html_404(response: Response[Any]) -> Response[Any]:
    """The OpenAPI router answers unknown `/docs/...` paths with an HTML 404: make it ours."""
    if response.status_code == 404 and response.media_type == MediaType.HTML:
        return problem_response(problem(404, "not_found", "Nothing lives at this URL."))
    return response


class _ContractSwagger(SwaggerRenderPlugin):
    """Swagger UI showing the finished contract (the same document as `/openapi.json`)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, contract_document(request.app))


def contract_document(app: Litestar) -> dict[str, Any]:
    """The app's finished OpenAPI document, built once per app."""
    document: dict[str, Any] | None = app.state.get(_DOCUMENT_STATE_KEY)
    if document is None:
        # `to_builtins`: defaults in the schema can be structs (a body's default value).
        generated = msgspec.to_builtins(app.openapi_schema.to_schema())
        document = finish_document(generated, project_structs())
        app.state[_DOCUMENT_STATE_KEY] = document
    return document


def project_structs() -> list[type[msgspec.Struct]]:
    """Every msgspec struct this project defines (request bodies among them)."""
    found: list[type[msgspec.Struct]] = []
    pending = list(msgspec.Struct.__subclasses__())
    while pending:
        struct = pending.pop()
        pending.extend(struct.__subclasses__())
        if struct.__module__.split(".")[0] in ("entrypoints", "application", "domain"):
            found.append(struct)
    return found


def openapi_config() -> OpenAPIConfig:
    swagger = _ContractSwagger(
        path="/",
        js_url=_asset("swagger-ui-bundle.js"),
        css_url=_asset("swagger-ui.css"),
        standalone_preset_js_url=_asset("swagger-ui-standalone-preset.js"),
        favicon=f"<link rel='icon' type='image/png' href='{_asset('favicon-32x32.png')}'>",
    )
    docs_router = Router(
        DOCS_PATH, route_handlers=[], include_in_schema=False, after_request=_problem_for_html_404
    )
    return OpenAPIConfig(
        title=API_TITLE,
        version=API_VERSION,
        description=API_DESCRIPTION,
        tags=TAGS,
        path=DOCS_PATH,
        render_plugins=[swagger],
        openapi_router=docs_router,
        components=Components(security_schemes=SECURITY_SCHEMES),
    )


@get(SPEC_PATH, include_in_schema=False, media_type=MediaType.JSON)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI document: the contract (built once per app)."""
    return contract_document(request.app)


def docs_assets_router() -> Router:
    """Swagger UI's JS, CSS and icons, vendored in this package."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[SWAGGER_UI_DIR],
        name="docs-assets",
        include_in_schema=False,
    )
