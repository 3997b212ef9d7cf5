"""User use cases: sign up, sign in, read and change accounts (seeds 000, 002 and 004).

Passwords are hashed before the command runs (argon2 costs CPU: never inside a lock). An
email address belongs to one user at a time, enforced by an `EmailClaim` aggregate saved in
the same transaction as the user. Tokens carry the user's credentials version: a new
password, a new role, deactivation or deletion makes every older token stop working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from uuid import UUID

from application import presenters_people
from application.errors import (
    InvalidCredentialsError,
    InvalidPasswordError,
    UnauthenticatedError,
    UserNotFoundError,
)
from application.idempotency import keyed_request
from application.ports.identity import (
    InvalidTokenError,
    PasswordHasher,
    TokenClaims,
    TokenCodec,
)
from application.principal import Principal
from application.results import Written
from application.results_people import AccessToken, UserOut
from application.runner import CommandRunner, UnitOfWork
from domain.email_claim import EmailClaim, email_claim_id
from domain.user import User, UserRole, UserStatus, check_full_name, normalize_email

PASSWORD_LENGTH_MIN = 8
PASSWORD_LENGTH_MAX = 128
TOKEN_TTL = timedelta(minutes=30)


def check_password(password: str) -> str:
    if not PASSWORD_LENGTH_MIN <= len(password) <= PASSWORD_LENGTH_MAX:
        raise InvalidPasswordError(
            f"A password holds {PASSWORD_LENGTH_MIN} to {PASSWORD_LENGTH_MAX} characters."
        )
    return password


@dataclass(frozen=True)
class UserChanges:
    """What an update changes (None: unchanged)."""

    full_name: str | None = None
    email: str | None = None
    role: UserRole | None = None
    is_active: bool | None = None


class UserService:
    """Accounts and access tokens."""

    def __init__(
        self,
        runner: CommandRunner,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        token_ttl: timedelta = TOKEN_TTL,
    ) -> None:
        self.runner = runner
        self.hasher = hasher
        self.tokens = tokens
        self.token_ttl = token_ttl
        # Hashing a password nobody has takes as long as checking a real one: a login for
        # an unknown email is not faster than one with a wrong password.
        self._decoy_hash = hasher.hash("decoy-password-never-used")

    # Sign-up and sign-in.

    def register(
        self,
        caller: Principal,
        email: str,
        password: str,
        full_name: str = "",
        role: UserRole = UserRole.CUSTOMER,
        idempotency_key: str | None = None,
    ) -> Written[UserOut]:
        """A new account: open sign-up makes customers; only an admin gives other roles."""
        if role != UserRole.CUSTOMER:
            caller.require_admin()
        normalized = normalize_email(email)
        check_full_name(full_name)
        # The digest covers who signs up, not the password (a hash of it would be a verifier).
        request = keyed_request(
            caller, idempotency_key, "register", email=normalized, name=full_name, role=role
        )
        password_hash = self.hasher.hash(check_password(password))
        command = partial(self._register, normalized, full_name, password_hash, role)
        return self.runner.run(
            command, presenters_people.user, request, [email_claim_id(normalized)]
        )

    def _register(
        self, email: str, full_name: str, password_hash: str, role: UserRole, uow: UnitOfWork
    ) -> User:
        user = User.register(uow.command_id, email, full_name, password_hash, role, uow.now)
        uow.save(user, self._claim(uow, email, user.id))
        return user

    def login(self, email: str, password: str) -> AccessToken:
        """A bearer token for the user with this email and password."""
        try:
            normalized = normalize_email(email)
        except Exception:
            raise InvalidCredentialsError() from None
        user = self._user_by_email(normalized)
        if user is None or not user.active:
            self.hasher.verify(self._decoy_hash, password)  # the same time either way
            raise InvalidCredentialsError()
        if not self.hasher.verify(user.password_hash, password):
            raise InvalidCredentialsError()
        now = self.runner.clock.now()
        claims = TokenClaims(
            subject=str(user.id),
            role=str(user.role),
            credentials_version=user.credentials_version,
            issued_at=now,
            expires_at=now + self.token_ttl,
        )
        return AccessToken(self.tokens.issue(claims), "bearer", int(self.token_ttl.total_seconds()))

    def authenticate(self, token: str) -> Principal:
        """The principal of a valid token whose user is still active, with the same
        credentials and role as when it was issued."""
        try:
            claims = self.tokens.read(token)
            user = self.runner.read(User, UUID(claims.subject), UserNotFoundError, shared=True)
        except (InvalidTokenError, UserNotFoundError, ValueError):
            raise UnauthenticatedError() from None
        if (
            not user.active
            or user.credentials_version != claims.credentials_version
            or str(user.role) != claims.role
        ):
            raise UnauthenticatedError()
        return Principal(str(user.id), frozenset({user.role}))

    # Reading and changing accounts.

    def get_user(self, caller: Principal, user_id: UUID) -> UserOut:
        """A user: admins and auditors read anyone, a user themself; else not found."""
        user = self._visible(caller, user_id)
        return presenters_people.user(user)

    def update_user(self, caller: Principal, user_id: UUID, changes: UserChanges) -> UserOut:
        """Change a profile: a user their name and email; an admin anything of anyone."""
        self._visible(caller, user_id)
        if changes.role is not None or changes.is_active is not None:
            caller.require_admin()
        if not caller.may_act_for(str(user_id)):
            caller.require_admin()
        if changes.email is not None:
            normalize_email(changes.email)
        command = partial(self._update, user_id, changes)
        return self.runner.run(command, presenters_people.user, None, self._locks(user_id)).value

    def _update(self, user_id: UUID, changes: UserChanges, uow: UnitOfWork) -> User:
        user = uow.get(User, user_id, UserNotFoundError)
        if changes.full_name is not None:
            user.change_profile(changes.full_name, uow.now)
        if changes.email is not None and normalize_email(changes.email) != user.email:
            old = uow.get(EmailClaim, email_claim_id(user.email), UserNotFoundError)
            old.release(user.id)
            new = self._claim(uow, normalize_email(changes.email), user.id)
            user.change_email(changes.email, uow.now)
            uow.save(old, new)
        if changes.role is not None:
            user.change_role(changes.role, uow.now)
        if changes.is_active is False:
            user.deactivate(uow.now)
        uow.save(user)
        return user

    def change_password(self, caller: Principal, current: str, new: str) -> UserOut:
        """Check the current password, then set a different new one."""
        user_id = _user_id_of(caller)
        if user_id is None:
            raise UserNotFoundError()
        user = self.runner.read(User, user_id, UserNotFoundError)
        if not self.hasher.verify(user.password_hash, current):
            raise InvalidCredentialsError("The current password is wrong.")
        if current == new:
            raise InvalidPasswordError("The new password must differ from the current one.")
        password_hash = self.hasher.hash(check_password(new))
        command = partial(self._set_password, user_id, password_hash)
        return self.runner.run(command, presenters_people.user, None, [user_id]).value

    def _set_password(self, user_id: UUID, password_hash: str, uow: UnitOfWork) -> User:
        user = uow.get(User, user_id, UserNotFoundError)
        user.change_password(password_hash, uow.now)
        uow.save(user)
        return user

    def delete_user(self, caller: Principal, user_id: UUID) -> None:
        """Delete an account (a user themself, or an admin anyone but themself)."""
        self._visible(caller, user_id)
        if not caller.may_act_for(str(user_id)):
            caller.require_admin()
        command = partial(self._delete, user_id, _user_id_of(caller))
        self.runner.run(command, presenters_people.user, None, self._locks(user_id))

    def _delete(self, user_id: UUID, by: UUID | None, uow: UnitOfWork) -> User:
        user = uow.get(User, user_id, UserNotFoundError)
        claim = uow.get(EmailClaim, email_claim_id(user.email), UserNotFoundError)
        user.delete(by, uow.now)
        claim.release(user.id)
        uow.save(user, claim)
        return user

    # Helpers.

    def _visible(self, caller: Principal, user_id: UUID) -> User:
        """The user if the caller may see it; another user's account is not found."""
        if not caller.may_read(str(user_id)):
            raise UserNotFoundError()
        user = self.runner.read(User, user_id, UserNotFoundError)
        if user.status == UserStatus.DELETED:
            raise UserNotFoundError()
        return user

    def _user_by_email(self, email: str) -> User | None:
        try:
            claim = self.runner.read(EmailClaim, email_claim_id(email), UserNotFoundError)
            if claim.holder is None:
                return None
            return self.runner.read(User, claim.holder, UserNotFoundError)
        except UserNotFoundError:
            return None

    @staticmethod
    def _claim(uow: UnitOfWork, email: str, user_id: UUID) -> EmailClaim:
        """The email's claim, taken by `user_id` (new, or a released one taken again)."""
        claim = uow.find(EmailClaim, email_claim_id(email))
        if claim is None:
            return EmailClaim.claim(email, user_id)
        claim.take(user_id)
        return claim

    @staticmethod
    def _locks(user_id: UUID) -> list[UUID]:
        return [user_id]


def _user_id_of(caller: Principal) -> UUID | None:
    """The caller's user id (None for a caller that is not a user, such as the system)."""
    try:
        return UUID(caller.subject)
    except ValueError:
        return None
