"""The `TokenCodec` port on JWT (PyJWT): HS256, with audience, issuer, issue and expiry
times all required and checked; `alg: none` and any other algorithm are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt

from application.ports.identity import InvalidTokenError, TokenClaims

ALGORITHM = "HS256"
SECRET_LENGTH_MIN = 32  # bytes: a short HMAC key can be brute-forced
LEEWAY_S = 5


class JwtTokenCodec:
    """Signs and checks access tokens with a shared secret."""

    def __init__(self, secret: str, issuer: str = "payledger", audience: str = "payledger-api"):
        if len(secret.encode()) < SECRET_LENGTH_MIN:
            raise ValueError(f"The token secret must hold at least {SECRET_LENGTH_MIN} bytes.")
        self._secret = secret
        self.issuer = issuer
        self.audience = audience

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
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
            return TokenClaims(
                subject=str(payload["sub"]),
                role=str(payload.get("role", "")),
                credentials_version=int(payload.get("cv", 0)),
                issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise InvalidTokenError(type(error).__name__) from None
