"""Tests for adapters.eventstore.msgspec_mapper.MsgspecMapper."""

from __future__ import annotations

import dataclasses
import enum
import zlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec
import pytest
from eventsourcing.application import Application
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import Aggregate, Snapshot, event
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    MapperDeserialisationError,
    StoredEvent,
)
from eventsourcing.utils import get_topic

from adapters.eventstore.msgspec_mapper import (
    MsgspecMapper,
    tag_snapshot_value,
    untag_snapshot_value,
)

pytestmark = pytest.mark.unit

MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"


# --- domain model used by the tests -----------------------------------------


@dataclasses.dataclass(frozen=True)
class Line:
    account: str
    amount_minor: int


@dataclasses.dataclass(frozen=True)
class Limit:
    currency: str
    max_minor: int
    since: datetime


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(msgspec.Struct, frozen=True):
    x: int
    y: int


class Account(Aggregate):
    class Credited(Aggregate.Event):
        amount_minor: int
        transaction_id: UUID

    class Posted(Aggregate.Event):
        amount_minor: int
        transaction_id: UUID
        booked_at: datetime
        memo: str
        reversal: bool
        reference: str | None
        counterparty: UUID | None
        lines: tuple[Line, ...]
        metadata: dict[str, str]
        rate: Decimal
        due: date | None = None

    # A class defined in the aggregate body and named by a string annotation
    # (this module uses ``from __future__ import annotations``).
    @dataclasses.dataclass(frozen=True)
    class Tag:
        label: str

    class Tagged(Aggregate.Event):
        tags: tuple[Tag, ...]  # noqa: F821 - resolved from the Account body

    @event("Renamed")
    def rename(self, name) -> None:  # type: ignore[no-untyped-def]
        self.name = name


class Audited(Aggregate.Event):
    post_init_calls: ClassVar[int] = 0
    note: str

    def __post_init__(self) -> None:
        super().__post_init__()
        type(self).post_init_calls += 1


class Deposited(Aggregate.Event):
    """Version 1 of a deposit event."""

    amount_minor: int


class DepositedV2(Aggregate.Event):
    """Version 2: adds ``fee_minor``, computed from version 1 data."""

    class_version: ClassVar[int] = 2
    amount_minor: int
    fee_minor: int

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["fee_minor"] = state["amount_minor"] // 100


class DepositedV3(Aggregate.Event):
    """Version 3: adds ``reference`` (an UUID) derived from the older fields."""

    class_version: ClassVar[int] = 3
    amount_minor: int
    fee_minor: int
    reference: UUID

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["fee_minor"] = state["amount_minor"] // 100

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        # Upcasters may set typed values as well as JSON forms.
        state["reference"] = uuid5(NAMESPACE_URL, f"deposit/{state['amount_minor']}")


class Ledger(Aggregate):
    """An aggregate with varied attribute types, for snapshot tests."""

    def __init__(self, name: str, owner_id: UUID, opened_at: datetime) -> None:
        self.name = name
        self.owner_id = owner_id
        self.opened_at = opened_at
        self.count = 0
        self.balances: dict[str, int] = {}
        self.limits: dict[str, Limit] = {}

    @event("Posted")
    def post(self, account: str, amount_minor: int) -> None:
        self.count += 1
        self.balances[account] = self.balances.get(account, 0) + amount_minor

    @event("LimitSet")
    def set_limit(self, account: str, limit: Limit) -> None:
        self.limits[account] = limit


class LedgerApp(Application[UUID]):
    is_snapshotting_enabled = True

    def open(self) -> UUID:
        ledger = Ledger(
            name="main",
            owner_id=uuid4(),
            opened_at=datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
        )
        ledger.post("cash", 1500)
        ledger.post("bank", -250)
        ledger.set_limit("cash", Limit("EUR", 10_000, datetime(2025, 3, 2, tzinfo=UTC)))
        ledger.set_limit("bank", Limit("GBP", 5_000, datetime(2025, 3, 3, tzinfo=UTC)))
        self.save(ledger)
        return ledger.id

    def post(self, ledger_id: UUID, account: str, amount_minor: int) -> None:
        ledger = self.repository.get(ledger_id)
        ledger.post(account, amount_minor)
        self.save(ledger)


