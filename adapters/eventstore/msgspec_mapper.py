"""A msgspec-based eventsourcing ``Mapper``.

Select it with the eventsourcing environment key::

    MAPPER_TOPIC=adapters.eventstore.msgspec_mapper:MsgspecMapper

``COMPRESSOR_TOPIC`` / ``CIPHER_TOPIC`` keep working exactly as with the base
``Mapper`` (compress, then encrypt when writing; decrypt, then decompress when
reading). The transcoder that eventsourcing passes to every mapper is accepted
and ignored: events are encoded to JSON by msgspec.

Stored format
-------------
The stored ``state`` is the JSON object of the event's attributes
(``vars(event)``) without ``originator_id`` and ``originator_version`` (those
are columns of the stored event), plus ``"class_version": n`` when the event
class declares ``class_version > 1``: the same protocol as the base ``Mapper``.
UUIDs, datetimes, Decimals, dataclasses, tuples... use msgspec's native JSON
forms (strings, arrays, objects). This format is NOT the default
``JSONTranscoder`` format: a store written with the default mapper cannot be
read with this one (and vice versa) without a migration.

Reading
-------
For each event class a decoding plan is built once and cached: a msgspec
``Struct`` mirroring the class's dataclass fields with their resolved type
hints. Stored JSON is decoded straight into that ``Struct`` (typed: UUID,
datetime, ``tuple[SomeDataclass, ...]``, ``X | None``...), and the event is
built like the base ``Mapper`` does, ``object.__new__(cls)`` plus its
``__dict__``: no ``__init__`` or ``__post_init__`` runs on rehydration.

Upcasting: when the stored ``class_version`` (default 1) is lower than the
class's, the state is decoded to a plain dict, the class's static methods
``upcast_v{n}_v{n+1}(state)`` are called in order, exactly like the base
``Mapper``, and the result is then converted to the current field types.
Note that upcasters therefore see JSON values (UUIDs, datetimes and Decimals
as strings, tuples as lists, dataclasses as dicts); the values they set may be
either JSON forms or typed Python values, both are converted.

Snapshots (any ``CanSnapshotAggregate`` subclass, e.g. ``Snapshot``)
-------------------------------------------------------------------
``Snapshot.state`` is the aggregate's ``__dict__`` typed ``dict[str, Any]``,
so plain JSON would lose the types of its values. The ``state`` field of a
snapshot is therefore written with a small tagged encoding:

* ``str``, ``int``, ``bool``, finite ``float`` and ``None`` are written as is;
  lists as JSON arrays; dicts whose keys are all ``str`` and that do not
  contain the key ``"__t"`` as JSON objects (values encoded recursively).
* every other value becomes a JSON object ``{"__t": TAG, "v": VALUE}``
  (``"c"`` holds a class topic where needed):

  ========== ======================================== ==========================
  TAG        Python value                             ``v``
  ========== ======================================== ==========================
  uuid       ``UUID``                                 hex string with hyphens
  datetime   ``datetime`` (naive or aware)            ``isoformat()``
  date       ``date``                                 ``isoformat()``
  time       ``time``                                 ``isoformat()``
  timedelta  ``timedelta``                            ``[days, secs, micros]``
  decimal    ``Decimal``                              ``str(value)``
  float      non-finite ``float`` (nan, inf)          ``repr(value)``
  bytes      ``bytes``                                base64 string
  tuple      ``tuple``                                array (encoded items)
  set        ``set``                                  array (encoded items)
  frozenset  ``frozenset``                            array (encoded items)
  dict       dict with non-str keys or a ``"__t"`` key array of ``[key, value]``
  enum       ``Enum`` member, ``"c"``: enum topic      encoded ``.value``
  dc         dataclass instance, ``"c"``: its topic   object field -> encoded
  struct     msgspec ``Struct``, ``"c"``: its topic   object field -> encoded
  ========== ======================================== ==========================

  Because a plain dict holding a ``"__t"`` key is always written in the
  ``dict`` form, any JSON object with a ``"__t"`` key is a tag: the encoding
  is unambiguous. Dataclasses are rebuilt with ``object.__new__`` and
  ``object.__setattr__`` on each field (no ``__init__``/``__post_init__``);
  Structs are rebuilt by calling the class with the fields. Any other type
  raises ``TypeError`` when the snapshot is stored (rather than silently coming
  back as a string). Aware datetimes keep their instant and UTC offset; a
  ``ZoneInfo`` comes back as a fixed-offset ``timezone``.

Errors
------
State that cannot be decrypted, decompressed, decoded or converted to the
event class's field types raises eventsourcing's
``MapperDeserialisationError`` naming the topic, originator id and version.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import inspect
import math
import sys
import typing
import warnings
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, cast
from uuid import UUID

import msgspec
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

__all__ = ["MsgspecMapper", "tag_snapshot_value", "untag_snapshot_value"]

_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder()

_ID_FIELDS = ("originator_id", "originator_version")
_DomainEvent = DomainEventProtocol[Any]  # subscripted once: it costs a call per event
_CLASS_VERSION = "class_version"
_TAG = "__t"


# ---------------------------------------------------------------------------
# Per-class decoding plans
# ---------------------------------------------------------------------------


class _Plan:
    """Everything needed to encode/decode one event class, built once."""

    __slots__ = (
        "class_version",
        "cls",
        "decoder",
        "id_convertors",
        "is_snapshot",
        "shadow",
        "topic",
    )

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self.topic = get_topic(cls)
        self.class_version: int = getattr(cls, "class_version", 1)
        self.is_snapshot = issubclass(cls, CanSnapshotAggregate)
        self.shadow = _build_shadow_struct(cls, self.is_snapshot)
        self.decoder = msgspec.json.Decoder(self.shadow)
        self.id_convertors: dict[type[Any], Callable[[Any], Any]] = {}

    def id_convertor(self, id_type: type[Any]) -> Callable[[Any], Any]:
        try:
            return self.id_convertors[id_type]
        except KeyError:
            convertor = find_id_convertor(cast(Hashable, self.cls), cast(Hashable, id_type))
            self.id_convertors[id_type] = convertor
            return convertor


_plans: dict[type[Any], _Plan] = {}


def _plan_for(cls: type[Any]) -> _Plan:
    try:
        return _plans[cls]
    except KeyError:
        plan = _Plan(cls)
        _plans[cls] = plan  # racing builders produce equivalent plans
        return plan


def _resolve_hints(cls: type[Any]) -> dict[str, Any]:
    """Resolved type hints of ``cls``; unresolvable ones become ``Any``."""
    with contextlib.suppress(Exception):
        return typing.get_type_hints(cls)
    # String annotations (``from __future__ import annotations``) of nested
    # event classes may name things defined in the enclosing aggregate class
    # body: retry with those namespaces.
    localns: dict[str, Any] = {}
    owner: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split(".")[:-1]:
        owner = getattr(owner, part, None)
        if owner is None:
            break
        localns.update(vars(owner))
    with contextlib.suppress(Exception):
        return typing.get_type_hints(cls, localns=localns)
    # Last resort: resolve field by field, warn about the unresolvable ones.
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        globalns = vars(module) if module is not None else {}
        for name, annotation in inspect.get_annotations(klass).items():
            probe = type("_Probe", (), {"__annotations__": {name: annotation}})
            try:
                hints[name] = typing.get_type_hints(probe, globalns, localns)[name]
            except Exception:
                warnings.warn(
                    f"MsgspecMapper: cannot resolve annotation {annotation!r} of "
                    f"{cls.__qualname__}.{name}; its value will be decoded untyped",
                    RuntimeWarning,
                    stacklevel=2,
                )
                hints[name] = Any
    return hints


def _build_shadow_struct(cls: type[Any], is_snapshot: bool) -> type[msgspec.Struct]:
    """A msgspec Struct with the event's fields, used to decode its state."""
    hints = _resolve_hints(cls)
    if dataclasses.is_dataclass(cls):
        fields = [(f.name, f.default, f.default_factory) for f in dataclasses.fields(cls)]
    else:
        fields = [
            (name, dataclasses.MISSING, dataclasses.MISSING)
            for name, hint in hints.items()
            if typing.get_origin(hint) is not ClassVar and hint is not ClassVar
        ]
    struct_fields: list[Any] = []
    # originator_id / originator_version are filled in from the stored event;
    # declaring them first keeps the usual attribute order in the event's __dict__.
    for name in _ID_FIELDS:
        struct_fields.append((name, Any, None))
    for name, default, default_factory in fields:
        if name in _ID_FIELDS or name == _CLASS_VERSION:
            continue
        hint = hints.get(name, Any)
        if hint is inspect.Parameter.empty or (is_snapshot and name == "state"):
            # eventsourcing gives un-annotated @event method parameters the
            # annotation ``inspect.Parameter.empty``; snapshot state is tagged.
            hint = Any
        if default is not dataclasses.MISSING:
            struct_fields.append((name, hint, default))
        elif default_factory is not dataclasses.MISSING:
            struct_fields.append((name, hint, msgspec.field(default_factory=default_factory)))
        else:
            struct_fields.append((name, hint))
    struct_fields.append((_CLASS_VERSION, int, 1))
    return msgspec.defstruct(f"{cls.__name__}State", struct_fields, kw_only=True, module=__name__)


