"""Users: emails normalized and checked, every change an event, tokens revoked by changes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.email_claim import EmailClaim
from domain.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidTextError,
    SelfDeletionError,
    UserGoneError,
)
from domain.user import User, UserRole, UserStatus, normalize_email

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def user(role: UserRole = UserRole.CUSTOMER) -> User:
    return User.register(uuid4(), "Parent@Example.com", "Pat", "hash", role, NOW)


@pytest.mark.parametrize(
    "email", ["", "no-at", "a@b", "a @b.com", "@b.com", "a@@b.com", "x" * 250 + "@b.com"]
)
def test_refuses_an_email_that_is_not_one(email: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(email)


def test_emails_are_compared_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Parent@Example.COM ") == "parent@example.com"
    assert user().email == "parent@example.com"


def test_a_control_character_in_a_name_is_refused() -> None:
    with pytest.raises(InvalidTextError):
        User.register(uuid4(), "a@b.com", "Pat\x00", "hash", UserRole.CUSTOMER, NOW)


@pytest.mark.parametrize("change", ["password", "role", "deactivate", "delete"])
def test_changes_that_must_revoke_tokens_bump_the_credentials_version(change: str) -> None:
    person = user()
    before = person.credentials_version
    {
        "password": lambda: person.change_password("new-hash", NOW),
        "role": lambda: person.change_role(UserRole.ADMIN, NOW),
        "deactivate": lambda: person.deactivate(NOW),
        "delete": lambda: person.delete(None, NOW),
    }[change]()

    assert person.credentials_version == before + 1


def test_a_profile_change_keeps_tokens() -> None:
    person = user()
    person.change_profile("Pat Doe", NOW)

    assert (person.full_name, person.credentials_version) == ("Pat Doe", 1)


def test_an_admin_cannot_delete_themself_and_a_deleted_user_cannot_change() -> None:
    admin = user(UserRole.ADMIN)
    with pytest.raises(SelfDeletionError):
        admin.delete(admin.id, NOW)

    admin.delete(uuid4(), NOW)
    assert admin.status == UserStatus.DELETED
    with pytest.raises(UserGoneError):
        admin.change_profile("x", NOW)


def test_an_email_claim_is_held_by_one_user_and_free_once_released() -> None:
    first, second = uuid4(), uuid4()
    claim = EmailClaim.claim("a@b.com", first)

    with pytest.raises(EmailTakenError):
        claim.take(second)
    claim.release(first)
    claim.take(second)

    assert claim.holder == second
