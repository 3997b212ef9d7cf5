"""Access tokens: a token checked once is not re-verified on every request, yet expiry and
tampering are caught every time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.identity.jwt_codec import JwtTokenCodec
from application.ports.identity import InvalidTokenError, TokenClaims
from tests.unit.application.fakes import FakeClock

pytestmark = pytest.mark.unit

SECRET = "a-test-secret-of-at-least-32-bytes!!"
TTL = timedelta(minutes=15)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def codec(clock: FakeClock) -> JwtTokenCodec:
    return JwtTokenCodec(SECRET, clock)


def issued(codec: JwtTokenCodec, clock: FakeClock) -> tuple[str, TokenClaims]:
    now = clock.now()
    claims = TokenClaims("user-1", "customer", 3, now, now + TTL)
    return codec.issue(claims), claims


def test_a_token_reads_the_same_every_time(codec: JwtTokenCodec, clock: FakeClock) -> None:
    token, claims = issued(codec, clock)
    assert codec.read(token) == claims
    assert codec.read(token) == claims


def test_a_token_read_before_is_still_refused_once_it_expired(
    codec: JwtTokenCodec, clock: FakeClock
) -> None:
    token, _ = issued(codec, clock)
    codec.read(token)
    clock.advance((TTL + timedelta(minutes=1)).total_seconds())
    with pytest.raises(InvalidTokenError):
        codec.read(token)


def test_a_changed_token_is_refused_even_after_the_original_was_read(
    codec: JwtTokenCodec, clock: FakeClock
) -> None:
    token, _ = issued(codec, clock)
    codec.read(token)
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    with pytest.raises(InvalidTokenError):
        codec.read(forged)


def test_a_token_signed_with_another_secret_is_refused(
    codec: JwtTokenCodec, clock: FakeClock
) -> None:
    other = JwtTokenCodec("another-secret-of-at-least-32-bytes!", clock)
    token, _ = issued(other, clock)
    other.read(token)
    with pytest.raises(InvalidTokenError):
        codec.read(token)