# ---------------------------------------------------------------------------
# Snapshot state tagging
# ---------------------------------------------------------------------------

_NATIVE = frozenset({str, int, bool, type(None)})


def tag_snapshot_value(value: Any) -> Any:
    """Encode ``value`` into JSON-able data with type tags (see module doc)."""
    tp = type(value)
    if tp in _NATIVE:
        return value
    if tp is float:
        if math.isfinite(value):
            return value
        return {_TAG: "float", "v": repr(value)}
    if tp is dict:
        if _TAG not in value and all(type(k) is str for k in value):
            return {k: tag_snapshot_value(v) for k, v in value.items()}
        return {
            _TAG: "dict",
            "v": [[tag_snapshot_value(k), tag_snapshot_value(v)] for k, v in value.items()],
        }
    if tp is list:
        return [tag_snapshot_value(v) for v in value]
    if tp is tuple:
        return {_TAG: "tuple", "v": [tag_snapshot_value(v) for v in value]}
    if tp is UUID:
        return {_TAG: "uuid", "v": str(value)}
    if tp is datetime:
        return {_TAG: "datetime", "v": value.isoformat()}
    if tp is date:
        return {_TAG: "date", "v": value.isoformat()}
    if tp is time:
        return {_TAG: "time", "v": value.isoformat()}
    if tp is timedelta:
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if tp is Decimal:
        return {_TAG: "decimal", "v": str(value)}
    if tp is bytes:
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if tp is set or tp is frozenset:
        return {_TAG: tp.__name__, "v": [tag_snapshot_value(v) for v in value]}
    if isinstance(value, enum.Enum):
        return {_TAG: "enum", "c": get_topic(tp), "v": tag_snapshot_value(value.value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _TAG: "dc",
            "c": get_topic(tp),
            "v": {
                f.name: tag_snapshot_value(getattr(value, f.name))
                for f in dataclasses.fields(value)
            },
        }
    if isinstance(value, msgspec.Struct):
        return {
            _TAG: "struct",
            "c": get_topic(tp),
            "v": {
                name: tag_snapshot_value(getattr(value, name)) for name in value.__struct_fields__
            },
        }
    msg = (
        f"MsgspecMapper cannot store a snapshot value of type {tp.__qualname__!r} "
        f"({value!r}); supported: str, int, float, bool, None, list, dict, tuple, "
        f"set, frozenset, UUID, datetime, date, time, timedelta, Decimal, bytes, "
        f"Enum, dataclass and msgspec.Struct instances"
    )
    raise TypeError(msg)


def _untag_dataclass(data: dict[str, Any], cls_topic: str) -> Any:
    cls = resolve_topic(cls_topic)
    obj = object.__new__(cls)
    for name, item in data.items():
        object.__setattr__(obj, name, untag_snapshot_value(item))
    return obj


def _untag_struct(data: dict[str, Any], cls_topic: str) -> Any:
    cls = resolve_topic(cls_topic)
    return cls(**{name: untag_snapshot_value(item) for name, item in data.items()})


_UNTAGGERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "uuid": lambda t: UUID(t["v"]),
    "datetime": lambda t: datetime.fromisoformat(t["v"]),
    "date": lambda t: date.fromisoformat(t["v"]),
    "time": lambda t: time.fromisoformat(t["v"]),
    "timedelta": lambda t: timedelta(*t["v"]),
    "decimal": lambda t: Decimal(t["v"]),
    "float": lambda t: float(t["v"]),
    "bytes": lambda t: base64.b64decode(t["v"]),
    "tuple": lambda t: tuple(untag_snapshot_value(v) for v in t["v"]),
    "set": lambda t: {untag_snapshot_value(v) for v in t["v"]},
    "frozenset": lambda t: frozenset(untag_snapshot_value(v) for v in t["v"]),
    "dict": lambda t: {untag_snapshot_value(k): untag_snapshot_value(v) for k, v in t["v"]},
    "enum": lambda t: resolve_topic(t["c"])(untag_snapshot_value(t["v"])),
    "dc": lambda t: _untag_dataclass(t["v"], t["c"]),
    "struct": lambda t: _untag_struct(t["v"], t["c"]),
}


