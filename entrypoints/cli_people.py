"""`payledger users create-admin` and `payledger seed-demo`: first accounts and demo data."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import click
from eventsourcing.utils import get_topic

from application.catalog import CatalogService
from application.ledger import Ledger
from application.principal import SYSTEM
from application.users import UserService
from domain.errors import EmailTakenError
from domain.money import Money
from domain.trip import TripDetails
from domain.user import User, UserRole
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings

DEMO_ADMIN = ("admin@schooly.com", "adminpassword", "Schooly Admin")  # seed 000's demo users
DEMO_PARENT = ("parent@example.com", "parentpassword", "Demo Parent")


def users_exist(ledger: Ledger) -> bool:
    """Whether anyone ever registered (read from the log: no read model needed)."""
    topic = get_topic(User.Registered)
    found = ledger.recorder.select_notifications(start=1, limit=1, topics=[topic])
    return bool(found)


def ensure_first_admin(settings: Settings) -> None:
    """Create the admin that PAYLEDGER_ADMIN_EMAIL/PASSWORD name, unless that email already
    has an account (so every start may run it). Tables must exist."""
    auth = settings.auth
    if not auth.admin_email:
        return
    if not auth.admin_password:
        raise click.ClickException(
            "PAYLEDGER_ADMIN_EMAIL is set: set PAYLEDGER_ADMIN_PASSWORD too."
        )
    container = build_sync_container(settings, create_tables=False)
    try:
        people = container.get(UserService)
        people.register(SYSTEM, auth.admin_email, auth.admin_password, "Admin", UserRole.ADMIN)
        click.echo(f"Admin {auth.admin_email} created.")
    except EmailTakenError:
        pass
    finally:
        container.close()


@click.group()
def users() -> None:
    """Accounts."""


@users.command("create-admin")
@click.option("--email", required=True, help="The admin's email (sign-in name).")
@click.option("--full-name", default="", help="The admin's name.")
def create_admin(email: str, full_name: str) -> None:
    """Create an admin (password from PAYLEDGER_ADMIN_PASSWORD, else asked for)."""
    password = os.environ.get("PAYLEDGER_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    settings = load_settings()
    migrate(settings)
    container = build_sync_container(settings, create_tables=False)
    try:
        user = container.get(UserService).register(
            SYSTEM, email, password, full_name, UserRole.ADMIN
        )
    finally:
        container.close()
    click.echo(f"Admin {user.value.email} created (id {user.value.id}).")


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Run even if the database already has users.")
def seed_demo(force: bool) -> None:
    """Create seed 000's demo data: an admin, a parent, a school and a trip (development)."""
    settings = load_settings()
    migrate(settings)
    container = build_sync_container(settings, create_tables=False)
    try:
        if users_exist(container.get(Ledger)) and not force:
            raise click.ClickException(
                "This database already has users: seed-demo is for empty development "
                "databases (use --force to add the demo data anyway)."
            )
        people = container.get(UserService)
        for (email, password, name), role in (
            (DEMO_ADMIN, UserRole.ADMIN),
            (DEMO_PARENT, UserRole.CUSTOMER),
        ):
            people.register(SYSTEM, email, password, name, role)
        catalog = container.get(CatalogService)
        school = catalog.create_school(SYSTEM, "Schooly Primary", "1 School Lane").value
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
        details = TripDetails(
            "Museum visit",
            "A day at the science museum.",
            "City Museum",
            starts,
            Money(2_500, "USD"),
            30,
        )
        trip = catalog.create_trip(SYSTEM, school.id, details).value
    finally:
        container.close()
    click.echo(
        f"Demo data: admin {DEMO_ADMIN[0]}, parent {DEMO_PARENT[0]}, "
        f"school {school.id}, trip {trip.id}."
    )
