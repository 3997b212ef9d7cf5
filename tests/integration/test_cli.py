"""The `payledger` command line: migrate and rebuild a projection from the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints import bootstrap
from entrypoints.cli import main
from entrypoints.settings import Settings, load_settings
from tests.support.services import POSTGRES, postgres_schema

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"PAYLEDGER_DATABASE_URL": "", "PAYLEDGER_DATA_DIR": str(tmp_path)}
        return
    with postgres_schema() as schema:
        url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
        yield {"PAYLEDGER_DATABASE_URL": url, "PAYLEDGER_DATABASE_SCHEMA": schema}


def run(environment: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_rebuild_recreates_the_ledger_view_from_the_log(environment: dict[str, str]) -> None:
    assert "Schema ready" in run(environment, "db", "migrate")
    settings: Settings = load_settings(environment)
    ledger = bootstrap.build_ledger(settings, create_table=False)
    view = bootstrap.build_view(settings, create_table=False)
    ledger.open_wallet("alice", "USD")
    ledger.open_wallet("bob", "USD")
    ledger.credit_wallet("alice", 5_000, "USD")
    ledger.transfer("alice", "bob", 1_250, "USD")
    bootstrap.build_runner(ledger, view).catch_up()
    before = sorted((b.account, b.balance) for b in view.balances())
    log_end = ledger.recorder.max_notification_id()

    output = run(environment, "projections", "rebuild", "ledger")

    assert "Rebuilt ledger" in output
    assert view.position() == log_end
    assert sorted((b.account, b.balance) for b in view.balances()) == before
    assert ("wallet:alice", 3_750) in before
    statement = view.statement(ledger.get_wallet("alice", "USD").id, None, 10)
    assert [entry.balance_after for entry in statement] == [3_750, 5_000]
    ledger.close()


def test_unknown_projection_name_is_refused(environment: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["projections", "rebuild", "nope"], env=environment)
    assert result.exit_code != 0
    assert "nope" in result.output
