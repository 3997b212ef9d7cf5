"""The `TokenCodec` port on JWT (PyJWT): HS256, with audience, issuer, issue and expiry
times all required and checked; `alg: none` and any other algorithm are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from application.ports.clock import Clock
from application.ports.identity import InvalidTokenError, TokenClaims

ALGORITHM = "HS256"
SECRET_LENGTH_MIN = 32  # bytes: a short HMAC key can be brute-forced
LEEWAY = timedelta(seconds=5)
# Tokens whose signature and claims were checked, by their text (a token is sent again and
# again: its HMAC and JSON need not be redone each time). Expiry is still checked each time.
VERIFIED_MAX = 10_000


class JwtTokenCodec:
    """Signs and checks access tokens with a shared secret."""

    def __init__(
        self,
        secret: str,
        clock: Clock,
        issuer: str = "payledger",
        audience: str = "payledger-api",
    ) -> None:
        if len(secret.encode()) < SECRET_LENGTH_MIN:
            raise ValueError(f"The token secret must hold at least {SECRET_LENGTH_MIN} bytes.")
        self._secret = secret
        self.clock = clock  # expiry is checked against the ledger's clock, not the machine's
        self.issuer = issuer
        self.audience = audience
        self._verified: dict[str, TokenClaims] = {}

    def issue(self, claims: TokenClaims) -> str:
        payload = {
            "sub": claims.subject,
            "role": claims.role,
            "cv": claims.credentials_version,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "iss": self.issuer,
            "aud": self.audience,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def read(self, token: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = claims
        now = self.clock.now()
        if claims.expires_at <= now - LEEWAY or claims.issued_at > now + LEEWAY:
            raise InvalidTokenError("expired or not yet valid")
        return claims

    def _verify(self, token: str) -> TokenClaims:
        """The token's claims once its signature, algorithm, audience and issuer check out."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["sub", "exp", "iat", "iss", "aud"],
                    "verify_exp": False,  # checked below, on the ledger's clock
                    "verify_iat": False,
                },
            )
            claims = TokenClaims(
                subject=str(payload["sub"]),
                role=str(payload.get("role", "")),
                credentials_version=int(payload.get("cv", 0)),
                issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise InvalidTokenError(type(error).__name__) from None
        return claims
