"""Fixtures of the HTTP API tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import OPENING_BALANCE, credit, open_wallet, running_client


@pytest.fixture
def funded_client() -> Iterator[TestClient[Any]]:
    """Alice has a USD wallet holding OPENING_BALANCE; bob an empty one."""
    with running_client() as client:
        open_wallet(client, "alice")
        open_wallet(client, "bob")
        credit(client, "alice", OPENING_BALANCE)
        yield client