class AutoSnapshotApp(LedgerApp):
    is_snapshotting_enabled = False
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Ledger: 3}


# --- helpers -----------------------------------------------------------------


def round_trip(mapper: MsgspecMapper, domain_event: Any) -> Any:
    return mapper.to_domain_event(mapper.to_stored_event(domain_event))


def retarget(stored: StoredEvent, cls: type[Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=get_topic(cls),
        state=stored.state,
    )


def now() -> datetime:
    return datetime.now(tz=UTC)


@pytest.fixture
def mapper() -> MsgspecMapper:
    return MsgspecMapper(transcoder=JSONTranscoder())


# --- construction -------------------------------------------------------------


def test_factory_constructs_the_mapper_from_mapper_topic() -> None:
    factory = InfrastructureFactory.construct(
        env={"MAPPER_TOPIC": MAPPER_TOPIC, "PERSISTENCE_MODULE": "eventsourcing.popo"}
    )
    assert isinstance(factory.mapper(), MsgspecMapper)


def test_mapper_accepts_missing_transcoder() -> None:
    m = MsgspecMapper()
    ev = Account.Credited(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=1,
        transaction_id=uuid4(),
    )
    assert round_trip(m, ev) == ev


# --- field types ------------------------------------------------------------------


def test_round_trip_simple_event_has_typed_fields(mapper: MsgspecMapper) -> None:
    ev = Account.Credited(
        originator_id=uuid4(),
        originator_version=2,
        timestamp=now(),
        amount_minor=1234,
        transaction_id=uuid4(),
    )
    stored = mapper.to_stored_event(ev)
    assert stored.topic == get_topic(Account.Credited)
    assert stored.originator_id == ev.originator_id
    assert stored.originator_version == 2
    assert b"originator_id" not in stored.state
    assert b"class_version" not in stored.state

    got = mapper.to_domain_event(stored)
    assert type(got) is Account.Credited
    assert got == ev
    assert isinstance(got.originator_id, UUID)
    assert isinstance(got.transaction_id, UUID)
    assert got.timestamp.tzinfo is not None
    assert got.timestamp == ev.timestamp


@pytest.mark.parametrize(
    ("reference", "counterparty", "due"),
    [(None, None, None), ("INV-7", uuid4(), date(2025, 12, 31))],
)
def test_round_trip_rich_event(
    mapper: MsgspecMapper,
    reference: str | None,
    counterparty: UUID | None,
    due: date | None,
) -> None:
    ev = Account.Posted(
        originator_id=uuid4(),
        originator_version=7,
        timestamp=now(),
        amount_minor=-500,
        transaction_id=uuid4(),
        booked_at=datetime(2025, 1, 2, 3, 4, 5, 6789, tzinfo=timezone(timedelta(hours=2))),
        memo="Ünïcödé ✓",
        reversal=True,
        reference=reference,
        counterparty=counterparty,
        lines=(Line("cash", 500), Line("revenue", -500)),
        metadata={"channel": "api", "ip": "10.0.0.1"},
        rate=Decimal("1.0825"),
        due=due,
    )
    got = round_trip(mapper, ev)
    assert got == ev
    assert isinstance(got.lines, tuple)
    assert all(type(line) is Line for line in got.lines)
    assert got.metadata == {"channel": "api", "ip": "10.0.0.1"}
    assert got.booked_at.utcoffset() == timedelta(hours=2)
    assert type(got.rate) is Decimal
    assert got.reversal is True
    assert got.reference == reference
    assert got.counterparty == counterparty
    assert got.due == due


def test_round_trip_string_annotation_naming_class_in_aggregate_body(
    mapper: MsgspecMapper,
) -> None:
    ev = Account.Tagged(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=now(),
        tags=(Account.Tag("a"), Account.Tag("b")),
    )
    got = round_trip(mapper, ev)
    assert got == ev
    assert type(got.tags[0]) is Account.Tag


def test_round_trip_aggregate_events_including_created_and_untyped(
    mapper: MsgspecMapper,
) -> None:
    account = Account()
    account.rename("savings")
    account.trigger_event(Account.Credited, amount_minor=10, transaction_id=uuid4())
    events = account.collect_events()
    copies = [round_trip(mapper, e) for e in events]
    assert copies == events
    rebuilt = None
    for e in copies:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt == account


def test_originator_id_string_is_converted_to_uuid(mapper: MsgspecMapper) -> None:
    ev = Account.Credited(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=1,
        transaction_id=uuid4(),
    )
    stored = mapper.to_stored_event(ev)
    as_str = StoredEvent(
        originator_id=str(stored.originator_id),
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )
    got = mapper.to_domain_event(as_str)
    assert got.originator_id == ev.originator_id
    assert isinstance(got.originator_id, UUID)


def test_event_is_rebuilt_like_the_base_mapper(mapper: MsgspecMapper) -> None:
    ev = Audited(originator_id=uuid4(), originator_version=1, timestamp=now(), note="x")
    assert Audited.post_init_calls == 1
    got = round_trip(mapper, ev)
    assert got == ev
    assert Audited.post_init_calls == 1  # no __init__/__post_init__ on rehydration
    assert list(vars(got)) == list(vars(ev))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.note = "y"  # type: ignore[misc]


# --- upcasting -----------------------------------------------------------------


def _stored_v1(mapper: MsgspecMapper, amount_minor: int = 12_345) -> StoredEvent:
    ev = Deposited(
        originator_id=uuid4(),
        originator_version=4,
        timestamp=now(),
        amount_minor=amount_minor,
    )
    return mapper.to_stored_event(ev)


def test_upcast_v1_to_v2(mapper: MsgspecMapper) -> None:
    stored_v1 = _stored_v1(mapper)
    assert b"class_version" not in stored_v1.state
    got = mapper.to_domain_event(retarget(stored_v1, DepositedV2))
    assert type(got) is DepositedV2
    assert got.amount_minor == 12_345
    assert got.fee_minor == 123
    assert isinstance(got.timestamp, datetime)
    assert got.originator_version == 4


def test_v2_event_stores_class_version_and_round_trips(mapper: MsgspecMapper) -> None:
    ev = DepositedV2(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=100,
        fee_minor=7,
    )
    stored = mapper.to_stored_event(ev)
    assert msgspec.json.decode(stored.state)["class_version"] == 2
    got = mapper.to_domain_event(stored)
    assert got == ev
    assert "class_version" not in vars(got)


def test_chained_upcast_v1_to_v3(mapper: MsgspecMapper) -> None:
    stored_v1 = _stored_v1(mapper, amount_minor=900)
    got = mapper.to_domain_event(retarget(stored_v1, DepositedV3))
    assert type(got) is DepositedV3
    assert got.fee_minor == 9
    assert got.reference == uuid5(NAMESPACE_URL, "deposit/900")
    assert type(got.reference) is UUID


def test_upcast_v2_to_v3(mapper: MsgspecMapper) -> None:
    ev_v2 = DepositedV2(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=100,
        fee_minor=42,  # not recomputed: only upcast_v2_v3 runs
    )
    got = mapper.to_domain_event(retarget(mapper.to_stored_event(ev_v2), DepositedV3))
    assert got.fee_minor == 42
    assert got.reference == uuid5(NAMESPACE_URL, "deposit/100")


def test_v3_event_round_trips_without_upcasting(mapper: MsgspecMapper) -> None:
    ev = DepositedV3(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=100,
        fee_minor=0,
        reference=uuid4(),
    )
    assert round_trip(mapper, ev) == ev


# --- many at once ------------------------------------------------------------------


def _mixed_log(mapper: MsgspecMapper) -> list[StoredEvent]:
    """Stored events of several classes, current and older class versions, interleaved."""
    owner = uuid4()
    credited = Account.Credited(
        originator_id=owner,
        originator_version=2,
        timestamp=now(),
        amount_minor=5,
        transaction_id=uuid4(),
    )
    audited = Audited(originator_id=owner, originator_version=3, timestamp=now(), note="n")
    v3 = DepositedV3(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        amount_minor=100,
        fee_minor=1,
        reference=uuid4(),
    )
    stored_v1 = _stored_v1(mapper, amount_minor=700)
    # A class at version 1 whose stored state names another version: decoded all the same.
    odd = {**msgspec.to_builtins(vars(credited)), "class_version": 4}
    del odd["originator_id"], odd["originator_version"]
    odd_state = msgspec.json.encode(odd)
    if mapper.compressor is not None:
        odd_state = mapper.compressor.compress(odd_state)
    return [
        mapper.to_stored_event(credited),
        retarget(stored_v1, DepositedV3),  # upcast twice
        mapper.to_stored_event(audited),
        mapper.to_stored_event(v3),
        retarget(stored_v1, DepositedV2),  # upcast once
        mapper.to_stored_event(credited),
        _corrupt(mapper.to_stored_event(credited), odd_state),
        mapper.to_stored_event(v3),
    ]


def test_many_at_once_are_the_events_one_at_a_time_gives(mapper: MsgspecMapper) -> None:
    log = _mixed_log(mapper)
    one_at_a_time = [mapper.to_domain_event(stored) for stored in log]

    at_once = mapper.to_domain_events(log)

    assert at_once == one_at_a_time
    assert [type(got) for got in at_once] == [type(got) for got in one_at_a_time]
    assert [list(vars(got)) for got in at_once] == [list(vars(got)) for got in one_at_a_time]
    fees = [getattr(got, "fee_minor", None) for got in at_once]
    assert fees == [None, 7, None, 1, 7, None, None, 1]  # the old versions were upcast


def test_many_at_once_raise_what_one_at_a_time_raises(mapper: MsgspecMapper) -> None:
    log = _mixed_log(mapper)
    log[3] = _corrupt(log[3], b'{"timestamp": "2025-01-01T00:00:00Z", "class_version": 3}')
    with pytest.raises(MapperDeserialisationError) as one:
        [mapper.to_domain_event(stored) for stored in log]

    with pytest.raises(MapperDeserialisationError) as many:
        mapper.to_domain_events(log)

    assert str(many.value) == str(one.value)


def test_many_at_once_with_a_compressor_are_the_same_events() -> None:
    compressing = MsgspecMapper(transcoder=JSONTranscoder(), compressor=ZlibCompressor())
    log = _mixed_log(compressing)

    assert compressing.to_domain_events(log) == [
        compressing.to_domain_event(stored) for stored in log
    ]


# --- errors ----------------------------------------------------------------------


def _corrupt(stored: StoredEvent, state: bytes) -> StoredEvent:
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=state,
    )


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        (b"\x00\x01not json", "malformed"),
        (b"[1, 2, 3]", "Expected `object`"),
        (
            (
                b'{"timestamp": "2025-01-01T00:00:00Z", "amount_minor": "ten",'
                b' "transaction_id": "b5f5a6a4-4a4f-4d4d-8b8b-0f0f0f0f0f0f"}'
            ),
            "amount_minor",
        ),
        (
            (
                b'{"timestamp": "2025-01-01T00:00:00Z", "amount_minor": 1,'
                b' "transaction_id": "not-a-uuid"}'
            ),
            "transaction_id",
        ),
        (b'{"timestamp": "2025-01-01T00:00:00Z", "amount_minor": 1}', "transaction_id"),
    ],
)
def test_corrupt_state_raises_mapper_deserialisation_error(
    mapper: MsgspecMapper, state: bytes, fragment: str
) -> None:
    ev = Account.Credited(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=now(),
        amount_minor=1,
        transaction_id=uuid4(),
    )
    stored = mapper.to_stored_event(ev)
    with pytest.raises(MapperDeserialisationError) as info:
        mapper.to_domain_event(_corrupt(stored, state))
    message = str(info.value)
    assert get_topic(Account.Credited) in message
    assert str(ev.originator_id) in message
    assert "originator_version 3" in message
    assert fragment in message


