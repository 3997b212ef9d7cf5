"""`payledger events`: the integration events on NATS (tail the stream, print the schema)."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from application.integration_events import json_schema
from entrypoints.settings import load_settings


@click.group()
def events() -> None:
    """Integration events published to NATS JetStream."""


@events.command("tail")
@click.option("--subject", default=None, help="Subject filter (default: PREFIX.>, every event).")
@click.option("--new", "only_new", is_flag=True, help="Only events published from now on.")
@click.option("--count", type=int, default=None, help="Stop after this many events.")
@click.option(
    "--idle-timeout",
    type=float,
    default=None,
    help="Stop after this many seconds without an event (default: wait forever).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON body per line, nothing else.")
def tail(
    subject: str | None,
    only_new: bool,
    count: int | None,
    idle_timeout: float | None,
    as_json: bool,
) -> None:
    """Print events from the stream (PAYLEDGER_NATS_URL, PAYLEDGER_NATS_STREAM), oldest first:
    sequence, position, subject, id and body."""
    from adapters.nats.tail import tail_events

    nats = load_settings().nats
    if not nats.enabled:
        raise click.ClickException("Set PAYLEDGER_NATS_URL (e.g. nats://127.0.0.1:4222).")

    async def run() -> int:
        printed = 0
        async for tailed in tail_events(
            nats.url,
            nats.stream,
            subject or f"{nats.subject_prefix}.>",
            from_start=not only_new,
            idle_timeout_s=idle_timeout,
            connect_timeout_s=nats.connect_timeout_s,
        ):
            body = tailed.body.decode(errors="replace")
            if as_json:
                click.echo(body)
            else:
                click.echo(
                    f"#{tailed.seq} position={tailed.position} {tailed.subject} "
                    f"id={tailed.msg_id} {body}"
                )
            sys.stdout.flush()
            printed += 1
            if count is not None and printed >= count:
                break
        return printed

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except Exception as error:  # unreachable, no such stream...: one line, no traceback
        detail = f"{type(error).__name__}: {error}".rstrip(": ")
        raise click.ClickException(f"cannot tail {nats.stream} at {nats.url}: {detail}") from None


@events.command("schema")
def schema() -> None:
    """Print the JSON Schema of every integration event (docs/events.schema.json)."""
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
