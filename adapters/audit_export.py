"""Audit exports: the stored log with its chain and checkpoints in one JSON Lines file, and
the `AuditLog` port over such a file (offline verification, no database).

Format `payledger-audit-export/1`, one JSON object per line: a header
`{"format", "head", "events"}`; then one line per event `{"p": position, "id": aggregate id,
"v": version, "t": topic, "s": base64 of the stored bytes, "l": hex link or null}` in log
order; then one line per checkpoint `{"checkpoint": {"p", "l", "sig", "key"}}` (hex).
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import msgspec

from application.ports.audit_log import AuditLog, Checkpoint, LinkRow, Row, StoredRecord

FORMAT = "payledger-audit-export/1"
_T = TypeVar("_T")
PAGE_SIZE = 10_000


class _Header(msgspec.Struct):
    format: str
    head: int
    events: int = 0


class _Event(msgspec.Struct):
    p: int
    id: UUID
    v: int
    t: str
    s: str
    l: str | None = None  # noqa: E741 - the format's field name


class _Checkpoint(msgspec.Struct):
    p: int
    l: str  # noqa: E741
    sig: str
    key: str


class _CheckpointLine(msgspec.Struct):
    checkpoint: _Checkpoint


def write_export(
    log: AuditLog, path: Path, progress: Callable[[int, int], None] | None = None
) -> int:
    """Write the whole log, chain and checkpoints to `path`; returns how many events."""
    encoder = msgspec.json.Encoder()
    head = log.head()
    count = 0
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("wb") as out:
        out.write(encoder.encode(_Header(FORMAT, head)) + b"\n")
        after = 0
        while after < head:
            page = log.records(after, head, PAGE_SIZE)
            if not page:
                break
            links = dict(_all_links(log, after, page[-1][0]))
            for r in map(StoredRecord._make, page):
                link = links.get(r.position)
                line = _Event(
                    r.position,
                    r.aggregate_id,
                    r.version,
                    r.topic,
                    base64.b64encode(r.state).decode(),
                    bytes(link).hex() if link is not None else None,
                )
                out.write(encoder.encode(line) + b"\n")
            count += len(page)
            after = page[-1][0]
            if progress is not None:
                progress(after, head)
        for c in log.checkpoints():
            checkpoint = _Checkpoint(
                c.position, c.link.hex(), c.signature.hex(), c.public_key.hex()
            )
            out.write(encoder.encode(_CheckpointLine(checkpoint)) + b"\n")
    tmp.replace(path)
    return count


def _all_links(log: AuditLog, after: int, upto: int) -> list[LinkRow]:
    found: list[LinkRow] = []
    while True:
        page = log.links(after, upto, PAGE_SIZE)
        found.extend(page)
        if len(page) < PAGE_SIZE:
            return found
        after = page[-1][0]


class ExportFileError(ValueError):
    """The file is not a PayLedger audit export."""


class FileAuditLog:
    """An export file read back whole: the same port the database adapters implement."""

    has_chain = True

    def __init__(self, path: Path) -> None:
        header_decoder = msgspec.json.Decoder(_Header)
        event_decoder = msgspec.json.Decoder(_Event)
        checkpoint_decoder = msgspec.json.Decoder(_CheckpointLine)
        self._records: list[Row] = []
        self._links: list[LinkRow] = []
        self._checkpoints: list[Checkpoint] = []
        with path.open("rb") as file:
            try:
                header = header_decoder.decode(file.readline())
            except msgspec.DecodeError as error:
                raise ExportFileError(f"{path}: no export header ({error})") from None
            if header.format != FORMAT:
                raise ExportFileError(f"{path}: format {header.format!r}, expected {FORMAT}")
            for number, line in enumerate(file, start=2):
                try:
                    if line.startswith(b'{"checkpoint"'):
                        c = checkpoint_decoder.decode(line).checkpoint
                        self._checkpoints.append(
                            Checkpoint(
                                c.p,
                                bytes.fromhex(c.l),
                                bytes.fromhex(c.sig),
                                bytes.fromhex(c.key),
                            )
                        )
                        continue
                    e = event_decoder.decode(line)
                except (msgspec.DecodeError, ValueError) as error:
                    raise ExportFileError(f"{path}:{number}: {error}") from None
                self._records.append((e.p, e.id.bytes, e.v, e.t, base64.b64decode(e.s)))
                if e.l is not None:
                    self._links.append((e.p, bytes.fromhex(e.l)))
        self._positions = [r[0] for r in self._records]
        self._link_positions = [link[0] for link in self._links]

    def head(self) -> int:
        return self._positions[-1] if self._positions else 0

    def records(self, after: int, upto: int | None, limit: int) -> Sequence[Row]:
        return _slice(self._records, self._positions, after, upto, limit)

    def links(self, after: int, upto: int | None, limit: int) -> Sequence[LinkRow]:
        return _slice(self._links, self._link_positions, after, upto, limit)

    def checkpoints(self) -> Sequence[Checkpoint]:
        return list(self._checkpoints)


def _slice(
    items: list[_T], positions: list[int], after: int, upto: int | None, limit: int
) -> list[_T]:
    start = bisect.bisect_right(positions, after)
    stop = len(positions) if upto is None else bisect.bisect_right(positions, upto)
    return items[start : min(stop, start + limit)]
