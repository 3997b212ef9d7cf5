"""The API against its own contract: Schemathesis generates requests from `/openapi.json`
and checks every answer against it (all checks, with the stateful phase that follows the
document's links), against a real `payledger serve` process.

Requests go out as an admin and two customers (`tests/e2e/contract_hooks.py`). The run is
bounded (examples per operation, a fixed seed) so CI stays well inside its budget; set
PAYLEDGER_CONTRACT_EXAMPLES and PAYLEDGER_CONTRACT_SEED to explore further by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import (
    E2E_ADMIN_EMAIL,
    E2E_ADMIN_PASSWORD,
    PROJECT_ROOT,
    RunningServer,
    running_server,
)

pytestmark = pytest.mark.e2e

EXAMPLES = os.environ.get("PAYLEDGER_CONTRACT_EXAMPLES", "25")
SEED = os.environ.get("PAYLEDGER_CONTRACT_SEED", "20261201")
RUN_TIMEOUT_S = 600
OUTPUT_TAIL_CHARS = 20_000


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    # Sign-ins and writes unthrottled: the generated traffic would otherwise spend itself on
    # 429s (which the document lists) instead of reaching the operations.
    settings = {
        "PAYLEDGER_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
        "PAYLEDGER_WRITES_PER_MINUTE": "0",
    }
    with running_server("sqlite", extra_settings=settings) as server:
        yield server


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).parent / "schemathesis"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_nothing(server: RunningServer, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.contract_hooks",
        "PYTHONPATH": str(PROJECT_ROOT),
        "PAYLEDGER_CONTRACT_BASE_URL": server.base_url,
        "PAYLEDGER_CONTRACT_ADMIN": f"{E2E_ADMIN_EMAIL}:{E2E_ADMIN_PASSWORD}",
    }
    command = [
        *schemathesis_command(),
        "run",
        f"{server.base_url}/openapi.json",
        "--checks",
        "all",
        # Replaced by the hooks' `business_rules_documented` (see contract_hooks.py).
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    run = subprocess.run(  # the CLI, as a client team would run it
        command,
        cwd=tmp_path,  # its cache and reports stay out of the project
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = (run.stdout + run.stderr)[-OUTPUT_TAIL_CHARS:]
    assert run.returncode == 0, f"Schemathesis found failures:\n{output}\n{server.log_tail()}"
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # each one ran, and passed
        assert f"✅ {phase}" in output, output
