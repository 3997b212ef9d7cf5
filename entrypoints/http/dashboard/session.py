"""The dashboard's sign-in: an admin's access token in a cookie the page cannot read.

The login form posts the email and password to `/dashboard/login` (the same sign-in, with the
same rate limits, as `POST /token`); an admin's token goes into the session cookie:
`HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page or form sends it:
with the `Origin` check on every POST, that is the CSRF defence), `Secure` when the service is
reached over https, `Path=/dashboard` (the API never sees it: it takes bearer tokens only),
and no longer-lived than the token. Every request checks the token again (expired, revoked,
role changed: signed out), and only admins get in.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from application.errors import UnauthenticatedError
from application.principal import Principal
from application.users import UserService
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings

DASHBOARD_PATH = "/dashboard"
COOKIE_NAME = "payledger_dashboard"
TOKEN_LENGTH_MAX = 4096


async def session_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """Who the session cookie signs in (None without a valid one)."""
    token = request.cookies.get(COOKIE_NAME, "")
    if not token or len(token) > TOKEN_LENGTH_MAX:
        return None
    users: UserService = await request.state.dishka_container.get(UserService)
    try:
        return await in_thread(users.authenticate, token)
    except UnauthenticatedError:
        return None


def is_https(request: Request[Any, Any, Any], settings: Settings) -> bool:
    """Whether browsers reach this service over https (then the cookie is `Secure`)."""
    return request.url.scheme == "https" or settings.http.base_url.startswith("https://")


def session_cookie(token: str, max_age_s: int, secure: bool) -> Cookie:
    return Cookie(
        key=COOKIE_NAME,
        value=token,
        path=DASHBOARD_PATH,
        max_age=max_age_s,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def cleared_cookie(secure: bool) -> Cookie:
    """Tells the browser to forget the session."""
    return Cookie(
        key=COOKIE_NAME,
        value="",
        path=DASHBOARD_PATH,
        max_age=0,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """A POST from one of our own pages: no `Origin` (old browsers, scripts) or ours.
    Browsers send `Origin` on every cross-site POST, so a form on another site is refused
    even where SameSite cookies are not enforced."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own
