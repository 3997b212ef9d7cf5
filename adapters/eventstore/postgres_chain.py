"""The hash chain's tables on PostgreSQL, next to the events table of the same schema:
`<events>_chain(notification_id, link)` and `<events>_checkpoints(notification_id, link,
signature, public_key)`. See `hash_chain.py` for when they are written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composed, Identifier

from adapters.eventstore.hash_chain import ChainPolicy, Extension, extend

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent
    from psycopg import Cursor

BACKFILL_PAGE = 10_000


@dataclass(frozen=True)
class PostgresChainTables:
    """The statements of one events table's chain."""

    create: list[Composed]
    select_head: Composed
    insert_links: Composed
    insert_checkpoint: Composed
    select_after: Composed
    lock_events: Composed

    @classmethod
    def of(cls, schema: str, events_table: str) -> PostgresChainTables:
        s = Identifier(schema)
        events = Identifier(events_table)
        chain = Identifier(f"{events_table}_chain")
        checkpoints = Identifier(f"{events_table}_checkpoints")
        return cls(
            create=[
                SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} ("
                    "notification_id bigint PRIMARY KEY, link bytea NOT NULL)"
                ).format(s, chain),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} ("
                    "notification_id bigint PRIMARY KEY, link bytea NOT NULL, "
                    "signature bytea NOT NULL, public_key bytea NOT NULL)"
                ).format(s, checkpoints),
            ],
            select_head=SQL(
                "SELECT notification_id, link FROM {}.{} ORDER BY notification_id DESC LIMIT 1"
            ).format(s, chain),
            insert_links=SQL("INSERT INTO {}.{} (notification_id, link) VALUES (%s, %s)").format(
                s, chain
            ),
            insert_checkpoint=SQL(
                "INSERT INTO {}.{} (notification_id, link, signature, public_key) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(s, checkpoints),
            select_after=SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(s, events),
            lock_events=SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(s, events),
        )


def head_of(row: Any) -> tuple[int, bytes] | None:
    """The (position, link) of a head row (dict or tuple), None for an empty chain."""
    if row is None:
        return None
    if isinstance(row, dict):
        return int(row["notification_id"]), bytes(row["link"])
    return int(row[0]), bytes(row[1])


def write_extension(curs: Cursor[Any], tables: PostgresChainTables, ext: Extension) -> None:
    """Queue the links (and checkpoint) on the transaction's cursor."""
    if ext.links:
        curs.executemany(tables.insert_links, ext.links)
    if ext.checkpoint is not None:
        curs.execute(tables.insert_checkpoint, ext.checkpoint)


def backfill(conn: Any, tables: PostgresChainTables, policy: ChainPolicy) -> int:
    """Link every stored event after the chain head (events recorded before the chain
    existed), writers locked out meanwhile; returns how many were linked."""

    linked = 0
    with conn.transaction(), conn.cursor() as curs:
        curs.execute(tables.lock_events)
        head = head_of(curs.execute(tables.select_head).fetchone())
        while True:
            after = head[0] if head else 0
            rows = curs.execute(tables.select_after, (after, BACKFILL_PAGE)).fetchall()
            if not rows:
                break
            stored: list[tuple[int, StoredEvent]] = [
                (int(r["notification_id"]), _stored(r)) for r in rows
            ]
            ext = extend(head, stored, policy)
            write_extension(curs, tables, ext)
            head = ext.links[-1]
            linked += len(rows)
    return linked


def _stored(row: Any) -> StoredEvent:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )
