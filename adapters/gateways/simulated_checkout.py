"""The simulated gateway's checkout sessions, kept in a database of their own.

A real gateway keeps its sessions on its own servers: whichever of our processes asks about
one (the request that served the success page, the reconciler of a worker, a second API
replica) gets the same answer. The simulated gateway has no server, so its sessions live in a
small table next to the read models (the SQLite file, or PostgreSQL), never in one process's
memory: the hosted page's Pay button in one process and `checkout_status` in another agree.

A session is `open` until it is `paid` or `cancelled` on its hosted page; an open session
older than its time to live is `expired` (computed when asked, as no one sweeps it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.views.sql import Row, ViewDatabase
from adapters.views.sqlite import SQLiteViewDatabase

TABLE = "simulated_gateway_checkout_sessions"
OPEN, PAID, CANCELLED, EXPIRED = "open", "paid", "cancelled", "expired"
SESSION_TTL_S = 30 * 60  # as Stripe's shortest session lifetime

_COLUMNS = (
    "session_id, attempt_key, amount_minor, currency, success_url, cancel_url, status, created_at"
)
_CREATE = (
    "CREATE TABLE IF NOT EXISTS {sessions} (session_id {text} PRIMARY KEY, "
    "attempt_key {text} NOT NULL, amount_minor {bigint} NOT NULL, currency {text} NOT NULL, "
    "success_url {text} NOT NULL, cancel_url {text} NOT NULL, status {text} NOT NULL, "
    "created_at {timestamp} NOT NULL)"
)
_INSERT = (
    "INSERT INTO {sessions} ({columns}) VALUES (?, ?, ?, ?, ?, ?, 'open', ?) "
    "ON CONFLICT (session_id) DO NOTHING"
)
_SELECT = "SELECT {columns} FROM {sessions} WHERE session_id = ?"
# Only an open, unexpired session changes: paid and cancelled are final, whoever clicks.
_SETTLE = (
    "UPDATE {sessions} SET status = ? WHERE session_id = ? AND status = 'open' AND created_at > ?"
)


@dataclass(frozen=True)
class SimulatedSession:
    """A checkout session as the simulated gateway keeps it."""

    session_id: str
    attempt_key: str
    amount_minor: int
    currency: str
    success_url: str
    cancel_url: str
    status: str  # open, paid, cancelled or expired


class SimulatedCheckoutSessions:
    """The sessions table on a `ViewDatabase` (it owns the database and closes it)."""

    def __init__(self, database: ViewDatabase, ttl_s: float = SESSION_TTL_S) -> None:
        self.database = database
        self.ttl = timedelta(seconds=ttl_s)
        names = {"sessions": database.table(TABLE), "columns": _COLUMNS}
        self._create = database.sql(_CREATE, names)
        self._insert = database.sql(_INSERT, names)
        self._select = database.sql(_SELECT, names)
        self._settle = database.sql(_SETTLE, names)

    @classmethod
    def in_memory(cls) -> SimulatedCheckoutSessions:
        """A private store for one process (tests, and the in-memory backend)."""
        store = cls(SQLiteViewDatabase.in_memory())
        store.create_table()
        return store

    def create_table(self) -> None:
        """Create the table if missing (safe to repeat)."""
        with self.database.transaction() as cursor:
            cursor.execute(self._create)

    def open(self, session: SimulatedSession, now: datetime) -> SimulatedSession:
        """Record a new open session; a session with this id already there is returned as
        it is (the same idempotency key asked again)."""
        db = self.database
        row = (
            session.session_id,
            session.attempt_key,
            session.amount_minor,
            session.currency,
            session.success_url,
            session.cancel_url,
            db.bind_time(now),
        )
        with db.transaction() as cursor:
            cursor.execute(self._insert, row)
            found = cursor.fetch_one(self._select, (session.session_id,))
        assert found is not None
        return self._session(found, now)

    def find(self, session_id: str, now: datetime | None = None) -> SimulatedSession | None:
        """The session as it stands at `now` (default: the clock), or None."""
        now = now or datetime.now(UTC)
        with self.database.reading() as cursor:
            found = cursor.fetch_one(self._select, (session_id,))
        return None if found is None else self._session(found, now)

    def settle(
        self, session_id: str, status: str, now: datetime | None = None
    ) -> SimulatedSession | None:
        """Mark an open session `paid` or `cancelled`; returns it as it then stands (a
        session that was no longer open is unchanged)."""
        assert status in (PAID, CANCELLED)
        now = now or datetime.now(UTC)
        cutoff = self.database.bind_time(now - self.ttl)
        with self.database.transaction() as cursor:
            cursor.execute(self._settle, (status, session_id, cutoff))
            found = cursor.fetch_one(self._select, (session_id,))
        return None if found is None else self._session(found, now)

    def close(self) -> None:
        self.database.close()

    def _session(self, row: Row, now: datetime) -> SimulatedSession:
        status = row["status"]
        created = self.database.read_time(row["created_at"])
        if status == OPEN and created <= now - self.ttl:
            status = EXPIRED
        return SimulatedSession(
            row["session_id"],
            row["attempt_key"],
            row["amount_minor"],
            row["currency"],
            row["success_url"],
            row["cancel_url"],
            status,
        )
