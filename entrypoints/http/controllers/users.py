"""Users (seeds 000, 002, 004): sign-up, sign-in, and accounts.

Sign-up (`POST /users`) and sign-in (`POST /users/login/access-token`, `POST /token`: the
OAuth2 password flow, a form of `username` and `password`) are public; the rest needs a
bearer token. Seed 004's trailing-slash paths (`/users/`, `/users/me/`) are the same routes.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter

from application.errors import InvalidCredentialsError
from application.people_queries import PeopleQueries
from application.principal import Principal
from application.results_people import AccessToken, UserOut, UserPage
from application.users import UserChanges, UserService
from domain.user import UserRole
from entrypoints.http.auth import ApiController
from entrypoints.http.params import PAGE_SIZE_DEFAULT, Cursor, MinPosition, PageSize
from entrypoints.http.problems import TooManyRequestsError, problem_responses
from entrypoints.http.ratelimit import RateLimiter
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response
from entrypoints.settings import Settings

UserId = Annotated[UUID, PathParameter(description="The user's id.")]
Email = Annotated[str, msgspec.Meta(max_length=254, examples=["parent@example.com"])]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
# No control characters (they would reach events and logs).
NO_CONTROL_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
FullName = Annotated[str, msgspec.Meta(max_length=200, pattern=NO_CONTROL_PATTERN)]
LOGIN_LIMITERS_KEY = "payledger_login_limiters"
PUBLIC = {"public": True}
NO_SECURITY: list[dict[str, list[str]]] = [{}]


class UserCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Sign up (a customer), or, as an admin, create a user with a role."""

    email: Email
    password: Password
    full_name: FullName = ""
    role: UserRole = UserRole.CUSTOMER


class UserUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Change a profile; `role` and `is_active` are for admins."""

    full_name: FullName | None = None
    email: Email | None = None
    role: UserRole | None = None
    is_active: bool | None = None


class MeUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Change your own profile."""

    full_name: FullName | None = None
    email: Email | None = None


class PasswordChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class LoginForm(msgspec.Struct, frozen=True):
    """The OAuth2 password grant: `username` is the email."""

    username: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=128)]
    grant_type: str | None = None
    scope: str = ""


async def _login(
    request: Request[Any, Any, Any], users: UserService, form: LoginForm
) -> Response[AccessToken]:
    """Sign in, rate-limited per account and per client address (argon2 costs CPU: a login
    flood must not take the service down)."""
    settings: Settings = await request.state.dishka_container.get(Settings)
    limiters = request.app.state.get(LOGIN_LIMITERS_KEY)
    if limiters is None:
        per_minute = settings.auth.login_attempts_per_minute
        limiters = request.app.state[LOGIN_LIMITERS_KEY] = (
            RateLimiter(per_minute),
            RateLimiter(per_minute * 5),
        )
    address = request.client.host if request.client else "unknown"
    account = form.username.strip().lower()
    by_account, by_address = limiters
    # Every attempt costs an argon2 hash: count each per address; per account, count failures
    # only, so guessing a password is slow and the owner signing in is never the one refused.
    wait_s = max(by_account.wait_s(f"account:{account}"), by_address.hit(f"address:{address}"))
    if wait_s:
        raise TooManyRequestsError(wait_s, "Too many sign-in attempts: retry after a while.")
    try:
        token = await in_thread(users.login, form.username, form.password)
    except InvalidCredentialsError:
        by_account.hit(f"account:{account}")
        raise
    return Response(token, headers={"Cache-Control": "no-store"})


FormBody = Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


