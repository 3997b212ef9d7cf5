"""`/dashboard`: the operators' page (admins), its sign-in, and its live stream.

Outside the JSON API: HTML pages signed in by a session cookie (`session.py`), not in the
OpenAPI document. Every answer forbids framing and caching, and the page runs only the one
script served from `/dashboard/assets` (a Content-Security-Policy of `'self'`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from application.dashboard import DEFAULT_WINDOW, WINDOWS, DashboardQueries
from application.errors import InvalidCredentialsError
from application.ports.new_events import NewEvents
from application.users import UserService
from entrypoints.http.controllers.users import LoginForm, _login
from entrypoints.http.dashboard import live
from entrypoints.http.dashboard.panels import PANELS, register_filters, render_panels
from entrypoints.http.dashboard.session import (
    DASHBOARD_PATH,
    cleared_cookie,
    is_https,
    same_origin,
    session_cookie,
    session_principal,
)
from entrypoints.http.problems import TooManyRequestsError
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings

LOGIN_PATH = f"{DASHBOARD_PATH}/login"
ASSETS_PATH = f"{DASHBOARD_PATH}/assets"
HUB_STATE_KEY = "payledger_dashboard_live"
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]
Window = Annotated[str, QueryParameter(description="The chart's time window: 1h, 24h or 7d.")]
LoginBody = Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
CROSS_SITE = "This form was sent from another site: refused."
ADMINS_ONLY = "Only admins may open the dashboard."


def _login_page(error: str = "", email: str = "", status: int = 200) -> Template:
    return Template(
        "dashboard/login.html", context={"error": error, "email": email}, status_code=status
    )


def _refused(message: str = ADMINS_ONLY, status: int = 403) -> Template:
    return Template("dashboard/refused.html", context={"message": message}, status_code=status)


def _engine_env(request: Request[Any, Any, Any]) -> Any:
    return request.app.template_engine.engine  # type: ignore[union-attr]


class DashboardController(Controller):
    path = DASHBOARD_PATH
    include_in_schema = False
    response_headers = SECURITY_HEADERS

    @get("/")
    @inject
    async def page(
        self,
        request: Request[Any, Any, Any],
        dashboard: FromDishka[DashboardQueries],
        window: Window = DEFAULT_WINDOW,
    ) -> Response[Any]:
        principal = await session_principal(request)
        if principal is None:
            return Redirect(LOGIN_PATH, status_code=303)
        if not principal.is_admin:
            return _refused()
        snapshot = await in_thread(dashboard.snapshot, principal, window)
        context = {
            "panels": PANELS,
            "rendered": await in_thread(render_panels, _engine_env(request), snapshot),
            "windows": list(WINDOWS),
            "window": snapshot.window,
            "generated_at": snapshot.generated_at,
            "log_position": snapshot.log_position,
        }
        return Template("dashboard/page.html", context=context)

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = await session_principal(request)
        if principal is not None and principal.is_admin:
            return Redirect(DASHBOARD_PATH, status_code=303)
        return _login_page()

    @post("/login", status_code=303)
    @inject
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: LoginBody,
        users: FromDishka[UserService],
        settings: FromDishka[Settings],
    ) -> Response[Any]:
        if not same_origin(request):
            return _refused(CROSS_SITE)
        try:
            answer = await _login(request, users, data)
        except InvalidCredentialsError:
            return _login_page("Wrong email or password.", data.username, 401)
        except TooManyRequestsError as error:
            page = _login_page("Too many sign-in attempts: retry after a while.", "", 429)
            page.headers["Retry-After"] = str(error.retry_after_s)
            return page
        token = answer.content
        principal = await in_thread(users.authenticate, token.access_token)
        if not principal.is_admin:
            return _refused()
        cookie = session_cookie(token.access_token, token.expires_in, is_https(request, settings))
        return Redirect(DASHBOARD_PATH, status_code=303, cookies=[cookie])

    @post("/logout", status_code=303)
    @inject
    async def logout(
        self, request: Request[Any, Any, Any], settings: FromDishka[Settings]
    ) -> Response[Any]:
        if not same_origin(request):
            return _refused(CROSS_SITE)
        cookie = cleared_cookie(is_https(request, settings))
        return Redirect(LOGIN_PATH, status_code=303, cookies=[cookie])

    @get("/events")
    @inject
    async def events(
        self,
        request: Request[Any, Any, Any],
        dashboard: FromDishka[DashboardQueries],
        new_events: FromDishka[NewEvents],
        window: Window = DEFAULT_WINDOW,
    ) -> Response[Any]:
        principal = await session_principal(request)
        if principal is None:
            return Response("sign in first", status_code=401, media_type="text/plain")
        if not principal.is_admin:
            return Response(ADMINS_ONLY, status_code=403, media_type="text/plain")
        hub = request.app.state.get(HUB_STATE_KEY)
        if hub is None:
            env = _engine_env(request)
            hub = live.LiveHub(
                new_events,
                asyncio.get_running_loop(),
                dashboard,
                lambda snapshot: render_panels(env, snapshot),
            )
            request.app.state[HUB_STATE_KEY] = hub
        if hub.streams >= live.STREAMS_MAX:
            return Response("too many open dashboards", status_code=503, media_type="text/plain")
        window = window if window in WINDOWS else DEFAULT_WINDOW
        return ServerSentEvent(live.stream(hub, window, lambda: session_principal(request)))


def dashboard_assets_router() -> Router:
    """The dashboard's script and stylesheet, served by this process (no CDN)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[Path(__file__).parents[1] / "static" / "dashboard"],
        name="dashboard-assets",
        include_in_schema=False,
    )


def dashboard_templates() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja templates (autoescaped) with the dashboard's filters."""
    return TemplateConfig(
        directory=Path(__file__).parents[1] / "templates",
        engine=JinjaTemplateEngine,
        engine_callback=lambda engine: register_filters(engine.engine),
    )
