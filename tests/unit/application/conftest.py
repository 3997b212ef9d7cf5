from __future__ import annotations

import pytest

from application.ledger import Ledger
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import make_ledger


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> Ledger:
    return make_ledger(clock)
