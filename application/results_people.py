"""What the identity and catalog use cases return (also the HTTP response bodies)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.registration import RegistrationStatus
from domain.user import UserRole, UserStatus


class UserOut(msgspec.Struct, frozen=True):
    """A user, without any password material."""

    id: UUID
    email: str
    full_name: str
    role: UserRole
    status: UserStatus
    is_active: bool
    is_superuser: bool  # seed 000/004 clients read this name for admins
    created_at: datetime
    updated_at: datetime


class UserPage(msgspec.Struct, frozen=True):
    data: list[UserOut]
    count: int
    next_cursor: str | None


class AccessToken(msgspec.Struct, frozen=True):
    """An OAuth2 bearer token (RFC 6749 names)."""

    access_token: str
    token_type: str
    expires_in: int


class SchoolOut(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    address: str


class SchoolPage(msgspec.Struct, frozen=True):
    data: list[SchoolOut]
    count: int
    next_cursor: str | None


class TripOut(msgspec.Struct, frozen=True):
    """A trip with its seats: taken (confirmed + held) and left."""

    id: UUID
    school_id: UUID
    title: str
    description: str
    location: str
    date: datetime
    price: int
    currency: str
    capacity: int
    seats_taken: int
    seats_left: int


class TripPage(msgspec.Struct, frozen=True):
    data: list[TripOut]
    count: int
    next_cursor: str | None


class RegistrationOut(msgspec.Struct, frozen=True):
    id: UUID
    trip_id: UUID
    parent_id: str
    student_name: str
    status: RegistrationStatus
    price: int
    currency: str
    payment_id: UUID | None
    reason: str
    refund: int
    created_at: datetime
    updated_at: datetime


class RegistrationPage(msgspec.Struct, frozen=True):
    data: list[RegistrationOut]
    count: int
    next_cursor: str | None
