"""The documents projection: the current document of every user, school, trip and
registration, for lists (`GET /users`, `/schools`, `/trips`, `/registrations`).

On any event of one of those aggregates, the document is the aggregate as the log has it
(at least as new as the event), presented like a single read presents it: one presenter per
kind, no second copy of the presentation rules. Deleted users, schools and trips leave the
lists. Each change is committed with its tracking record (exactly once).
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application import presenters_people
from application.ledger import Ledger
from application.ports.clock import Clock
from application.ports.documents import DocumentView
from application.runner import evict
from domain.registration import Registration
from domain.trip import School, Trip
from domain.user import User, UserStatus

_encoder = msgspec.json.Encoder()

USER, SCHOOL, TRIP, REGISTRATION = "user", "school", "trip", "registration"
_KINDS = {"User": USER, "School": SCHOOL, "Trip": TRIP, "Registration": REGISTRATION}


def kind_of(event: Any) -> str | None:
    """The document kind an event belongs to (its aggregate class), if any."""
    return _KINDS.get(type(event).__qualname__.partition(".")[0])


class DocumentsProjection(Projection[Any]):
    """Keeps the document view current."""

    name = "documents_view"
    topics = ()  # every event is tracked: readers waiting on a position are never stuck

    def __init__(self, view: DocumentView, ledger: Ledger, clock: Clock) -> None:
        super().__init__(view)
        self.documents = view
        self.ledger = ledger
        self.clock = clock

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        kind = kind_of(domain_event)
        if kind is None:
            self.documents.insert_tracking(tracking)
            return
        aggregate_id = domain_event.originator_id
        try:
            found: Any = self.ledger.repository.get(aggregate_id)
            if found.version < domain_event.originator_version:
                # A cached copy older than the event (another process changed it): re-read.
                evict(self.ledger, aggregate_id)
                found = self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:  # cannot happen for an event in the log; stay safe
            self.documents.insert_tracking(tracking)
            return
        self._put(kind, found, tracking)

    def _put(self, kind: str, found: Any, tracking: Tracking) -> None:
        view = self.documents
        if kind == USER:
            assert isinstance(found, User)
            if found.status == UserStatus.DELETED:
                view.drop(kind, found.id, tracking)
                return
            document = presenters_people.user(found)
            view.put(kind, found.id, str(found.id), "", _encoder.encode(document), tracking)
        elif kind == SCHOOL:
            assert isinstance(found, School)
            if found.deleted:
                view.drop(kind, found.id, tracking)
                return
            document_school = presenters_people.school(found)
            view.put(kind, found.id, "", "", _encoder.encode(document_school), tracking)
        elif kind == TRIP:
            assert isinstance(found, Trip)
            if found.deleted:
                view.drop(kind, found.id, tracking)
                return
            document_trip = presenters_people.trip(found, self.clock.now())
            parent = str(found.school_id)
            view.put(kind, found.id, "", parent, _encoder.encode(document_trip), tracking)
        else:
            assert isinstance(found, Registration)
            document_reg = presenters_people.registration(found)
            owner, parent = found.parent_id, str(found.trip_id)
            view.put(kind, found.id, owner, parent, _encoder.encode(document_reg), tracking)
