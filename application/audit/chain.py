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

GENESIS = bytes(32)
CHECKPOINT_DOMAIN = b"payledger/chain-checkpoint/v1"
HEAD = struct.Struct(">Q16sQI")
LENGTH = struct.Struct(">I")
_sha256 = hashlib.sha256


_TOPICS: dict[str, bytes] = {}
_TOPICS_MAX = 10_000


def link_of(
    previous: bytes, position: int, key: bytes, version: int, topic: str, state: bytes
) -> bytes:
    """The link of one stored event (`key`: its aggregate id's 16 bytes), given the link
    before it. One hash call over one buffer: this runs once per event of a replay."""
    topic_bytes = _TOPICS.get(topic)
    if topic_bytes is None:
        topic_bytes = topic.encode()
        if len(_TOPICS) < _TOPICS_MAX:
            _TOPICS[topic] = topic_bytes
    return _sha256(
        b"".join(
            (
                previous,
                HEAD.pack(position, key, version, len(topic_bytes)),
                topic_bytes,
                LENGTH.pack(len(state)),
                state,
            )
        )
    ).digest()


def checkpoint_message(position: int, link: bytes) -> bytes:
    """What a checkpoint signs: the chain head at `position`."""
    return CHECKPOINT_DOMAIN + struct.pack(">Q", position) + link