def test_corrupt_state_of_versioned_class_raises(mapper: MsgspecMapper) -> None:
    stored = retarget(_stored_v1(mapper), DepositedV2)
    with pytest.raises(MapperDeserialisationError):
        mapper.to_domain_event(_corrupt(stored, b"[]"))
    with pytest.raises(MapperDeserialisationError, match="fee_minor"):
        mapper.to_domain_event(
            _corrupt(
                stored,
                b'{"timestamp":"2025-01-01T00:00:00Z","amount_minor":1,'
                b'"fee_minor":"x","class_version":2}',
            )
        )


def test_unknown_snapshot_tag_raises(mapper: MsgspecMapper) -> None:
    snap = Snapshot(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        topic=get_topic(Ledger),
        state={"x": 1},
    )
    stored = mapper.to_stored_event(snap)
    bad = stored.state.replace(b'{"x":1}', b'{"x":{"__t":"nope","v":1}}')
    assert bad != stored.state
    with pytest.raises(MapperDeserialisationError, match="nope"):
        mapper.to_domain_event(_corrupt(stored, bad))


def test_unsupported_snapshot_value_raises_type_error(mapper: MsgspecMapper) -> None:
    snap = Snapshot(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now(),
        topic=get_topic(Ledger),
        state={"x": object()},
    )
    with pytest.raises(TypeError, match="snapshot value of type 'object'"):
        mapper.to_stored_event(snap)


