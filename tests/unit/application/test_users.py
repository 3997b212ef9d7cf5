"""Users: sign-up, unique emails, sign-in, tokens that stop working, who may see whom."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from application.errors import (
    ForbiddenError,
    InvalidCredentialsError,
    InvalidPasswordError,
    UnauthenticatedError,
    UserNotFoundError,
)
from application.principal import SYSTEM, Principal
from application.users import UserChanges
from domain.errors import EmailTakenError, SelfDeletionError
from domain.user import UserRole
from tests.unit.application.people_support import People, customer, make_people
from tests.unit.application.support import CALLER, App, log_position

pytestmark = pytest.mark.unit


@pytest.fixture
def people(app: App) -> People:
    return make_people(app)


def test_signs_up_a_customer_and_signs_in_with_a_token_that_names_them(people: People) -> None:
    created = people.users.register(CALLER, "Pat@Example.com", "password-123", "Pat").value

    token = people.users.login("pat@example.com", "password-123")
    principal = people.users.authenticate(token.access_token)

    assert (created.email, created.role, created.is_active) == ("pat@example.com", "customer", True)
    assert principal == Principal(str(created.id), frozenset({UserRole.CUSTOMER}))
    assert token.token_type == "bearer"


def test_an_email_belongs_to_one_user_whatever_its_case(people: People, app: App) -> None:
    people.users.register(CALLER, "pat@example.com", "password-123")
    position = log_position(app)

    with pytest.raises(EmailTakenError):
        people.users.register(CALLER, "PAT@example.com", "password-456")

    assert log_position(app) == position


STRANGER = Principal("anonymous")  # an open sign-up: nobody signed in


def test_open_sign_up_cannot_choose_the_admin_role(people: People) -> None:
    with pytest.raises(ForbiddenError):
        people.users.register(STRANGER, "x@example.com", "password-123", "", UserRole.ADMIN)


@pytest.mark.parametrize("password", ["short", "x" * 129])
def test_a_password_is_8_to_128_characters(people: People, password: str) -> None:
    with pytest.raises(InvalidPasswordError):
        people.users.register(CALLER, "x@example.com", password)


@pytest.mark.parametrize(
    ("email", "password"),
    [("pat@example.com", "wrong-pass"), ("nobody@example.com", "password-123")],
)
def test_a_wrong_email_or_password_gets_no_token(people: People, email: str, password: str) -> None:
    people.users.register(CALLER, "pat@example.com", "password-123")

    with pytest.raises(InvalidCredentialsError):
        people.users.login(email, password)


@pytest.mark.parametrize("change", ["password", "deactivate", "delete", "role"])
def test_a_token_stops_working_after_a_change_of_credentials(people: People, change: str) -> None:
    pat = customer(people, "pat@example.com")
    token = people.users.login("pat@example.com", "password-123").access_token
    user_id = UUID(pat.subject)
    if change == "password":
        people.users.change_password(pat, "password-123", "password-456")
    elif change == "delete":
        people.users.delete_user(pat, user_id)
    elif change == "role":
        people.users.update_user(SYSTEM, user_id, UserChanges(role=UserRole.AUDITOR))
    else:
        people.users.update_user(SYSTEM, user_id, UserChanges(is_active=False))

    with pytest.raises(UnauthenticatedError):
        people.users.authenticate(token)


def test_a_new_password_must_differ_and_the_current_one_must_be_right(people: People) -> None:
    pat = customer(people, "pat@example.com")

    with pytest.raises(InvalidCredentialsError):
        people.users.change_password(pat, "not-it-at-all", "password-456")
    with pytest.raises(InvalidPasswordError):
        people.users.change_password(pat, "password-123", "password-123")


def test_a_deleted_users_email_is_free_again(people: People) -> None:
    pat = customer(people, "pat@example.com")
    people.users.delete_user(pat, UUID(pat.subject))

    again = people.users.register(CALLER, "pat@example.com", "password-789").value

    assert str(again.id) != pat.subject


def test_a_customer_sees_only_themself_and_another_user_is_not_found(people: People) -> None:
    pat = customer(people, "pat@example.com")
    sam = customer(people, "sam@example.com")

    assert people.users.get_user(pat, UUID(pat.subject)).email == "pat@example.com"
    for attempt in (
        lambda: people.users.get_user(pat, UUID(sam.subject)),
        lambda: people.users.get_user(pat, uuid4()),
    ):
        with pytest.raises(UserNotFoundError):
            attempt()
    with pytest.raises(ForbiddenError):
        people.users.update_user(pat, UUID(pat.subject), UserChanges(role=UserRole.ADMIN))


def test_an_admin_cannot_delete_themself(people: People) -> None:
    admin = people.users.register(SYSTEM, "root@example.com", "password-123", "", UserRole.ADMIN)
    me = Principal(str(admin.value.id), frozenset({UserRole.ADMIN}))

    with pytest.raises(SelfDeletionError):
        people.users.delete_user(me, admin.value.id)


def test_changing_email_moves_the_claim(people: People) -> None:
    pat = customer(people, "pat@example.com")
    people.users.update_user(pat, UUID(pat.subject), UserChanges(email="pat@new.example"))

    people.users.register(CALLER, "pat@example.com", "password-999")  # free again
    with pytest.raises(EmailTakenError):
        people.users.register(CALLER, "pat@new.example", "password-999")
    assert people.users.login("pat@new.example", "password-123").access_token
