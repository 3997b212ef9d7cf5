"""Hosted checkout (seed 002): `GET /checkout?price=...` records a payment and redirects to
the gateway's page; the payer comes back to our success or cancel page.

A completed checkout is a payment in the ledger (method `checkout`, see
`application/checkout.py`). The return URLs carry our payment's id (`?payment=`), so the
success page shows that payment as the gateway says it stands (succeeded, still being
confirmed, failed or cancelled) and never claims a payment it cannot find; the cancel page
closes the session and records it cancelled. Both URLs are built by this server from its own
base URL, never taken from the client (no open redirect).

With the simulated gateway the "hosted page" is served here too, under
`/simulated-gateway/checkout/{id}`, with Pay and Cancel buttons that settle the session inside
the simulated gateway (a table shared by every process) and send the payer back, as a real
gateway would; the outcome then reaches the ledger through `checkout_status`. Seed 002's own
return paths (`/success/`, `/cancel/`) redirect to ours.
"""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get, post
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from adapters.gateways.instrumented import InstrumentedPaymentGateway
from adapters.gateways.simulated import SimulatedPaymentGateway
from adapters.gateways.simulated_checkout import SimulatedSession
from application.checkout import CheckoutService, ReturnUrls
from application.ports.gateway import (
    CHECKOUT_CANCELLED,
    CheckoutUnavailableError,
    PaymentGateway,
)
from application.results import Payment
from domain.money import AMOUNT_MINOR_MAX, check_currency
from domain.payment_terms import PaymentStatus
from entrypoints.http.auth import ANONYMOUS
from entrypoints.http.bodies import CURRENCY_PATTERN
from entrypoints.http.params import query
from entrypoints.http.problems import ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings

Price = Annotated[
    int,
    query(gt=0, le=AMOUNT_MINOR_MAX, description="Amount in minor units (5000 = 50.00 USD)."),
]
Currency = Annotated[str, QueryParameter(pattern=CURRENCY_PATTERN, description="ISO 4217 code.")]
PaymentRef = Annotated[
    str | None,
    QueryParameter(max_length=100, description="Our payment's id, as the return URL has it."),
]
SessionId = Annotated[str, PathParameter(max_length=200)]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>{title}</h1>{body}</body></html>"""
REFRESH_S = 2  # a page still confirming a payment reloads itself this often
SETTLED = frozenset(
    {PaymentStatus.SUCCESS, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


def page(title: str, body: str, head: str = "") -> Response[str]:
    text = PAGE.format(title=html.escape(title), body=body, head=head)
    return Response(text, media_type="text/html")


def payment_page(payment: Payment | None) -> Response[str]:
    """The page a returning payer sees: what the ledger says of their payment, no more."""
    if payment is None:
        return page(
            "Payment not found",
            "<p>This link names no checkout of ours, so there is nothing to confirm here. "
            "Nothing was charged through it.</p>",
        )
    what = f"{payment.amount} {html.escape(payment.currency)} (minor units)"
    reference = f"<p>Reference {payment.id}</p>"
    if payment.status in SETTLED:
        return page("Payment received", f"<p>Your payment of {what} went through.</p>{reference}")
    if payment.status == PaymentStatus.FAILED:
        if payment.failure_reason == CHECKOUT_CANCELLED:
            body = f"<p>You cancelled the payment of {what}. Nothing was charged.</p>"
            return page("Payment cancelled", body + reference)
        reason = html.escape(payment.failure_reason or "")
        body = f"<p>Your payment of {what} did not go through ({reason}). Nothing was charged.</p>"
        return page("Payment failed", body + reference)
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">'
    body = (
        f"<p>We are still confirming your payment of {what} with the payment provider. "
        "This page refreshes by itself.</p>"
    )
    return page("Confirming your payment", body + reference, refresh)


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
        checkout: FromDishka[CheckoutService],
        settings: FromDishka[Settings],
        price: Price,
        currency: Currency = "USD",
    ) -> Redirect:
        check_currency(currency)
        base = settings.http.base_url

        def return_urls(payment_id: UUID) -> ReturnUrls:
            query = f"?payment={payment_id}"
            return ReturnUrls(f"{base}/checkout/success{query}", f"{base}/checkout/cancel{query}")

        try:
            started = await in_thread(
                checkout.start_checkout, ANONYMOUS, price, currency, return_urls
            )
        except CheckoutUnavailableError as error:
            raise ProblemError(502, "gateway_unavailable", str(error)) from None
        return Redirect(started.url, status_code=303)

    @get(
        "/success",
        operation_id="CheckoutSuccess",
        media_type=MediaType.HTML,
        responses=problem_responses(),
        summary="Where the gateway sends payers: their payment as it really stands",
    )
    @inject
    async def success(
        self, checkout: FromDishka[CheckoutService], payment: PaymentRef = None
    ) -> Response[str]:
        return payment_page(await in_thread(checkout.checkout_payment, ANONYMOUS, payment))

    @get(
        "/cancel",
        operation_id="CheckoutCancel",
        media_type=MediaType.HTML,
        responses=problem_responses(),
        summary="Where cancelled checkouts land: the checkout is closed and recorded cancelled",
    )
    @inject
    async def cancel(
        self, checkout: FromDishka[CheckoutService], payment: PaymentRef = None
    ) -> Response[str]:
        return payment_page(await in_thread(checkout.cancel_checkout, ANONYMOUS, payment))


class SimulatedGatewayController(Controller):
    """The simulated gateway's hosted payment page (only meaningful with that gateway)."""

    path = "/simulated-gateway"
    tags = ["checkout"]
    include_in_schema = False

    @get("/checkout/{session_id:str}", operation_id="SimulatedCheckoutPage")
    @inject
    async def checkout_page(
        self,
        session_id: SessionId,
        gateway: FromDishka[PaymentGateway],
        settings: FromDishka[Settings],
    ) -> Response[str]:
        session = await _session(gateway, settings, session_id)
        if session is None:
            return page("Unknown checkout", "<p>This checkout session is not valid.</p>")
        what = f"{session.amount_minor} {html.escape(session.currency)}"
        if session.status != "open":
            return page("Checkout closed", f"<p>This checkout is {session.status}.</p>")
        name = html.escape(session.session_id)
        body = (
            f"<p>Session {name}</p><p>Pay <strong>{what}</strong> (minor units).</p>"
            f'<form method="post" action="{name}/pay"><button>Pay</button></form>'
            f'<form method="post" action="{name}/cancel"><button>Cancel</button></form>'
        )
        return page("Simulated payment page", body)

    @post("/checkout/{session_id:str}/pay", operation_id="SimulatedCheckoutPay", status_code=303)
    @inject
    async def pay(
        self,
        session_id: SessionId,
        gateway: FromDishka[PaymentGateway],
        settings: FromDishka[Settings],
    ) -> Response[str] | Redirect:
        """The payer pays: the session is paid (if still open), and the payer goes back to
        our success page (or our cancel page when it could not be paid)."""
        return await _settle(gateway, settings, session_id, pay=True)

    @post(
        "/checkout/{session_id:str}/cancel", operation_id="SimulatedCheckoutCancel", status_code=303
    )
    @inject
    async def cancel(
        self,
        session_id: SessionId,
        gateway: FromDishka[PaymentGateway],
        settings: FromDishka[Settings],
    ) -> Response[str] | Redirect:
        """The payer cancels: the session is cancelled (if still open), back to our page."""
        return await _settle(gateway, settings, session_id, pay=False)


