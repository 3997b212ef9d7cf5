"""`payledger events tail` prints what the relay published, oldest first, from the real
NATS server; `payledger events schema` prints the checked-in schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from application.ledger import Ledger
from entrypoints.cli import main
from entrypoints.container import build_sync_container
from entrypoints.container_relay import RelayRunners
from entrypoints.settings import load_settings
from tests.integration.test_nats_relay import expected_ids, write_some
from tests.support.nats import nats_stream

pytestmark = pytest.mark.integration

SCHEMA_PATH = Path(__file__).parents[2] / "docs" / "events.schema.json"


def test_tail_prints_every_published_event_in_order_with_its_position_and_id() -> None:
    with nats_stream() as stream:
        settings = load_settings({"PAYLEDGER_DATABASE_URL": "memory://", **stream.settings()})
        container = build_sync_container(settings)
        try:
            ledger = container.get(Ledger)
            write_some(ledger, customers=2)
            (relay,) = container.get(RelayRunners)
            relay.catch_up()
            expected = expected_ids(ledger)
        finally:
            container.close()

        result = CliRunner().invoke(
            main, ["events", "tail", "--idle-timeout", "1"], env=stream.settings()
        )
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert [line.split(" id=")[1].split(" ")[0] for line in lines] == expected
        assert lines[0].startswith(f"#1 position=1 {stream.prefix}.wallets.opened id=")

        credited = f"{stream.prefix}.*.credited"
        only_credits = CliRunner().invoke(
            main,
            ["events", "tail", "--json", "--count", "2", "--subject", credited],
            env=stream.settings(),
        )
        assert only_credits.exit_code == 0, only_credits.output
        bodies = [json.loads(line) for line in only_credits.output.splitlines()]
        assert [b["type"] for b in bodies] == ["wallets.credited", "wallets.credited"]


def test_tail_without_nats_configured_says_what_to_set() -> None:
    result = CliRunner().invoke(main, ["events", "tail"], env={"PAYLEDGER_NATS_URL": ""})
    assert result.exit_code != 0
    assert "PAYLEDGER_NATS_URL" in result.output


def test_tail_of_an_unreachable_server_fails_with_one_line() -> None:
    env = {"PAYLEDGER_NATS_URL": "nats://127.0.0.1:1", "PAYLEDGER_NATS_CONNECT_TIMEOUT_S": "0.3"}
    result = CliRunner().invoke(main, ["events", "tail", "--idle-timeout", "1"], env=env)
    assert result.exit_code == 1
    assert "cannot tail PAYLEDGER at nats://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output


def test_schema_prints_the_checked_in_schema() -> None:
    result = CliRunner().invoke(main, ["events", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(SCHEMA_PATH.read_text())
