"""Hosted checkout (seed 002): `GET /checkout?price=...` redirects to the gateway's page.

With the simulated gateway the "hosted page" is served here too, under
`/simulated-gateway/checkout/{id}`, so the whole flow works offline. The success and cancel
URLs are built by this server from its own base URL, never taken from the client (no open
redirect). Checkout records nothing in the ledger yet: a completed session is settled by the
gateway's webhook in a later step.
"""

from __future__ import annotations

import html
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from application.ports.gateway import CheckoutUnavailableError, PaymentGateway
from domain.money import AMOUNT_MINOR_MAX, check_currency
from entrypoints.http.problems import ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings

Price = Annotated[
    int,
    QueryParameter(
        gt=0, le=AMOUNT_MINOR_MAX, description="Amount in minor units (5000 = 50.00 USD)."
    ),
]
Currency = Annotated[str, QueryParameter(min_length=3, max_length=3, description="ISO 4217 code.")]
ReturnUrl = Annotated[str, QueryParameter(max_length=2000)]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str) -> Response[str]:
    return Response(PAGE.format(title=html.escape(title), body=body), media_type="text/html")


def _ours(url: str, settings: Settings) -> bool:
    """The URL points at this service (same scheme, host and port), nowhere else."""
    mine, theirs = urlsplit(settings.http.base_url), urlsplit(url)
    try:
        same_port = mine.port == theirs.port
    except ValueError:  # a malformed port
        return False
    return (
        theirs.scheme == mine.scheme
        and theirs.hostname == mine.hostname
        and same_port
        and theirs.username is None
        and theirs.password is None
    )


class CheckoutController(Controller):
    """Public pages of the hosted-checkout flow (no API credentials involved)."""

    path = "/checkout"
    tags = ["checkout"]

    @get(
        "/",
        operation_id="StartCheckout",
        summary="Create a hosted checkout session and redirect to it (303)",
        status_code=303,
        responses=problem_responses(),
    )
    @inject
    async def start(
        self,
        gateway: FromDishka[PaymentGateway],
        settings: FromDishka[Settings],
        price: Price,
        currency: Currency = "USD",
    ) -> Redirect:
        check_currency(currency)
        base = settings.http.base_url
        try:
            session = await in_thread(
                gateway.create_checkout_session,
                price,
                currency,
                f"{base}/checkout/success",
                f"{base}/checkout/cancel",
                f"checkout:{uuid.uuid4()}",
            )
        except CheckoutUnavailableError as error:
            raise ProblemError(502, "gateway_unavailable", str(error)) from None
        return Redirect(session.url, status_code=303)

    @get("/success", operation_id="CheckoutSuccess", summary="Where the gateway sends payers")
    async def success(self) -> Response[str]:
        return page("Payment received", "<p>Thank you: your payment went through.</p>")

    @get("/cancel", operation_id="CheckoutCancel", summary="Where cancelled checkouts land")
    async def cancel(self) -> Response[str]:
        return page("Payment cancelled", "<p>Nothing was charged.</p>")


class SimulatedGatewayController(Controller):
    """The simulated gateway's hosted payment page (only meaningful with that gateway)."""

    path = "/simulated-gateway"
    tags = ["checkout"]
    include_in_schema = False

    @get("/checkout/{session_id:str}", operation_id="SimulatedCheckoutPage")
    @inject
    async def checkout_page(
        self,
        session_id: Annotated[str, PathParameter(max_length=200)],
        amount: Price,
        success_url: ReturnUrl,
        cancel_url: ReturnUrl,
        settings: FromDishka[Settings],
        currency: Currency = "USD",
    ) -> Response[str]:
        # Only links back to this server: the page must not become a redirector.
        if not (_ours(success_url, settings) and _ours(cancel_url, settings)):
            return page("Unknown checkout", "<p>This checkout session is not valid.</p>")
        body = (
            f"<p>Session {html.escape(session_id)}</p>"
            f"<p>Pay <strong>{amount} {html.escape(currency)}</strong> (minor units).</p>"
            f'<p><a href="{html.escape(success_url)}">Pay</a> · '
            f'<a href="{html.escape(cancel_url)}">Cancel</a></p>'
        )
        return page("Simulated payment page", body)