def untag_snapshot_value(data: Any) -> Any:
    """Inverse of :func:`tag_snapshot_value` (input: JSON-decoded data)."""
    tp = type(data)
    if tp is dict:
        if _TAG in data:
            try:
                untagger = _UNTAGGERS[data[_TAG]]
            except (KeyError, TypeError):
                msg = f"unknown snapshot type tag {data[_TAG]!r}"
                raise ValueError(msg) from None
            return untagger(data)
        return {k: untag_snapshot_value(v) for k, v in data.items()}
    if tp is list:
        return [untag_snapshot_value(v) for v in data]
    return data


# ---------------------------------------------------------------------------
# The mapper
# ---------------------------------------------------------------------------


class _StateError(Exception):
    """Internal: stored state is not a JSON object."""


class MsgspecMapper(Mapper[Any]):
    """eventsourcing ``Mapper`` that encodes event state with msgspec JSON."""

    def __init__(
        self,
        transcoder: Transcoder | None = None,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        # The transcoder is accepted for constructor compatibility, unused.
        super().__init__(
            transcoder=cast(Transcoder, transcoder),
            compressor=compressor,
            cipher=cipher,
        )

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        plan = _plan_for(type(domain_event))
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        if plan.class_version > 1:
            event_state[_CLASS_VERSION] = plan.class_version
        if plan.is_snapshot and "state" in event_state:
            event_state["state"] = tag_snapshot_value(event_state["state"])
        try:
            stored_state = _encoder.encode(event_state)
        except (TypeError, msgspec.EncodeError) as e:
            msg = f"MsgspecMapper cannot encode event {plan.topic!r}: {e}"
            raise TypeError(msg) from e
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=plan.topic,
            state=stored_state,
        )

    def to_domain_events(
        self, stored_events: Sequence[StoredEvent]
    ) -> list[DomainEventProtocol[Any]]:
        """`to_domain_event` of each of `stored_events`, in order: the same events (or the
        same error), with the work per topic (class, decoding plan) done once a call rather
        than once an event, for readers of many events at once (projection catch-up)."""
        if self.cipher or self.compressor:
            return [self.to_domain_event(stored) for stored in stored_events]
        return _decode_batch(self, stored_events)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = resolve_topic(stored_event.topic)
        plan = _plan_for(cls)
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            event_state = _decode_current(plan, stored_state)
            if event_state is None:
                raw = _decode_raw(stored_state)
        except Exception as e:
            raise _deserialisation_error(stored_event, e) from e

        if event_state is None:
            # Upcasting exactly as in the base Mapper (errors raised by the
            # upcast methods propagate unchanged), on the JSON-decoded dict.
            class_version = plan.class_version
            from_version = raw.pop(_CLASS_VERSION, 1)
            while from_version < class_version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(raw)
                from_version += 1
            try:
                event_state = msgspec.structs.asdict(msgspec.convert(raw, type=plan.shadow))
            except Exception as e:
                raise _deserialisation_error(stored_event, e) from e
            del event_state[_CLASS_VERSION]

        if plan.is_snapshot and "state" in event_state:
            try:
                event_state["state"] = untag_snapshot_value(event_state["state"])
            except Exception as e:
                raise _deserialisation_error(stored_event, e) from e
        originator_id = stored_event.originator_id
        event_state["originator_id"] = plan.id_convertor(type(originator_id))(originator_id)
        event_state["originator_version"] = stored_event.originator_version
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return cast(_DomainEvent, domain_event)


