"""Outbound webhooks in SQL: endpoints, deliveries and their attempts, and the dispatcher's
position in the log. Written once for every `ViewDatabase` (SQLite, PostgreSQL).

The dispatcher writes a message's deliveries with its tracking record in one transaction
(exactly once per endpoint and event). Senders claim a due delivery with one conditional
UPDATE (pending, due, and not claimed or its claim expired), so several replicas never send
the same attempt twice; an attempt is recorded only by the holder of the claim.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from eventsourcing.persistence import Tracking

from adapters.views.sql import Row, ViewDatabase
from adapters.views.tracking import SqlView
from application.ports.webhooks import (
    AttemptOutcome,
    ClaimedDelivery,
    DeliveryFilter,
    OutboundMessage,
)
from application.results_dashboard import WebhookHealth
from application.webhook_results import (
    GLOBAL_CUSTOMER,
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

ACTIVE, DISABLED, DELETED = EndpointStatus.ACTIVE, EndpointStatus.DISABLED, EndpointStatus.DELETED
PENDING, SUCCEEDED, FAILED = DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED
ERROR_LENGTH_MAX = 300
CLAIM_CANDIDATES_FACTOR = 4  # due rows looked at per claim wanted (some are skipped or taken)

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {endpoints} ("
    "endpoint_id {uuid} PRIMARY KEY, customer_id {text} NOT NULL, url {text} NOT NULL, "
    "event_types {text} NOT NULL, description {text} NOT NULL, secret {text} NOT NULL, "
    "status {text} NOT NULL, is_global {int} NOT NULL, created_at {timestamp} NOT NULL, "
    "disabled_at {timestamp}, disabled_reason {text})",
    "CREATE INDEX IF NOT EXISTS {endpoints_customer_index} ON {endpoints} (customer_id)",
    "CREATE TABLE IF NOT EXISTS {deliveries} ("
    "delivery_id {uuid} PRIMARY KEY, message_id {text} NOT NULL, endpoint_id {uuid} NOT NULL, "
    "customer_id {text} NOT NULL, event_type {text} NOT NULL, payload {text} NOT NULL, "
    "status {text} NOT NULL, attempts {int} NOT NULL, next_attempt_at {timestamp}, "
    "expires_at {timestamp} NOT NULL, claimed_until {timestamp}, claim_token {text}, "
    "response_code {int}, latency_ms {int}, last_error {text}, "
    "created_at {timestamp} NOT NULL, delivered_at {timestamp}, position {bigint} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {due_index} ON {deliveries} (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS {position_index} ON {deliveries} (position, delivery_id)",
    "CREATE INDEX IF NOT EXISTS {customer_index} ON {deliveries} (customer_id, position)",
    "CREATE TABLE IF NOT EXISTS {attempts} ("
    "delivery_id {uuid} NOT NULL, attempt {int} NOT NULL, attempted_at {timestamp} NOT NULL, "
    "response_code {int}, latency_ms {int} NOT NULL, error {text}, "
    "PRIMARY KEY (delivery_id, attempt)){without_rowid}",
)

_ENDPOINT_COLUMNS = (
    "endpoint_id, customer_id, url, event_types, description, status, is_global, created_at, "
    "disabled_at, disabled_reason"
)
_INSERT_ENDPOINT = (
    "INSERT INTO {endpoints} (endpoint_id, customer_id, url, event_types, description, secret, "
    "status, is_global, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_GLOBAL = (
    "INSERT INTO {endpoints} AS e (endpoint_id, customer_id, url, event_types, description, "
    "secret, status, is_global, created_at) VALUES (?, ?, ?, ?, '', ?, ?, 1, ?) "
    "ON CONFLICT (endpoint_id) DO UPDATE SET secret = excluded.secret, "
    "event_types = excluded.event_types, "
    "status = CASE WHEN e.status = ? THEN e.status ELSE excluded.status END"
)
_SELECT_GLOBALS = "SELECT endpoint_id FROM {endpoints} WHERE is_global = 1 AND status <> ?"
_COUNT_ENDPOINTS = "SELECT COUNT(*) AS n FROM {endpoints} WHERE customer_id = ? AND status <> ?"
_ACTIVE_ENDPOINTS = "SELECT COUNT(*) AS n FROM {endpoints} WHERE status = ?"
_DELIVERIES_BY_STATUS = "SELECT status, COUNT(*) AS n FROM {deliveries} GROUP BY status"
_LAST_ERROR = (
    "SELECT last_error FROM {deliveries} WHERE last_error IS NOT NULL "
    "ORDER BY position DESC LIMIT 1"
)
_SELECT_ENDPOINT = (
    "SELECT {endpoint_columns} FROM {endpoints} WHERE endpoint_id = ? AND status <> ?"
)
_LIST_ENDPOINTS = (
    "SELECT {endpoint_columns} FROM {endpoints} WHERE status <> ?{where} "
    "ORDER BY created_at, endpoint_id LIMIT ?"
)
_SET_ENDPOINT_STATUS = (
    "UPDATE {endpoints} SET status = ?, disabled_at = ?, disabled_reason = ? "
    "WHERE endpoint_id = ? AND status <> ? RETURNING endpoint_id"
)
_MATCHING_ENDPOINTS = (
    "SELECT endpoint_id, customer_id, event_types, is_global FROM {endpoints} "
    "WHERE status = ? AND (is_global = 1 OR customer_id IN ({owners}))"
)
_INSERT_DELIVERY = (
    "INSERT INTO {deliveries} (delivery_id, message_id, endpoint_id, customer_id, event_type, "
    "payload, status, attempts, next_attempt_at, expires_at, created_at, position) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING"
)
_DUE = (
    "SELECT delivery_id, endpoint_id FROM {deliveries} WHERE status = ? "
    "AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) "
    "ORDER BY next_attempt_at LIMIT ?"
)
# The claim: the same conditions again, checked on the locked row (PostgreSQL re-reads a row
# updated concurrently; SQLite serializes writers), so only one sender wins each attempt.
_CLAIM = (
    "UPDATE {deliveries} SET claimed_until = ?, claim_token = ? WHERE delivery_id = ? "
    "AND status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) "
    "RETURNING delivery_id, message_id, endpoint_id, payload, attempts, expires_at"
)
_CLAIMED_ENDPOINT = "SELECT url, secret, status FROM {endpoints} WHERE endpoint_id = ?"
_FINISH = (
    "UPDATE {deliveries} SET attempts = attempts + 1, status = ?, next_attempt_at = ?, "
    "claimed_until = NULL, claim_token = NULL, response_code = ?, latency_ms = ?, "
    "last_error = ?, delivered_at = ? WHERE delivery_id = ? AND claim_token = ? "
    "RETURNING attempts"
)
_INSERT_ATTEMPT = (
    "INSERT INTO {attempts} (delivery_id, attempt, attempted_at, response_code, latency_ms, "
    "error) VALUES (?, ?, ?, ?, ?, ?)"
)
_ABANDON = (
    "UPDATE {deliveries} SET status = ?, next_attempt_at = NULL, claimed_until = NULL, "
    "claim_token = NULL, last_error = ? WHERE delivery_id = ? AND claim_token = ?"
)
_DELIVERY_COLUMNS = (
    "d.delivery_id, d.message_id, d.endpoint_id, e.url, d.customer_id, e.is_global, "
    "d.event_type, d.payload, d.status, d.attempts, d.response_code, d.latency_ms, "
    "d.last_error, d.next_attempt_at, d.created_at, d.delivered_at, d.position"
)
_SELECT_DELIVERY = (
    "SELECT {delivery_columns} FROM {deliveries} d JOIN {endpoints} e "
    "ON e.endpoint_id = d.endpoint_id WHERE d.delivery_id = ?"
)
_SELECT_ATTEMPTS = (
    "SELECT attempt, attempted_at, response_code, latency_ms, error FROM {attempts} "
    "WHERE delivery_id = ? ORDER BY attempt"
)
_LIST_DELIVERIES = (
    "SELECT {delivery_columns} FROM {deliveries} d JOIN {endpoints} e "
    "ON e.endpoint_id = d.endpoint_id{where} ORDER BY d.position DESC, d.delivery_id LIMIT ?"
)
_DELIVERY_FILTERS = (
    "d.customer_id = ?",
    "d.endpoint_id = ?",
    "d.status = ?",
    "d.event_type = ?",
    "(d.position < ? OR (d.position = ? AND d.delivery_id > ?))",
)
_REPLAY = (
    "UPDATE {deliveries} SET status = ?, next_attempt_at = ?, expires_at = ?, "
    "claimed_until = NULL, claim_token = NULL WHERE delivery_id = ? RETURNING delivery_id"
)


def delivery_id_of(endpoint_id: UUID, message_id: str) -> UUID:
    """The delivery of one message to one endpoint: the same id however often it is made."""
    return uuid.uuid5(endpoint_id, message_id)


def global_endpoint_id(url: str) -> UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"payledger-webhook:{url}")


class SqlWebhookStore(SqlView):
    """The `WebhookStore` port on a `ViewDatabase`."""

    tables = {
        "endpoints": "webhook_endpoints",
        "deliveries": "webhook_deliveries",
        "attempts": "webhook_attempts",
    }
    indexes = {
        "endpoints_customer_index": "webhook_endpoints_customer_idx",
        "due_index": "webhook_deliveries_due_idx",
        "position_index": "webhook_deliveries_position_idx",
        "customer_index": "webhook_deliveries_customer_idx",
    }
    create = _CREATE

    def __init__(
        self,
        database: ViewDatabase,
        application_name: str = "payledger",
        tracking_table_name: str = "webhook_dispatcher_tracking",
    ) -> None:
        super().__init__(database, application_name, tracking_table_name)
        self._statements: dict[str, str] = {}

    def _sql(self, template: str, **fragments: str) -> str:
        key = template + repr(sorted(fragments.items()))
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self.sql(
                template,
                endpoint_columns=_ENDPOINT_COLUMNS,
                delivery_columns=_DELIVERY_COLUMNS,
                **fragments,
            )
        return statement

    # Endpoints.

    def add_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None:
        db = self.database
        params = (
            db.bind_uuid(endpoint.id),
            endpoint.customer_id or GLOBAL_CUSTOMER,
            endpoint.url,
            ",".join(endpoint.event_types),
            endpoint.description,
            secret,
            endpoint.status,
            1 if endpoint.customer_id is None else 0,
            db.bind_time(endpoint.created_at),
        )
        with self._writing() as cursor:
            cursor.execute(self._sql(_INSERT_ENDPOINT), params)

    def count_endpoints(self, customer_id: str) -> int:
        with self._reading() as cursor:
            row = cursor.fetch_one(self._sql(_COUNT_ENDPOINTS), (customer_id, DELETED))
        return 0 if row is None else int(row["n"])

    def webhook_health(self) -> WebhookHealth:
        with self._reading() as cursor:
            endpoints = cursor.fetch_one(self._sql(_ACTIVE_ENDPOINTS), (ACTIVE,))
            counts = {
                str(row["status"]): int(row["n"])
                for row in cursor.fetch_all(self._sql(_DELIVERIES_BY_STATUS))
            }
            error = cursor.fetch_one(self._sql(_LAST_ERROR))
        return WebhookHealth(
            endpoints=0 if endpoints is None else int(endpoints["n"]),
            delivered=counts.get(SUCCEEDED, 0),
            pending=counts.get(PENDING, 0),
            failed=counts.get(FAILED, 0),
            last_error=None if error is None else str(error["last_error"]),
        )

    def get_endpoint(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        params = (self.database.bind_uuid(endpoint_id), DELETED)
        with self._reading() as cursor:
            row = cursor.fetch_one(self._sql(_SELECT_ENDPOINT), params)
        return None if row is None else self._endpoint(row)

    def list_endpoints(self, customer_id: str | None, limit: int) -> list[WebhookEndpoint]:
        where = "" if customer_id is None else " AND customer_id = ? AND is_global = 0"
        params = (DELETED, limit) if customer_id is None else (DELETED, customer_id, limit)
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._sql(_LIST_ENDPOINTS, where=where), params)
        return [self._endpoint(row) for row in rows]

    def delete_endpoint(self, endpoint_id: UUID, now: datetime) -> bool:
        return self._set_endpoint_status(endpoint_id, DELETED, now, "deleted by its owner")

    def disable_endpoint(self, endpoint_id: UUID, now: datetime, reason: str) -> bool:
        return self._set_endpoint_status(endpoint_id, DISABLED, now, reason)

    def _set_endpoint_status(
        self, endpoint_id: UUID, status: EndpointStatus, now: datetime, reason: str
    ) -> bool:
        db = self.database
        params = (status, db.bind_time(now), reason, db.bind_uuid(endpoint_id), DELETED)
        with self._writing() as cursor:
            return cursor.fetch_one(self._sql(_SET_ENDPOINT_STATUS), params) is not None

    def sync_global_endpoints(
        self,
        urls: Sequence[str],
        secret: str,
        event_types: Sequence[WebhookEventType],
        now: datetime,
    ) -> None:
        db = self.database
        wanted = {global_endpoint_id(url): url for url in urls}
        with self._writing() as cursor:
            for endpoint_id, url in wanted.items():
                params = (
                    db.bind_uuid(endpoint_id),
                    GLOBAL_CUSTOMER,
                    url,
                    ",".join(event_types),
                    secret,
                    ACTIVE,
                    db.bind_time(now),
                    DISABLED,  # a receiver that said 410 stays disabled
                )
                cursor.execute(self._sql(_UPSERT_GLOBAL), params)
            for row in cursor.fetch_all(self._sql(_SELECT_GLOBALS), (DELETED,)):
                endpoint_id = db.read_uuid(row["endpoint_id"])
                if endpoint_id not in wanted:
                    cursor.execute(
                        self._sql(_SET_ENDPOINT_STATUS),
                        (
                            DELETED,
                            db.bind_time(now),
                            "no longer configured",
                            db.bind_uuid(endpoint_id),
                            DELETED,
                        ),
                    )

    # The dispatcher.

    def record_messages(
        self,
        messages: Sequence[OutboundMessage],
        tracking: Tracking,
        now: datetime,
        horizon_s: float,
    ) -> int:
        db = self.database
        created = 0
        with self._writing() as cursor:
            self._track(cursor, tracking)
            endpoints: dict[tuple[str, ...], list[Row]] = {}  # shared by a batch's messages
            for message in messages:
                owners = tuple(dict.fromkeys(message.customer_ids)) or (GLOBAL_CUSTOMER,)
                rows = endpoints.get(owners)
                if rows is None:
                    statement = self._sql(
                        _MATCHING_ENDPOINTS, owners=", ".join("?" for _ in owners)
                    )
                    rows = endpoints[owners] = cursor.fetch_all(statement, (ACTIVE, *owners))
                for row in rows:
                    if message.event_type not in row["event_types"].split(","):
                        continue
                    endpoint_id = db.read_uuid(row["endpoint_id"])
                    params = (
                        db.bind_uuid(delivery_id_of(endpoint_id, message.message_id)),
                        message.message_id,
                        db.bind_uuid(endpoint_id),
                        row["customer_id"],
                        message.event_type,
                        message.payload.decode(),
                        PENDING,
                        db.bind_time(now),
                        db.bind_time(now + timedelta(seconds=horizon_s)),
                        db.bind_time(now),
                        message.position,
                    )
                    cursor.execute(self._sql(_INSERT_DELIVERY), params)
                    created += 1
        return created

    # The sender.

    def claim_due(
        self, now: datetime, limit: int, lease_s: float, skip_endpoints: frozenset[UUID]
    ) -> list[ClaimedDelivery]:
        if limit <= 0:
            return []
        db = self.database
        at = db.bind_time(now)
        until = db.bind_time(now + timedelta(seconds=lease_s))
        with self._reading() as cursor:
            due = cursor.fetch_all(
                self._sql(_DUE), (PENDING, at, at, limit * CLAIM_CANDIDATES_FACTOR)
            )
        wanted = []
        taken: set[UUID] = set()
        for candidate in due:
            endpoint_id = db.read_uuid(candidate["endpoint_id"])
            if endpoint_id in skip_endpoints or endpoint_id in taken:
                continue  # one attempt per endpoint per round: a busy endpoint waits its turn
            taken.add(endpoint_id)
            wanted.append(candidate["delivery_id"])
            if len(wanted) >= limit:
                break
        if not wanted:
            return []
        token = uuid.uuid4().hex
        claimed: list[ClaimedDelivery] = []
        # The round's claims in one transaction: one commit, not one per delivery.
        with self._writing() as cursor:
            for delivery_id in wanted:
                params = (until, token, delivery_id, PENDING, at, at)
                row = cursor.fetch_one(self._sql(_CLAIM), params)
                if row is None:
                    continue  # another sender took it
                endpoint = cursor.fetch_one(self._sql(_CLAIMED_ENDPOINT), (row["endpoint_id"],))
                assert endpoint is not None
                claimed.append(self._claimed(row, endpoint, token))
        return claimed

    def _claimed(self, row: Row, endpoint: Row, token: str) -> ClaimedDelivery:
        db = self.database
        return ClaimedDelivery(
            delivery_id=db.read_uuid(row["delivery_id"]),
            message_id=row["message_id"],
            endpoint_id=db.read_uuid(row["endpoint_id"]),
            url=endpoint["url"],
            secret=endpoint["secret"],
            endpoint_active=endpoint["status"] == ACTIVE,
            payload=row["payload"].encode(),
            attempts=row["attempts"],
            expires_at=db.read_time(row["expires_at"]),
            claim_token=token,
        )

    def finish_attempt(
        self,
        claim: ClaimedDelivery,
        outcome: AttemptOutcome,
        now: datetime,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
        disable_reason: str | None,
    ) -> bool:
        db = self.database
        at = db.bind_time(now)
        error = None if outcome.error is None else outcome.error[:ERROR_LENGTH_MAX]
        params = (
            status,
            None if next_attempt_at is None else db.bind_time(next_attempt_at),
            outcome.status_code,
            outcome.latency_ms,
            error,
            at if status == SUCCEEDED else None,
            db.bind_uuid(claim.delivery_id),
            claim.claim_token,
        )
        with self._writing() as cursor:
            row = cursor.fetch_one(self._sql(_FINISH), params)
            if row is None:
                return False  # the claim ran out and another sender took over
            attempt = (
                db.bind_uuid(claim.delivery_id),
                row["attempts"],
                at,
                outcome.status_code,
                outcome.latency_ms,
                error,
            )
            cursor.execute(self._sql(_INSERT_ATTEMPT), attempt)
            if disable_reason is not None:
                cursor.execute(
                    self._sql(_SET_ENDPOINT_STATUS),
                    (DISABLED, at, disable_reason, db.bind_uuid(claim.endpoint_id), DELETED),
                )
        return True

    def abandon(self, claim: ClaimedDelivery, reason: str, now: datetime) -> None:
        params = (FAILED, reason, self.database.bind_uuid(claim.delivery_id), claim.claim_token)
        with self._writing() as cursor:
            cursor.execute(self._sql(_ABANDON), params)

    # The delivery log.

    def get_delivery(self, delivery_id: UUID) -> WebhookDelivery | None:
        bound = self.database.bind_uuid(delivery_id)
        with self._reading() as cursor:
            row = cursor.fetch_one(self._sql(_SELECT_DELIVERY), (bound,))
            if row is None:
                return None
            attempts = cursor.fetch_all(self._sql(_SELECT_ATTEMPTS), (bound,))
        read_time = self.database.read_time
        log = [
            WebhookAttempt(
                attempt=a["attempt"],
                attempted_at=read_time(a["attempted_at"]),
                response_code=a["response_code"],
                latency_ms=a["latency_ms"],
                error=a["error"],
            )
            for a in attempts
        ]
        return self._delivery(row, log)

    def list_deliveries(
        self, where: DeliveryFilter, before: tuple[int, UUID] | None, limit: int
    ) -> list[WebhookDelivery]:
        db = self.database
        values: list[tuple[object, ...] | None] = [
            None if where.customer_id is None else (where.customer_id,),
            None if where.endpoint_id is None else (db.bind_uuid(where.endpoint_id),),
            None if where.status is None else (str(where.status),),
            None if where.event_type is None else (str(where.event_type),),
            None if before is None else (before[0], before[0], db.bind_uuid(before[1])),
        ]
        filters = [text for text, v in zip(_DELIVERY_FILTERS, values, strict=True) if v]
        clause = f" WHERE {' AND '.join(filters)}" if filters else ""
        params = [value for v in values if v for value in v]
        with self._reading() as cursor:
            rows = cursor.fetch_all(self._sql(_LIST_DELIVERIES, where=clause), (*params, limit))
        return [self._delivery(row, []) for row in rows]

    def replay(self, delivery_id: UUID, now: datetime, expires_at: datetime) -> bool:
        db = self.database
        params = (PENDING, db.bind_time(now), db.bind_time(expires_at), db.bind_uuid(delivery_id))
        with self._writing() as cursor:
            return cursor.fetch_one(self._sql(_REPLAY), params) is not None

    # Rows.

    def _endpoint(self, row: Row) -> WebhookEndpoint:
        db = self.database
        return WebhookEndpoint(
            id=db.read_uuid(row["endpoint_id"]),
            customer_id=None if row["is_global"] else row["customer_id"],
            url=row["url"],
            event_types=[WebhookEventType(t) for t in row["event_types"].split(",") if t],
            description=row["description"],
            status=EndpointStatus(row["status"]),
            created_at=db.read_time(row["created_at"]),
            disabled_at=None if row["disabled_at"] is None else db.read_time(row["disabled_at"]),
            disabled_reason=row["disabled_reason"],
        )

    def _delivery(self, row: Row, log: list[WebhookAttempt]) -> WebhookDelivery:
        db = self.database
        status = DeliveryStatus(row["status"])
        next_at = row["next_attempt_at"]
        delivered = row["delivered_at"]
        return WebhookDelivery(
            id=db.read_uuid(row["delivery_id"]),
            message_id=row["message_id"],
            endpoint_id=db.read_uuid(row["endpoint_id"]),
            url=row["url"],
            customer_id=None if row["is_global"] else row["customer_id"],
            event_type=WebhookEventType(row["event_type"]),
            payload=msgspec.Raw(row["payload"].encode()),
            status=status,
            attempts=row["attempts"],
            response_code=row["response_code"],
            latency_ms=row["latency_ms"],
            last_error=row["last_error"],
            next_attempt_at=None if next_at is None or status != PENDING else db.read_time(next_at),
            created_at=db.read_time(row["created_at"]),
            delivered_at=None if delivered is None else db.read_time(delivered),
            position=row["position"],
            attempt_log=log,
        )
