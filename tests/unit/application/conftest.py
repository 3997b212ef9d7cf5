from __future__ import annotations

import pytest

from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import CountingGateway
from tests.unit.application.support import App, make_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def app(clock: FakeClock, gateway: CountingGateway) -> App:
    return make_app(clock, gateway)