def _decode_batch(
    mapper: MsgspecMapper, stored_events: Sequence[StoredEvent]
) -> list[DomainEventProtocol[Any]]:
    """`MsgspecMapper.to_domain_events` without cipher or compressor."""
    plans: dict[str, _Plan | None] = {}  # None: not on the fast path (snapshots)
    events: list[DomainEventProtocol[Any]] = []
    append, asdict = events.append, msgspec.structs.asdict
    new, assign = object.__new__, object.__setattr__
    for stored in stored_events:
        topic = stored.topic
        try:
            plan = plans[topic]
        except KeyError:
            plan = _plan_for(resolve_topic(topic))
            plan = plans[topic] = None if plan.is_snapshot else plan
        # Only a state the typed decode takes whole, at the class's own class_version, is
        # rebuilt here; anything else (errors and upcasting included) takes the way of
        # `to_domain_event`, so both give the same event or raise the same error.
        state: dict[str, Any] | None = None
        if plan is not None:
            try:
                state = asdict(plan.decoder.decode(stored.state))
            except Exception:  # to_domain_event raises it (see above)
                state = None
        if plan is None or state is None or state.pop(_CLASS_VERSION) != plan.class_version:
            append(mapper.to_domain_event(stored))
            continue
        originator_id = stored.originator_id
        state["originator_id"] = plan.id_convertor(type(originator_id))(originator_id)
        state["originator_version"] = stored.originator_version
        domain_event = new(plan.cls)
        assign(domain_event, "__dict__", state)
        append(domain_event)
    return events