# --- snapshot tagging ---------------------------------------------------------------


def test_snapshot_value_tagging_round_trips_every_supported_type() -> None:
    value = {
        "str": "s",
        "int": 1,
        "bool": False,
        "none": None,
        "float": 1.5,
        "nan_free_inf": float("inf"),
        "list": [1, "a", uuid4()],
        "tuple": (1, (2, 3)),
        "set": {1, 2},
        "frozenset": frozenset({"a"}),
        "uuid": uuid4(),
        "aware": datetime(2025, 5, 6, 7, 8, 9, 10, tzinfo=UTC),
        "offset": datetime(2025, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=-5))),
        "naive": datetime(2025, 5, 6, 7, 8, 9),
        "date": date(2025, 5, 6),
        "time": time(7, 8, 9, 10),
        "timedelta": timedelta(days=-1, seconds=5, microseconds=7),
        "decimal": Decimal("-12.3400"),
        "bytes": b"\x00\xff",
        "enum": Colour.BLUE,
        "dataclass": Limit("EUR", 1, datetime(2025, 1, 1, tzinfo=UTC)),
        "struct": Point(1, 2),
        "int_keys": {1: "one", 2: "two"},
        "uuid_keys": {uuid4(): Line("a", 1)},
        "looks_like_a_tag": {"__t": "uuid", "v": "not a uuid"},
        "nested": {"a": {"b": [Line("x", 2)]}},
    }
    encoded = msgspec.json.encode(tag_snapshot_value(value))
    decoded = untag_snapshot_value(msgspec.json.decode(encoded))
    assert decoded == value
    for key, item in value.items():
        assert type(decoded[key]) is type(item), key
    assert decoded["aware"].tzinfo is UTC
    assert decoded["naive"].tzinfo is None
    assert type(decoded["nested"]["a"]["b"][0]) is Line
    assert decoded["nan_free_inf"] == float("inf")


