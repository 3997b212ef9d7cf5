"""The `payledger` command: serve, worker, db migrate, projections rebuild.

Every command resolves what it uses from the composition root (`entrypoints/container.py`)
with the settings read once from the environment; command-line options change those
settings, never the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import signal
import socket
import sys
import threading

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from application.ledger import Ledger
from application.ports.views import TrackedView
from application.projection_runner import ProjectionRunner
from application.readiness import ReadinessProbe
from domain.money import CURRENCY_EXPONENTS
from entrypoints.card_secret import ConfigurationError, card_fingerprint_secret
from entrypoints.cli_audit import audit
from entrypoints.cli_events import events
from entrypoints.cli_people import ensure_first_admin, seed_demo, users
from entrypoints.container import build_container, build_sync_container
from entrypoints.http.app import create_app
from entrypoints.http.docs import contract_document
from entrypoints.logs import configure_logging
from entrypoints.migration import migrate
from entrypoints.projections import PROJECTIONS, projection_runner, rebuild
from entrypoints.settings import Settings, load_settings
from entrypoints.worker_health import HEARTBEAT_INTERVAL_S, check_health, write_health
from entrypoints.workers import BackgroundWorkers

LISTEN_BACKLOG = 2048


@click.group()
def main() -> None:
    """PayLedger: an event-sourced, double-entry payments ledger."""


def _serve_on(settings: Settings, sock: socket.socket) -> None:
    """One server process: the app on its own container, on an already bound socket."""
    import uvicorn

    from entrypoints.http.app import create_app
    from entrypoints.http.protocol import ProblemHttpToolsProtocol

    configure_logging(settings.logging)
    app = create_app(build_container(settings, create_tables=False))
    # No log_config: uvicorn's loggers go through the handler configure_logging installed
    # (text or JSON); the app logs one line per request itself (access_log off).
    config = uvicorn.Config(
        app,
        log_level=settings.logging.level,
        access_log=False,
        log_config=None,
        http=ProblemHttpToolsProtocol,  # refusals before routing are problems too
    )
    uvicorn.Server(config).run(sockets=[sock])


def server_processes(settings: Settings, workers: int) -> list[Settings]:
    """The settings of each of `serve --workers N`'s processes. The first one also runs the
    followers of the log (projections, payment processor, relay, webhooks, installments),
    unless they run in a `payledger worker`; the others only serve HTTP. Followers in every
    process would do the same work N times over, race on each view's tracking rows and take
    CPU from the requests."""
    http_only = settings.replace(workers={"in_process": False})
    return [settings, *[http_only] * (max(1, workers) - 1)]


def _refuse_a_bad_configuration(settings: Settings) -> None:
    """Stop before serving, with a clear message, on settings the service cannot run with."""
    currency = settings.payments.default_currency
    if currency not in CURRENCY_EXPONENTS:
        raise click.ClickException(
            f"PAYLEDGER_DEFAULT_CURRENCY={currency!r} is not an ISO 4217 code (e.g. USD)."
        )
    try:
        card_fingerprint_secret(settings)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--host", default=None, help="Interface to bind (PAYLEDGER_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (PAYLEDGER_PORT).")
@click.option("--workers", type=int, default=1, show_default=True, help="Server processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (with the projections and the payment processor in-process unless
    PAYLEDGER_PROJECTIONS_IN_PROCESS=false)."""
    settings = load_settings()
    settings = settings.replace(
        http={"host": host or settings.http.host, "port": port or settings.http.port}
    )
    _refuse_a_bad_configuration(settings)
    migrate(settings)
    ensure_first_admin(settings)
    where = f"http://{settings.http.host}:{settings.http.port}"
    database = settings.database
    click.echo(f"PayLedger on {database.backend} ({database.url or database.sqlite_path})")
    click.echo(f"API docs: {where}/docs   OpenAPI: {where}/openapi.json")
    sock = socket.create_server((settings.http.host, settings.http.port), backlog=LISTEN_BACKLOG)
    if workers <= 1:
        _serve_on(settings, sock)
        return
    # Several processes accept on one socket; each has its own container.
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_serve_on, args=(each, sock), daemon=True)
        for each in server_processes(settings, workers)
    ]
    for process in processes:
        process.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0) and all(p.is_alive() for p in processes):
        pass
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(10)


@main.command()
@click.option(
    "--check",
    is_flag=True,
    help="Do not run: exit 0 if the worker writing PAYLEDGER_WORKER_HEALTH_FILE is "
    "healthy, else 1 (a container health check).",
)
def worker(check: bool) -> None:
    """Run the projections and the payment processor until SIGINT/SIGTERM (for scale-out:
    with PAYLEDGER_PROJECTIONS_IN_PROCESS=false on the API processes)."""
    settings = load_settings()
    health_path = settings.worker_health_path
    if check:
        healthy, reason = check_health(health_path)
        click.echo(reason)
        sys.exit(0 if healthy else 1)
    configure_logging(settings.logging)
    migrate(settings)
    container = build_sync_container(settings, create_tables=False)
    workers = container.get(BackgroundWorkers)
    probe = container.get(ReadinessProbe)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    workers.start()
    click.echo(f"PayLedger worker: {', '.join(PROJECTIONS)} views and the payment processor")
    try:
        while True:  # the heartbeat: its health, now and every few seconds
            write_health(health_path, probe.check())
            if stop.wait(HEARTBEAT_INTERVAL_S):
                break
    finally:
        workers.stop()
        with contextlib.suppress(OSError):
            health_path.unlink()
        container.close()


@main.group()
def db() -> None:
    """Database housekeeping."""


@db.command("migrate")
def db_migrate() -> None:
    """Create the event store and read model tables if missing (safe to run repeatedly)."""
    settings = load_settings()
    migrate(settings)
    ensure_first_admin(settings)
    click.echo(f"Schema ready on {settings.database.backend}.")


@main.group()
def projections() -> None:
    """Read models derived from the log."""


@projections.command("rebuild")
@click.argument("name", type=click.Choice(PROJECTIONS))
def projections_rebuild(name: str) -> None:
    """Drop the NAME view and rebuild it from the whole log."""
    settings = load_settings()
    migrate(settings)
    container = build_sync_container(settings, create_tables=False)
    try:
        view, runner = projection_runner(container, name)
        applied = _rebuild_with_progress(name, container.get(Ledger), view, runner)
        click.echo(f"Rebuilt {name}: {applied} events applied, view at position {view.position()}.")
    finally:
        with contextlib.suppress(Exception):
            container.close()


def _rebuild_with_progress(
    name: str, ledger: Ledger, view: TrackedView, runner: ProjectionRunner
) -> int:
    total = ledger.log_position() or 0
    columns = (
        TextColumn(f"rebuilding {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task(name, total=total)

        def advance(_: int) -> None:
            progress.update(task, completed=min(view.position() or 0, total))

        applied = rebuild(view, runner, on_progress=advance)
        progress.update(task, completed=total)
    return applied


main.add_command(users)
main.add_command(seed_demo)
main.add_command(events)
main.add_command(audit)


@main.command("openapi")
def openapi() -> None:
    """Print the API's OpenAPI document (the contract `docs/openapi.json` holds)."""
    # The document depends on the routes only: the app is built, never started, so no
    # database is opened; the container is closed unused.
    container = build_container(Settings())
    app = create_app(container)
    click.echo(json.dumps(contract_document(app), indent=2, sort_keys=True))
    asyncio.run(container.close())