def _simulated(gateway: PaymentGateway) -> SimulatedPaymentGateway | None:
    """The simulated gateway behind `gateway` (under its metrics wrapper), if that is it."""
    inner = gateway.inner if isinstance(gateway, InstrumentedPaymentGateway) else gateway
    return inner if isinstance(inner, SimulatedPaymentGateway) else None


async def _session(
    gateway: PaymentGateway, settings: Settings, session_id: str
) -> SimulatedSession | None:
    """The simulated session, if this server runs that gateway and it leads back here."""
    simulated = _simulated(gateway)
    if simulated is None:
        return None
    session = await in_thread(simulated.checkout_sessions.find, session_id)
    return session if session is not None and _leads_home(session, settings) else None


def _leads_home(session: SimulatedSession, settings: Settings) -> bool:
    # Only links back to this server: the page must not become a redirector.
    return _ours(session.success_url, settings) and _ours(session.cancel_url, settings)


async def _settle(
    gateway: PaymentGateway, settings: Settings, session_id: str, *, pay: bool
) -> Response[str] | Redirect:
    if await _session(gateway, settings, session_id) is None:
        return page("Unknown checkout", "<p>This checkout session is not valid.</p>")
    simulated = _simulated(gateway)
    assert simulated is not None
    act = simulated.pay_checkout if pay else simulated.leave_checkout
    session = await in_thread(act, session_id)
    assert session is not None  # sessions are never deleted
    target = session.success_url if session.status == "paid" else session.cancel_url
    return Redirect(target, status_code=303)


class SeedCheckoutController(Controller):
    """Seed 002's return paths, kept working: they redirect to ours, query string and all."""

    path = "/"
    include_in_schema = False

    @get(["/success", "/cancel"], operation_id="SeedCheckoutReturn", status_code=307)
    async def seed_return(self, request: Request[Any, Any, Any]) -> Redirect:
        target = "/checkout/" + request.url.path.strip("/")
        query = request.url.query
        return Redirect(f"{target}?{query}" if query else target, status_code=307)