def test_snapshot_round_trip_through_mapper_keeps_types(mapper: MsgspecMapper) -> None:
    ledger = Ledger("main", uuid4(), now())
    ledger.post("cash", 10)
    ledger.set_limit("cash", Limit("EUR", 5, now()))
    ledger.collect_events()
    snap = Snapshot.take(ledger)
    stored = mapper.to_stored_event(snap)
    assert b'"__t":"uuid"' in stored.state
    assert b'"__t":"datetime"' in stored.state
    got = mapper.to_domain_event(stored)
    assert type(got) is Snapshot
    assert got == snap
    assert got.mutate(None) == ledger


# --- applications -------------------------------------------------------------------


def _events_only(app: Application[UUID], aggregate_id: UUID) -> Any:
    aggregate = None
    for e in app.events.get(aggregate_id):
        aggregate = e.mutate(aggregate)
    return aggregate


def _check_snapshot_reload(app: LedgerApp) -> None:
    assert isinstance(app.mapper, MsgspecMapper)
    ledger_id = app.open()
    original = app.repository.get(ledger_id)
    app.take_snapshot(ledger_id)
    app.post(ledger_id, "cash", 99)

    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(ledger_id))
    assert len(snapshots) == 1
    from_snapshot = snapshots[0].mutate(None)
    assert from_snapshot == original
    assert isinstance(from_snapshot.owner_id, UUID)
    assert isinstance(from_snapshot.opened_at, datetime)
    assert isinstance(from_snapshot.created_on, datetime)
    assert isinstance(from_snapshot.modified_on, datetime)
    assert all(type(v) is Limit for v in from_snapshot.limits.values())

    reloaded = app.repository.get(ledger_id)  # snapshot + one later event
    assert reloaded == _events_only(app, ledger_id)
    assert reloaded.balances == {"cash": 1599, "bank": -250}
    assert reloaded.limits["cash"] == Limit("EUR", 10_000, datetime(2025, 3, 2, tzinfo=UTC))
    assert reloaded.version == 6


