"""Lists of users, schools, trips and registrations, from the document view (newest first,
paginated; pass `min_position` to read your own write)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

import msgspec

from application.ports.documents import DocumentView
from application.principal import Principal
from application.queries import (
    PAGE_SIZE_MAX,
    WAIT_TIMEOUT_S,
    decode_position_cursor,
    encode_position_cursor,
)
from application.results_people import (
    RegistrationOut,
    RegistrationPage,
    SchoolOut,
    SchoolPage,
    TripOut,
    TripPage,
    UserOut,
    UserPage,
)
from application.view_positions import wait_in_thread

T = TypeVar("T")
PAGE_SIZE_DEFAULT = 50


class PeopleQueries:
    """Reads of the document view, scoped by who asks."""

    def __init__(
        self,
        view: DocumentView,
        log_end: Callable[[], int | None],
        wait_timeout_s: float = WAIT_TIMEOUT_S,
    ) -> None:
        self.view = view
        self.log_end = log_end  # lists wait for the log's end: they hold every write before
        self.wait_timeout_s = wait_timeout_s

    def users(
        self,
        caller: Principal,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> UserPage:
        """Every user (admins and auditors only)."""
        if not caller.may_read_everything:
            caller.require_admin()
        rows, next_cursor = self._page("user", None, None, cursor, limit, min_position, UserOut)
        return UserPage(rows, len(rows), next_cursor)

    def schools(
        self,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> SchoolPage:
        rows, next_cursor = self._page("school", None, None, cursor, limit, min_position, SchoolOut)
        return SchoolPage(rows, len(rows), next_cursor)

    def trips(
        self,
        school_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> TripPage:
        parent = str(school_id) if school_id else None
        rows, next_cursor = self._page("trip", None, parent, cursor, limit, min_position, TripOut)
        return TripPage(rows, len(rows), next_cursor)

    def registrations(
        self,
        caller: Principal,
        mine: bool,
        trip_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> RegistrationPage:
        """The caller's registrations (`mine`), or everyone's (admins and auditors)."""
        if not mine and not caller.may_read_everything:
            caller.require_admin()
        owner = caller.subject if mine else None
        parent = str(trip_id) if trip_id else None
        rows, next_cursor = self._page(
            "registration", owner, parent, cursor, limit, min_position, RegistrationOut
        )
        return RegistrationPage(rows, len(rows), next_cursor)

    def _page(
        self,
        kind: str,
        owner: str | None,
        parent: str | None,
        cursor: str | None,
        limit: int,
        min_position: int | None,
        type_: type[T],
    ) -> tuple[list[T], str | None]:
        before = decode_position_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        # Without a position, the log's end now: a sequential client reads its own writes.
        wait_in_thread(self.view, min_position, self.log_end, self.wait_timeout_s)
        rows = self.view.page(kind, owner, parent, before, limit + 1)
        items = [msgspec.json.decode(document, type=type_) for _, document in rows[:limit]]
        more = len(rows) > limit
        return items, encode_position_cursor(rows[limit - 1][0]) if more else None