class UserController(ApiController):
    path = "/users"
    tags = ["users"]

    @post(
        "/",
        operation_id="CreateUser",
        summary="Sign up (open: a customer), or create a user with a role (admins)",
        status_code=201,
        opt=PUBLIC,
        security=[{}, {"BearerToken": []}],
        responses=problem_responses(401, 403, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[UserCreate],
        users: FromDishka[UserService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[UserOut]:
        caller = await signup_caller(request, data.role)
        written = await in_thread(
            users.register,
            caller,
            data.email,
            data.password,
            data.full_name,
            data.role,
            idempotency_key,
        )
        return written_response(written, 201, f"/users/{written.value.id}")

    @get(
        "/",
        operation_id="ListUsers",
        summary="Every user, newest first (admins)",
        responses=problem_responses(401, 403, 503),
    )
    @inject
    async def list_users(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PeopleQueries],
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> UserPage:
        return await in_thread(queries.users, principal, cursor, limit, min_position)

    @get("/me", operation_id="GetMe", summary="Your account", responses=problem_responses(401))
    @inject
    async def get_me(
        self, principal: NamedDependency[Principal], users: FromDishka[UserService]
    ) -> UserOut:
        return await in_thread(users.get_user, principal, UUID(principal.subject))

    @patch(
        "/me",
        operation_id="UpdateMe",
        summary="Change your profile",
        responses=problem_responses(401, 409, 413, 415),
    )
    @inject
    async def update_me(
        self,
        data: JSONBody[MeUpdate],
        principal: NamedDependency[Principal],
        users: FromDishka[UserService],
    ) -> UserOut:
        changes = UserChanges(full_name=data.full_name, email=data.email)
        return await in_thread(users.update_user, principal, UUID(principal.subject), changes)

    @patch(
        "/me/password",
        operation_id="ChangeMyPassword",
        summary="Change your password (checks the current one; older tokens stop working)",
        responses=problem_responses(401, 413, 415),
    )
    @inject
    async def change_password(
        self,
        data: JSONBody[PasswordChange],
        principal: NamedDependency[Principal],
        users: FromDishka[UserService],
    ) -> UserOut:
        return await in_thread(
            users.change_password, principal, data.current_password, data.new_password
        )

    @delete(
        "/me",
        operation_id="DeleteMe",
        summary="Delete your account",
        status_code=204,
        responses=problem_responses(401, 409),
    )
    @inject
    async def delete_me(
        self, principal: NamedDependency[Principal], users: FromDishka[UserService]
    ) -> None:
        await in_thread(users.delete_user, principal, UUID(principal.subject))

    @get(
        "/{user_id:uuid}",
        operation_id="GetUser",
        summary="A user (admins; or yourself)",
        responses=problem_responses(401, 404),
    )
    @inject
    async def get_user(
        self, user_id: UserId, principal: NamedDependency[Principal], users: FromDishka[UserService]
    ) -> UserOut:
        return await in_thread(users.get_user, principal, user_id)

    @patch(
        "/{user_id:uuid}",
        operation_id="UpdateUser",
        summary="Change a user (admins)",
        responses=problem_responses(401, 403, 404, 409, 413, 415),
    )
    @inject
    async def update_user(
        self,
        user_id: UserId,
        data: JSONBody[UserUpdate],
        principal: NamedDependency[Principal],
        users: FromDishka[UserService],
    ) -> UserOut:
        changes = UserChanges(data.full_name, data.email, data.role, data.is_active)
        return await in_thread(users.update_user, principal, user_id, changes)

    @delete(
        "/{user_id:uuid}",
        operation_id="DeleteUser",
        status_code=204,
        summary="Delete a user (admins; not themselves)",
        responses=problem_responses(401, 403, 404, 409),
    )
    @inject
    async def delete_user(
        self, user_id: UserId, principal: NamedDependency[Principal], users: FromDishka[UserService]
    ) -> None:
        await in_thread(users.delete_user, principal, user_id)

    @post(
        "/login/access-token",
        operation_id="LoginAccessToken",
        status_code=200,
        summary="Sign in: an OAuth2 password grant (form: username = email, password)",
        opt=PUBLIC,
        security=NO_SECURITY,
        responses=problem_responses(401, 415),
    )
    @inject
    async def login(
        self, request: Request[Any, Any, Any], data: FormBody, users: FromDishka[UserService]
    ) -> Response[AccessToken]:
        return await _login(request, users, data)


class TokenController(ApiController):
    """Seed 004's token endpoint: the same sign-in at `POST /token`."""

    path = "/token"
    tags = ["users"]

    @post(
        "/",
        operation_id="Token",
        status_code=200,
        opt=PUBLIC,
        security=NO_SECURITY,
        summary="Sign in: an OAuth2 password grant (form: username = email, password)",
        responses=problem_responses(401, 415),
    )
    @inject
    async def token(
        self, request: Request[Any, Any, Any], data: FormBody, users: FromDishka[UserService]
    ) -> Response[AccessToken]:
        return await _login(request, users, data)


async def signup_caller(request: Request[Any, Any, Any], role: UserRole) -> Principal:
    """Who signs up: anyone for a customer account (open sign-up, keys scoped to the
    anonymous caller); for any other role, an authenticated admin."""
    from entrypoints.http.auth import ANONYMOUS, authenticate

    if role == UserRole.CUSTOMER and "authorization" not in request.headers:
        return ANONYMOUS
    return await authenticate(request)