def _decode_current(plan: _Plan, data: bytes) -> dict[str, Any] | None:
    """Typed decode of state stored at the class's current class_version.

    Returns None when the state needs upcasting (older class_version).
    """
    class_version = plan.class_version
    if class_version == 1:
        # Fast path: JSON straight into the typed struct; errors propagate.
        state = msgspec.structs.asdict(plan.decoder.decode(data))
    else:
        try:
            struct = plan.decoder.decode(data)
        except msgspec.ValidationError:
            return None  # possibly an older schema: let upcasting decide
        if getattr(struct, _CLASS_VERSION) != class_version:
            return None
        state = msgspec.structs.asdict(struct)
    del state[_CLASS_VERSION]
    return state


def _decode_raw(data: bytes) -> dict[str, Any]:
    raw = _raw_decoder.decode(data)
    if type(raw) is not dict:
        msg = f"Expected a JSON object as stored state, got a JSON {type(raw).__name__}"
        raise _StateError(msg)
    return cast(dict[str, Any], raw)


def _deserialisation_error(stored_event: StoredEvent, e: Exception) -> MapperDeserialisationError:
    msg = (
        f"Failed to deserialise state of stored event with "
        f"topic '{stored_event.topic}', "
        f"originator_id '{stored_event.originator_id}' and "
        f"originator_version {stored_event.originator_version}: {e}"
    )
    return MapperDeserialisationError(msg)
