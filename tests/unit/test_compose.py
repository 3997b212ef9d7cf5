"""compose.yaml (no Docker engine here; `docker-compose config` was run by hand): the API
and the worker split the work explicitly, the worker has a health check, payers are sent
to a public URL, and every PAYLEDGER_* variable it sets is a real setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from entrypoints.settings import all_env_names

pytestmark = pytest.mark.unit

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded["services"]


def test_the_api_serves_http_only_and_the_worker_follows_the_log(
    services: dict[str, Any],
) -> None:
    api, worker = services["api"], services["worker"]
    assert api["environment"]["PAYLEDGER_PROJECTIONS_IN_PROCESS"] == "false"
    assert worker["command"] == ["payledger", "worker"]
    assert worker["environment"].get("PAYLEDGER_PROJECTIONS_IN_PROCESS", "true") == "true"


def test_the_worker_has_a_health_check_reading_its_health_file(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert worker["healthcheck"]["test"] == ["CMD", "payledger", "worker", "--check"]
    assert worker["environment"]["PAYLEDGER_WORKER_HEALTH_FILE"].startswith("/")


def test_payers_are_sent_to_a_public_url_not_the_bind_address(services: dict[str, Any]) -> None:
    public_url = services["api"]["environment"]["PAYLEDGER_PUBLIC_URL"]
    assert public_url.startswith("${PAYLEDGER_PUBLIC_URL:-http")
    assert "0.0.0.0" not in public_url


def test_every_variable_compose_sets_is_a_setting(services: dict[str, Any]) -> None:
    known = all_env_names()
    used = {
        name
        for service in services.values()
        for name in (service.get("environment") or {})
        if name.startswith("PAYLEDGER_")
    }
    assert used
    assert used <= known, used - known


def test_the_api_and_the_worker_talk_to_the_nats_service(services: dict[str, Any]) -> None:
    assert "nats" in services
    for name in ("api", "worker", "migrate"):
        assert services[name]["environment"]["PAYLEDGER_NATS_URL"] == "nats://nats:4222"
    assert services["worker"]["depends_on"]["nats"]["condition"] == "service_healthy"
