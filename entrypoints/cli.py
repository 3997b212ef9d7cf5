"""The `payledger` command: serve, worker, db migrate, projections rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from entrypoints import bootstrap
from entrypoints.container import build_container
from entrypoints.settings import load_settings
from entrypoints.workers import BackgroundWorkers

PROJECTIONS = ("ledger", "payments")


@click.group()
def main() -> None:
    """PayLedger: an event-sourced, double-entry payments ledger."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (PAYLEDGER_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (PAYLEDGER_PORT).")
@click.option("--workers", type=int, default=1, show_default=True, help="Server processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (and, on the embedded default, the projections too)."""
    import uvicorn

    if host:
        os.environ["PAYLEDGER_HOST"] = host
    if port:
        os.environ["PAYLEDGER_PORT"] = str(port)
    settings = load_settings()
    bootstrap.migrate(settings)
    where = f"http://{settings.host}:{settings.port}"
    click.echo(f"PayLedger on {settings.backend} ({settings.database_url or settings.sqlite_path})")
    click.echo(f"API docs: {where}/docs   OpenAPI: {where}/openapi.json")
    uvicorn.run(
        "entrypoints.http.asgi:create_production_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


@main.command()
def worker() -> None:
    """Run the projections and the payment processor until SIGINT/SIGTERM."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper())
    bootstrap.migrate(settings)
    container = build_container(settings, create_tables=False)
    workers = asyncio.run(container.get(BackgroundWorkers))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    workers.start()
    click.echo(f"PayLedger worker: {', '.join(PROJECTIONS)} views and the payment processor")
    stop.wait()
    workers.stop()
    asyncio.run(container.close())


@main.group()
def db() -> None:
    """Database housekeeping."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the event store and read model tables if missing (safe to run repeatedly)."""
    settings = load_settings()
    bootstrap.migrate(settings)
    click.echo(f"Schema ready on {settings.backend}.")


@main.group()
def projections() -> None:
    """Read models derived from the log."""


@projections.command("rebuild")
@click.argument("name", type=click.Choice(PROJECTIONS))
def projections_rebuild(name: str) -> None:
    """Drop the NAME view and rebuild it from the whole log."""
    settings = load_settings()
    bootstrap.migrate(settings)
    ledger = bootstrap.build_ledger(settings, create_table=False)
    view = bootstrap.build_recorder(settings, name, create_table=False)
    if name == "ledger":
        runner = bootstrap.build_runner(ledger, view)
    else:
        runner = bootstrap.build_payments_runner(ledger, view)
    total = ledger.recorder.max_notification_id() or 0
    view.reset()
    columns = (
        TextColumn(f"rebuilding {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task(name, total=total)

        def advance(_: int) -> None:
            position = view.position() or 0
            progress.update(task, completed=min(position, total))

        applied = runner.catch_up(on_progress=advance)
        progress.update(task, completed=total)
    click.echo(f"Rebuilt {name}: {applied} events applied, view at position {view.position()}.")
    with contextlib.suppress(Exception):
        ledger.close()
