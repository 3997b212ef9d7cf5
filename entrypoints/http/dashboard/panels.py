"""The dashboard's panels: each one small function from the snapshot to its template's
context, rendered on the server. The page and the live stream render the same fragments.

A panel whose figures are missing from the snapshot (a feature with no source yet) renders
"not available"; wiring a source in `entrypoints/container_dashboard.py` is all it takes to
fill it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from application.results_dashboard import DashboardSnapshot
from domain.money import CURRENCY_EXPONENTS
from entrypoints.http.dashboard.chart import outcome_chart

Context = Mapping[str, Any]


@dataclass(frozen=True)
class Panel:
    name: str  # the element id is `panel-<name>`
    title: str
    template: str
    context: Callable[[DashboardSnapshot], Context]
    wide: bool = False


def totals(s: DashboardSnapshot) -> Context:
    return {"summary": s.summary, "log_position": s.log_position}


def amounts(s: DashboardSnapshot) -> Context:
    statuses = sorted({status for row in s.summary.amounts for status in row.by_status})
    return {"amounts": s.summary.amounts, "statuses": statuses}


def failure_reasons(s: DashboardSnapshot) -> Context:
    reasons = sorted(s.summary.failure_reasons.items(), key=lambda item: (-item[1], item[0]))
    return {"reasons": reasons, "failed": s.summary.failed}


def success_rate(s: DashboardSnapshot) -> Context:
    settled = sum(bucket.settled for bucket in s.outcomes)
    succeeded = sum(bucket.succeeded for bucket in s.outcomes)
    rate = succeeded / settled if settled else None
    return {"chart": outcome_chart(s.outcomes), "window": s.window, "rate": rate}


def recent(s: DashboardSnapshot) -> Context:
    return {"payments": s.recent}


def wallets(s: DashboardSnapshot) -> Context:
    return {"wallets": s.wallets}


def followers(s: DashboardSnapshot) -> Context:
    return {"readiness": s.readiness}


def installments(s: DashboardSnapshot) -> Context:
    return {"overview": s.installments}


def webhooks(s: DashboardSnapshot) -> Context:
    return {"health": s.webhooks}


def relay(s: DashboardSnapshot) -> Context:
    return {"relay": s.relay}


PANELS: tuple[Panel, ...] = (
    Panel("totals", "Payments", "totals.html", totals),
    Panel("amounts", "Amounts by status", "amounts.html", amounts),
    Panel("failure-reasons", "Failure reasons", "failure_reasons.html", failure_reasons),
    Panel("success-rate", "Success rate over time", "success_rate.html", success_rate, True),
    Panel("recent", "Recent payments", "recent.html", recent, True),
    Panel("wallets", "Wallets", "wallets.html", wallets),
    Panel("followers", "Log and followers", "followers.html", followers),
    Panel("installments", "Installments", "installments.html", installments),
    Panel("webhooks", "Webhook deliveries", "webhooks.html", webhooks),
    Panel("relay", "Relay lag", "relay.html", relay),
)
TEMPLATE_DIR = "dashboard/panels"


def render_panels(env: Environment, snapshot: DashboardSnapshot) -> dict[str, Markup]:
    """Every panel's HTML fragment, by panel name."""
    return {
        panel.name: Markup(  # noqa: S704 (rendered by an autoescaping environment)
            env.get_template(f"{TEMPLATE_DIR}/{panel.template}").render(
                panel=panel, **panel.context(snapshot)
            )
        )
        for panel in PANELS
    }


def money(amount: int, currency: str) -> str:
    """Minor units as the currency writes them: `money(25000, "USD")` is `250.00 USD`."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:  # a junk currency a failed request recorded: show what it said
        return f"{amount:,} (minor units) {currency}"
    value = Decimal(amount).scaleb(-exponent)
    return f"{value:,.{exponent}f} {currency}"


def minor(amount: int, currency: str) -> str:
    """`money` without the currency code (for a column headed by the currency)."""
    return money(amount, currency).removesuffix(f" {currency}")


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def register_filters(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["minor"] = minor
    env.filters["percent"] = percent
