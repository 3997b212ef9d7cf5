"""The `payledger` command line: migrate and rebuild a projection from the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.clock import SystemClock
from application.ledger import Ledger
from application.ports.views import LedgerViewRecorder
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from entrypoints.cli import main
from entrypoints.container import build_sync_container
from entrypoints.settings import Settings, load_settings
from tests.support.services import POSTGRES, postgres_schema
from tests.unit.application.support import CALLER, make_app

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"PAYLEDGER_DATABASE_URL": "", "PAYLEDGER_DATA_DIR": str(tmp_path)}
        return
    with postgres_schema() as schema:
        url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
        yield {
            "PAYLEDGER_DATABASE_URL": url,
            "PAYLEDGER_DATABASE_SCHEMA": schema,
            "PAYLEDGER_DATABASE_POOL_SIZE": "2",
        }


def run(environment: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_rebuild_recreates_the_ledger_view_from_the_log(environment: dict[str, str]) -> None:
    assert "Schema ready" in run(environment, "db", "migrate")
    settings: Settings = load_settings(environment)
    container = build_sync_container(settings, create_tables=False)
    ledger = container.get(Ledger)
    view = container.get(LedgerViewRecorder)
    app = make_app(SystemClock(), ledger=ledger)
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 5_000, "USD")
    app.wallets.transfer(CALLER, "alice", "bob", 1_250, "USD")
    ProjectionRunner(ledger, LedgerProjection(view=view)).catch_up()
    before = sorted((b.account, b.balance) for b in view.balances())
    log_end = ledger.log_position()

    output = run(environment, "projections", "rebuild", "ledger")

    assert "Rebuilt ledger" in output
    assert view.position() == log_end
    assert sorted((b.account, b.balance) for b in view.balances()) == before
    assert ("wallet:alice", 3_750) in before
    statement = view.statement(app.wallets.get_wallet(CALLER, "alice", "USD").id, None, 10)
    assert [entry.balance_after for entry in statement] == [3_750, 5_000]
    container.close()


def test_unknown_projection_name_is_refused(environment: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["projections", "rebuild", "nope"], env=environment)
    assert result.exit_code != 0
    assert "nope" in result.output


def test_serve_refuses_to_start_on_postgres_without_a_card_fingerprint_secret() -> None:
    # Refused before anything is opened or bound: the database need not even be there.
    environment = {
        "PAYLEDGER_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
        "PAYLEDGER_CARD_FINGERPRINT_SECRET": "",
    }
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=environment)
    assert result.exit_code == 1
    assert "PAYLEDGER_CARD_FINGERPRINT_SECRET is not set" in result.output


def test_serve_refuses_to_start_with_an_unknown_default_currency(tmp_path: Path) -> None:
    environment = {"PAYLEDGER_DATA_DIR": str(tmp_path), "PAYLEDGER_DEFAULT_CURRENCY": "usd"}
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=environment)
    assert result.exit_code == 1
    assert "PAYLEDGER_DEFAULT_CURRENCY='usd' is not an ISO 4217 code" in result.output