def test_application_popo_snapshot_reload() -> None:
    app = LedgerApp(env={"MAPPER_TOPIC": MAPPER_TOPIC})
    _check_snapshot_reload(app)


def test_application_sqlite_snapshot_reload(tmp_path: Any) -> None:
    env = {
        "MAPPER_TOPIC": MAPPER_TOPIC,
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite"),
    }
    app = LedgerApp(env=env)
    _check_snapshot_reload(app)
    ledger_id = next(iter(app.recorder.select_notifications(start=1, limit=1))).originator_id
    expected = app.repository.get(ledger_id)
    app.close()

    # A fresh application on the same file reads everything back.
    reopened = LedgerApp(env=env)
    assert reopened.repository.get(ledger_id) == expected
    notifications = reopened.recorder.select_notifications(start=1, limit=100)
    decoded = [reopened.mapper.to_domain_event(n) for n in notifications]
    assert all(isinstance(e.originator_id, UUID) for e in decoded)
    reopened.close()


def test_application_automatic_snapshots() -> None:
    app = AutoSnapshotApp(env={"MAPPER_TOPIC": MAPPER_TOPIC})
    ledger_id = app.open()  # versions 1-5: snapshot at 3
    app.post(ledger_id, "cash", 1)  # version 6: snapshot
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(ledger_id))
    assert [s.originator_version for s in snapshots] == [3, 6]
    assert snapshots[1].mutate(None) == _events_only(app, ledger_id)
    assert app.repository.get(ledger_id) == _events_only(app, ledger_id)


def test_application_with_zlib_compressor() -> None:
    app = LedgerApp(
        env={
            "MAPPER_TOPIC": MAPPER_TOPIC,
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        }
    )
    assert app.mapper.compressor is not None
    ledger_id = app.open()
    app.take_snapshot(ledger_id)
    stored = app.recorder.select_events(ledger_id)
    assert msgspec.json.decode(zlib.decompress(stored[0].state))["name"] == "main"
    assert app.repository.get(ledger_id) == _events_only(app, ledger_id)


def test_application_with_cipher_and_compressor() -> None:
    pytest.importorskip("cryptography")
    from eventsourcing.cryptography import AESCipher

    app = LedgerApp(
        env={
            "MAPPER_TOPIC": MAPPER_TOPIC,
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
            "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
            "CIPHER_KEY": AESCipher.create_key(16),
        }
    )
    assert app.mapper.cipher is not None
    ledger_id = app.open()
    app.take_snapshot(ledger_id)
    stored = app.recorder.select_events(ledger_id)
    assert b"main" not in stored[0].state
    assert app.repository.get(ledger_id) == _events_only(app, ledger_id)
