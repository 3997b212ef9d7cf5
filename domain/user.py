"""User: someone who signs in: an admin, a customer (seed 000's parent) or an auditor.

Every change is an event; a deleted user stays in the log (auditors see who did what) but can
no longer sign in, and its email becomes free again. Passwords are stored only as a hash made
by the application's password hasher; the domain never sees a password.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    InvalidEmailError,
    InvalidFullNameError,
    SelfDeletionError,
    UserGoneError,
)
from domain.text import check_text

EMAIL_LENGTH_MAX = 254
FULL_NAME_LENGTH_MAX = 200


class UserRole(StrEnum):
    """What a user may do: admins act for anyone, customers for themselves, auditors read."""

    ADMIN = "admin"
    CUSTOMER = "customer"
    AUDITOR = "auditor"


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"
    DELETED = "DELETED"


def normalize_email(email: str) -> str:
    """The form emails are compared in: trimmed and lower-cased (addresses are
    case-insensitive in practice), checked for one `@` with text on both sides."""
    normalized = email.strip().lower()
    local, at, domain = normalized.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or "@" in domain
        or len(normalized) > EMAIL_LENGTH_MAX
        or any(c.isspace() for c in normalized)
    ):
        raise InvalidEmailError()
    check_text(normalized, "email", EMAIL_LENGTH_MAX)
    return normalized


def check_full_name(full_name: str) -> str:
    if len(full_name) > FULL_NAME_LENGTH_MAX:
        raise InvalidFullNameError()
    check_text(full_name, "full_name", FULL_NAME_LENGTH_MAX)
    return full_name


class User(Aggregate):
    """A user account. `credentials_version` changes whenever a token must stop working."""

    class Registered(Aggregate.Created):
        email: str
        full_name: str
        password_hash: str
        role: str
        at: datetime

    class ProfileChanged(Aggregate.Event):
        full_name: str
        at: datetime

    class EmailChanged(Aggregate.Event):
        email: str
        at: datetime

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        at: datetime

    class RoleChanged(Aggregate.Event):
        role: str
        at: datetime

    class Deactivated(Aggregate.Event):
        at: datetime

    class Deleted(Aggregate.Event):
        at: datetime

    @classmethod
    def register(
        cls,
        user_id: UUID,
        email: str,
        full_name: str,
        password_hash: str,
        role: UserRole,
        at: datetime,
    ) -> User:
        """A new active user; `email` must be normalized (see `normalize_email`)."""
        return cls._create(
            cls.Registered,
            id=user_id,
            email=normalize_email(email),
            full_name=check_full_name(full_name),
            password_hash=password_hash,
            role=str(role),
            at=at,
        )

    @event(Registered)
    def __init__(
        self, email: str, full_name: str, password_hash: str, role: str, at: datetime
    ) -> None:
        self.email = email
        self.full_name = full_name
        self.password_hash = password_hash
        self.role = UserRole(role)
        self.status = UserStatus.ACTIVE
        self.credentials_version = 1
        self.created_at = at
        self.updated_at = at

    @property
    def active(self) -> bool:
        return self.status == UserStatus.ACTIVE

    # Commands: each refuses to change a deleted user.

    def change_profile(self, full_name: str, at: datetime) -> None:
        self._require_present()
        if full_name != self.full_name:
            self._change_profile(check_full_name(full_name), at)

    def change_email(self, email: str, at: datetime) -> None:
        self._require_present()
        normalized = normalize_email(email)
        if normalized != self.email:
            self._change_email(normalized, at)

    def change_password(self, password_hash: str, at: datetime) -> None:
        """A new password: every token issued before stops working."""
        self._require_present()
        self._change_password(password_hash, at)

    def change_role(self, role: UserRole, at: datetime) -> None:
        """A new role: tokens carrying the old one stop working."""
        self._require_present()
        if role != self.role:
            self._change_role(str(role), at)

    def deactivate(self, at: datetime) -> None:
        self._require_present()
        if self.status == UserStatus.ACTIVE:
            self._deactivate(at)

    def delete(self, by_user_id: UUID | None, at: datetime) -> None:
        """Delete the user (an admin cannot delete themself: someone must be left)."""
        self._require_present()
        if by_user_id == self.id and self.role == UserRole.ADMIN:
            raise SelfDeletionError()
        self._delete(at)

    def _require_present(self) -> None:
        if self.status == UserStatus.DELETED:
            raise UserGoneError()

    # State changes: they only assign.

    @event(ProfileChanged)
    def _change_profile(self, full_name: str, at: datetime) -> None:
        self.full_name = full_name
        self.updated_at = at

    @event(EmailChanged)
    def _change_email(self, email: str, at: datetime) -> None:
        self.email = email
        self.updated_at = at

    @event(PasswordChanged)
    def _change_password(self, password_hash: str, at: datetime) -> None:
        self.password_hash = password_hash
        self.credentials_version += 1
        self.updated_at = at

    @event(RoleChanged)
    def _change_role(self, role: str, at: datetime) -> None:
        self.role = UserRole(role)
        self.credentials_version += 1
        self.updated_at = at

    @event(Deactivated)
    def _deactivate(self, at: datetime) -> None:
        self.status = UserStatus.DEACTIVATED
        self.credentials_version += 1
        self.updated_at = at

    @event(Deleted)
    def _delete(self, at: datetime) -> None:
        self.status = UserStatus.DELETED
        self.credentials_version += 1
        self.updated_at = at
