"""Reading a server-sent-events stream in tests."""

from __future__ import annotations

from collections.abc import Iterator


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each server-sent event in the stream's lines (comments skipped)."""
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and event:
            yield event, data
            event, data = "", ""
