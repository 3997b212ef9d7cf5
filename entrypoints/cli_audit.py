"""`payledger audit`: verify the log (live or an export file, offline), export it, and show
the public key that checks the chain's signed checkpoints."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from adapters.audit_export import ExportFileError, FileAuditLog, write_export
from adapters.signing import Ed25519Checker
from application.audit.replay import Progress as OnProgress
from application.audit.service import AuditService
from application.audit.verify import VerificationReport, Verifier
from application.ports.audit_log import AuditLog
from application.principal import SYSTEM
from entrypoints.container import build_sync_container
from entrypoints.container_audit import checkpoint_signer
from entrypoints.settings import load_settings

DISCREPANCIES_SHOWN = 50


@click.group()
def audit() -> None:
    """Auditors' tools: verification, exports, the checkpoint key."""


@contextlib.contextmanager
def _progress(label: str) -> Iterator[OnProgress]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=None)

        def advance(position: int, head: int) -> None:
            progress.update(task, completed=position, total=head)

        yield advance


@contextlib.contextmanager
def _service() -> Iterator[AuditService]:
    container = build_sync_container(load_settings(), create_tables=False)
    try:
        yield container.get(AuditService)
    finally:
        with contextlib.suppress(Exception):
            container.close()


@audit.command("verify")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify an export file offline (no database).",
)
@click.option(
    "--public-key",
    default=None,
    help="Hex Ed25519 public key the checkpoints must be signed with (default: the "
    "configured key; for --file, the key in the file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit_verify(file: Path | None, public_key: str | None, as_json: bool) -> None:
    """Replay the log and check it; exit status 1 on any discrepancy."""
    trusted = bytes.fromhex(public_key) if public_key else None
    if file is not None:
        try:
            log: AuditLog = FileAuditLog(file)
        except ExportFileError as error:
            raise click.ClickException(str(error)) from None
        with _progress("verifying export") as advance:
            report = Verifier(log, Ed25519Checker(), trusted).run(advance)
    else:
        with _service() as service, _progress("verifying log") as advance:
            if trusted is not None:
                service = AuditService(service.log, Ed25519Checker(), trusted, None)
            report = service.verify(SYSTEM, advance)
    if as_json:
        click.echo(msgspec.json.encode(report))
    else:
        _print(report)
    if not report.ok:
        raise SystemExit(1)


@audit.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def audit_export(path: Path) -> None:
    """Write the log, its hash chain and its checkpoints to PATH (JSON Lines)."""
    with _service() as service, _progress("exporting") as advance:
        count = write_export(service.log, path, advance)
    click.echo(f"Exported {count} events to {path}.")


@audit.command("public-key")
def audit_public_key() -> None:
    """Print the hex public key that checks this deployment's checkpoints."""
    signer = checkpoint_signer(load_settings())
    if signer is None:
        raise click.ClickException("No signing key: set PAYLEDGER_AUDIT_SIGNING_KEY.")
    click.echo(signer.public_key.hex())


def _print(report: VerificationReport) -> None:
    console = Console()
    verdict = "[green]OK[/green]" if report.ok else "[red]DISCREPANCIES FOUND[/red]"
    console.print(
        f"{verdict}: {report.events} events up to position {report.last_position} "
        f"in {report.elapsed_s}s ({report.events_per_s:,.0f} events/s)"
    )
    table = Table("check", "result", "checked", "detail")
    for check in report.checks:
        result = "skipped" if check.skipped else ("ok" if check.ok else "FAILED")
        table.add_row(check.name, result, str(check.checked), check.detail)
    console.print(table)
    if report.chain_head:
        console.print(f"chain head: {report.chain_head}")
    for found in report.discrepancies[:DISCREPANCIES_SHOWN]:
        console.print(
            f"[red]{found.check}[/red] at position {found.position}"
            f"{f' ({found.aggregate_id})' if found.aggregate_id else ''}: {found.message}"
        )
    if report.discrepancies_total > DISCREPANCIES_SHOWN:
        console.print(f"... {report.discrepancies_total - DISCREPANCIES_SHOWN} more")
