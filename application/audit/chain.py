"""The tamper-evident hash chain over the log, in log order.

link(n) = SHA-256(link(n-1) || position (8 bytes, big-endian) || aggregate id (16 bytes) ||
version (8 bytes) || len(topic) (4 bytes) || topic (UTF-8) || len(state) (4 bytes) || state),
with link(0) = 32 zero bytes, where `state` is the event's stored bytes and n runs over the
positions that hold an event (positions can have gaps). A checkpoint signs
`checkpoint_message(position, link)`.
"""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

GENESIS = bytes(32)
CHECKPOINT_DOMAIN = b"payledger/chain-checkpoint/v1"
_HEAD = struct.Struct(">Q16sQI")
_LENGTH = struct.Struct(">I")


def link_of(
    previous: bytes, position: int, aggregate_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    """The link of one stored event, given the link before it."""
    topic_bytes = topic.encode()
    digest = hashlib.sha256(previous)
    digest.update(_HEAD.pack(position, aggregate_id.bytes, version, len(topic_bytes)))
    digest.update(topic_bytes)
    digest.update(_LENGTH.pack(len(state)))
    digest.update(state)
    return digest.digest()


def checkpoint_message(position: int, link: bytes) -> bytes:
    """What a checkpoint signs: the chain head at `position`."""
    return CHECKPOINT_DOMAIN + struct.pack(">Q", position) + link
