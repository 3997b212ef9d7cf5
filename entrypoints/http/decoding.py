"""Reading request bodies: bounded in size, `application/json` only, decoded strictly.

Litestar converts JSON bodies leniently (`"25000"` or `25000.0` would become an int), so the
request class below decodes the body itself, straight into the struct the handler declares as
`data: JSONBody[...]`, with msgspec in strict mode. Litestar then receives the finished struct
and passes it through unchanged. The declaration stays the single source of truth for both
decoding and the OpenAPI schema.

The body size limit comes from `Settings`, which the container hands out only asynchronously,
after the app is built; so `BodyLimitMiddleware` enforces it per request from `app.state`
(set at startup) instead of Litestar's build-time `request_max_body_size`.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.datastructures import Headers
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.middleware import ASGIMiddleware
from litestar.params import BodyKwarg
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from entrypoints.http.problems import FieldError, ProblemError, body_field_error

BODY_LIMIT_STATE_KEY = "request_body_max_bytes"
JSON_MEDIA_TYPE = "application/json"

KEY_SHOWN_CHARS_MAX = 100  # a duplicated key is named in the problem, cut to this length

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen.add(key)


def check_unique_keys(body: bytes) -> None:
    """Refuse an object, at any depth, that names a key twice: msgspec (like most decoders)
    keeps the last value, so `{"amount": 100, "amount": 777}` would quietly credit 777.

    Called only on a body msgspec has already decoded into its struct, so it is valid JSON
    of bounded size; the C scanner of `json` calls the hook once per object."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKeyError as duplicate:
        key = duplicate.key[:KEY_SHOWN_CHARS_MAX]
        raise ProblemError(
            400, "duplicate_json_key", f"The key {key!r} appears twice in one JSON object."
        ) from None
    except (ValueError, RecursionError):
        # Nesting beyond the stack in a member the struct ignores: malformed for us too.
        raise ProblemError(
            400, "malformed_json", "The request body is not valid UTF-8 JSON."
        ) from None


def _decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(body_type)
    if decoder is None:
        decoder = _decoders[body_type] = msgspec.json.Decoder(body_type, strict=True)
    return decoder


class StrictJSONRequest(Request[Any, Any, Any]):
    """A request whose JSON body decodes strictly into the handler's declared body type."""

    def _body_field(self) -> Any:
        """The handler's `data` field definition if it takes a JSON body, else None."""
        field = self.route_handler.parsed_fn_signature.parameters.get("data")
        if field is None or not isinstance(field.kwarg_definition, BodyKwarg):
            return None
        if field.kwarg_definition.media_type != RequestEncodingType.JSON:
            return None  # a form (the OAuth2 token endpoint): Litestar reads it
        return field

    async def body(self) -> bytes:
        body = await super().body()
        field = self._body_field()
        if field is None:
            return body
        if body or "content-type" in self.headers:
            media_type, options = self.content_type
            media_type = media_type.lower()
            charset = options.get("charset", "utf-8").lower()
            is_json = media_type == JSON_MEDIA_TYPE or media_type.endswith("+json")
            if not is_json or charset not in ("utf-8", "utf8"):
                raise ProblemError(
                    415,
                    "unsupported_media_type",
                    "Send the body as UTF-8 JSON with `Content-Type: application/json`.",
                )
        if not body and not field.has_default:
            raise ProblemError(
                400, "malformed_json", "The request body is empty; send a JSON object."
            )
        return body

    async def json(self) -> Any:
        field = self._body_field()
        if field is None:
            return await super().json()
        body = await self.body()
        try:
            decoded = _decoder(field.annotation).decode(body)
        except msgspec.ValidationError as error:
            field_error = _with_unit_hint(body_field_error(str(error)))
            where = f" at {field_error.path}" if field_error.path != "$" else ""
            raise ProblemError(
                422, "validation_error", f"{field_error.message}{where}.", [field_error]
            ) from None
        except (msgspec.DecodeError, RecursionError, UnicodeError):
            # RecursionError: nesting deeper than the decoder's stack allows is malformed too.
            raise ProblemError(
                400, "malformed_json", "The request body is not valid UTF-8 JSON."
            ) from None
        if body:
            check_unique_keys(body)
        return decoded


# Seed apps sent major units as JSON floats (`"amount": 250.00`); say what to send instead.
UNIT_HINT = "amounts are integer minor units (250.00 USD is 25000)"


def _with_unit_hint(error: FieldError) -> FieldError:
    """A float where an amount is expected gets a hint about minor units."""
    if error.path.endswith("amount") and "got `float`" in error.message:
        return FieldError(error.source, error.path, f"{error.message}: {UNIT_HINT}")
    return error


_BODY_HEADERS = (b"content-length", b"transfer-encoding")


def _may_have_body(scope: Scope) -> bool:
    """Whether the request announces a body: HTTP/1.1 frames one by Content-Length or
    Transfer-Encoding only (RFC 9112, 6.3), so a request with neither has none."""
    return any(name.lower() in _BODY_HEADERS for name, _ in scope.get("headers", ()))


class BodyLimitMiddleware(ASGIMiddleware):
    """Refuses bodies over the configured size with 413, by header or by bytes received."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        app = Litestar.from_scope(scope)
        limit = app.state.get(BODY_LIMIT_STATE_KEY)
        if limit is None or not _may_have_body(scope):
            await next_app(scope, receive, send)
            return
        announced = Headers.from_scope(scope).get("content-length")
        received = 0

        async def limited_receive() -> ReceiveMessage:
            nonlocal received
            # Raised here, inside the request's body read, so it becomes a 413 problem.
            if announced is not None and announced.isdigit() and int(announced) > limit:
                raise RequestEntityTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestEntityTooLarge
            return message

        await next_app(scope, limited_receive, send)
