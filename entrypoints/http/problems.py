"""RFC 9457 problem details: the one shape of every error the API returns.

`ERROR_STATUS` is the one table from domain and application errors to HTTP statuses (a test
checks that every `DomainError` and `ApplicationError` subclass has a row). The exception
handlers at the bottom turn those errors, the HTTP layer's own `ProblemError`s and Litestar's
exceptions into problems; anything else is logged and becomes a 500 `internal_error` that
reveals nothing about the server.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from adapters.eventstore.postgres_recorder import (
    BatchWaitTimeoutError,
    CommitOutcomeUnknownError,
)
from application import errors as app_errors
from domain import errors
from entrypoints.http.bodies import readable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://payledger.dev/problems/"
RETRY_AFTER_S = 1
BEARER_CHALLENGE = 'Bearer realm="payledger"'
ERRORS_MAX = 20  # a limit on the field errors one problem lists

Error = errors.CodedError
# What the event store and the read models raise when the database cannot be reached.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    BatchWaitTimeoutError,
    CommitOutcomeUnknownError,
)

ERROR_STATUS: dict[type[Exception], int] = {
    # Nothing by that id (or customer and currency).
    app_errors.NotFoundError: 404,
    app_errors.WalletNotFoundError: 404,
    app_errors.TransactionNotFoundError: 404,
    app_errors.HoldNotFoundError: 404,
    app_errors.PaymentNotFoundError: 404,
    app_errors.AccountNotFoundError: 404,
    app_errors.ChargeNotFoundError: 404,
    app_errors.WebhookEndpointNotFoundError: 404,
    app_errors.WebhookDeliveryNotFoundError: 404,
    app_errors.WebhookEndpointConfiguredError: 409,
    app_errors.WebhookEndpointDisabledError: 409,
    app_errors.WebhookUrlRefusedError: 422,
    app_errors.UnknownWebhookEventTypeError: 422,
    app_errors.WebhookEndpointsLimitError: 422,
    # The request is sound but conflicts with the current state.
    errors.WalletExistsError: 409,
    errors.HoldNotPendingError: 409,
    errors.HoldExpiredError: 409,
    app_errors.ConcurrencyConflictError: 409,
    errors.InvalidPaymentTransitionError: 409,
    errors.PaymentNotRetryableError: 409,
    errors.RetryLimitReachedError: 409,
    # The read model lags behind the position asked for, or the
    # database cannot be reached (see `handle_store_unavailable`).
    app_errors.ViewNotCaughtUpError: 503,
    app_errors.WebhooksNotConfiguredError: 404,
    app_errors.ServiceUnavailableError: 503,
    # A cursor the client was never given, a status filter naming no status, a webhook
    # whose signature does not verify.
    app_errors.InvalidCursorError: 400,
    app_errors.InvalidPaymentStatusError: 400,
    app_errors.WebhookRejectedError: 400,
    # A key used before for another request.
    app_errors.IdempotencyKeyReusedError: 422,
    # A log position no write has reached: no read model ever will.
    app_errors.PositionBeyondLogError: 422,
    app_errors.CardRejectedError: 422,
    app_errors.CheckoutRefusedError: 422,
    # Well-formed requests that break a business rule.
    errors.InvalidAmountError: 422,
    errors.InvalidCustomerIdError: 422,
    errors.UnknownCurrencyError: 422,
    errors.CurrencyMismatchError: 422,
    errors.InsufficientFundsError: 422,
    errors.UnbalancedTransactionError: 422,
    errors.InvalidOverdraftLimitError: 422,
    errors.SameWalletTransferError: 422,
    errors.HoldAmountExceededError: 422,
    errors.InvalidExpiryError: 422,
    errors.RefundExceedsCapturedError: 422,
    errors.InvalidSplitError: 422,
    errors.InvalidPaymentMethodError: 422,
    errors.InvalidRecipientError: 422,
    errors.InvalidTextError: 422,
    errors.CardNumberInTextError: 422,
    # The payment gateway refused (the client's request was fine): a bad gateway.
    app_errors.GatewayRefundFailedError: 502,
    # Who is calling: no valid token or credentials (401), not allowed (403).
    app_errors.UnauthenticatedError: 401,
    app_errors.InvalidCredentialsError: 401,
    app_errors.ForbiddenError: 403,
    app_errors.UserNotFoundError: 404,
    app_errors.SchoolNotFoundError: 404,
    app_errors.TripNotFoundError: 404,
    app_errors.RegistrationNotFoundError: 404,
    app_errors.InvalidPasswordError: 422,
    errors.EmailTakenError: 409,
    errors.SelfDeletionError: 409,
    errors.UserGoneError: 404,
    errors.TripFullError: 409,
    errors.TripGoneError: 404,
    errors.SeatNotHeldError: 409,
    errors.InvalidRegistrationTransitionError: 409,
    errors.TransactionImmutableError: 409,
    errors.InvalidCapacityError: 422,
    errors.InvalidTripError: 422,
    errors.InvalidEmailError: 422,
    errors.InvalidFullNameError: 422,
    errors.InvalidTextError: 422,
    # Installment plans (seed 003).
    app_errors.InstallmentPlanNotFoundError: 404,
    errors.InvalidPlanTransitionError: 409,
    errors.InvalidInstallmentCountError: 422,
    errors.InvalidScheduleError: 422,
    errors.ScheduleTotalMismatchError: 422,
    # A new error without a row still gets a client error, never a 500.
    errors.DomainError: 422,
    app_errors.ApplicationError: 422,
}

# Codes of the problems the HTTP layer itself raises, by status (the rest: see `_http_code`).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    429: "rate_limited",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
}
# Headers of framework errors that clients need (405's Allow, 401's WWW-Authenticate...).
_KEPT_HEADERS = {"allow", "www-authenticate", "retry-after"}
# Fixed details for framework errors: their own messages may name files or internals.
_HTTP_DETAILS = {
    404: "Nothing lives at this URL.",
    405: "This URL does not accept this HTTP method.",
    413: "The request body is larger than this server accepts.",
    500: "Something went wrong on our side; it has been logged. Please retry later.",
}


class FieldError(msgspec.Struct, frozen=True):
    """One invalid part of a request: where (`source` and `path`) and what is wrong."""

    source: str  # body, query, path, header or request
    path: str  # a JSON path in the body (`$.amount`), else the parameter's name
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RFC 9457 problem; `code` is stable and meant for programs, `detail` for people."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


class TooManyRequestsError(Exception):
    """Over a rate limit: answered 429 `rate_limited` with `Retry-After`."""

    def __init__(self, retry_after_s: int, detail: str) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class ProblemError(Exception):
    """A problem the HTTP layer detects itself (malformed JSON, wrong media type...)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field_errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field_errors = field_errors
        self.headers = headers


def problem(
    status: int, code: str, detail: str, field_errors: list[FieldError] | None = None
) -> Problem:
    return Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=_title(code),
        status=status,
        detail=detail,
        code=code,
        errors=field_errors[:ERRORS_MAX] if field_errors is not None else None,
    )


def _title(code: str) -> str:
    """`malformed_json` -> `Malformed JSON`: a short summary of the problem type."""
    words = code.split("_")
    return " ".join([words[0].capitalize(), *words[1:]]).replace("json", "JSON")


def problem_response(body: Problem, headers: dict[str, str] | None = None) -> Response[Problem]:
    return Response(body, status_code=body.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_of(error: Error) -> int:
    """The HTTP status of an error: the row of its class, or of its nearest base."""
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 422


# msgspec errors end with the JSON path of the culprit: "Expected `int` - at `$.amount`".
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)


def body_field_error(message: str) -> FieldError:
    """A msgspec validation message as a field error of the request body."""
    match = _AT_PATH.match(message)
    assert match is not None  # the pattern matches any string
    return FieldError("body", match["path"] or "$", readable(match["message"]))


# Exception handlers.


def handle_error(request: Request[Any, Any, Any], error: Error) -> Response[Problem]:
    status = status_of(error)
    if status == 502:  # a partner refused: worth a line in the log, unlike a client's error
        log.warning("partner problem %s: %s", error.code, error)
    headers = None
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    elif status == 401:
        headers = {"WWW-Authenticate": BEARER_CHALLENGE}
    return problem_response(problem(status, error.code, error.message), headers)


def handle_too_many_requests(
    request: Request[Any, Any, Any], error: TooManyRequestsError
) -> Response[Problem]:
    headers = {"Retry-After": str(error.retry_after_s)}
    return problem_response(problem(429, "rate_limited", str(error)), headers)


def handle_problem_error(request: Request[Any, Any, Any], error: ProblemError) -> Response[Problem]:
    body = problem(error.status, error.code, error.detail, error.field_errors)
    return problem_response(body, error.headers)


def handle_http_exception(
    request: Request[Any, Any, Any], error: HTTPException
) -> Response[Problem]:
    if isinstance(error, ValidationException):
        return problem_response(_validation_problem(error))
    status = error.status_code
    if status >= 500:
        log.error("server error %s on %s %s: %r", status, request.method, request.url.path, error)
    detail = _HTTP_DETAILS.get(status) or str(error.detail)
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() in _KEPT_HEADERS}
    code = "internal_error" if status >= 500 else _http_code(status)
    return problem_response(problem(status, code, detail), headers or None)


def handle_store_unavailable(
    request: Request[Any, Any, Any], error: Exception
) -> Response[Problem]:
    """The store's connection errors (the library's `OperationalError`/`InterfaceError`, a
    pool that gave no connection in time, a commit whose outcome is unknown) are an outage,
    not a bug: a 503 `service_unavailable` with `Retry-After`, logged once per request."""
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(error).__name__,
        error,
    )
    return handle_error(request, app_errors.ServiceUnavailableError())


def handle_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(problem(500, "internal_error", _HTTP_DETAILS[500]))


def _http_code(status: int) -> str:
    if status in _HTTP_CODES:
        return _HTTP_CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "bad_request" if status < 500 else "internal_error"


# Litestar's message for an absent required parameter (it carries no structured details).
_MISSING_PARAMETER = re.compile(r"^Missing required (?P<source>\w+) parameter '(?P<name>[^']*)'")


def _validation_problem(error: ValidationException) -> Problem:
    """Litestar's parameter validation (query, path, header) as a 422 problem."""
    field_errors: list[FieldError] = []
    extra = error.extra if isinstance(error.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            source = item.get("source") or "request"
            field_errors.append(
                FieldError(
                    source=str(getattr(source, "value", source)),  # a ParamType enum member
                    path=str(item.get("key") or ""),
                    message=readable(str(item.get("message") or "invalid value")),
                )
            )
    if not field_errors and (missing := _MISSING_PARAMETER.match(str(error.detail))):
        field_errors.append(
            FieldError(missing["source"], missing["name"], "This parameter is required.")
        )
    if not field_errors:
        field_errors.append(FieldError("request", "", str(error.detail)))
    first = field_errors[0]
    where = f" ({first.source} {first.path})" if first.path else ""
    return problem(422, "validation_error", f"{first.message}{where}.", field_errors)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.CodedError: handle_error,
    **dict.fromkeys(STORE_UNAVAILABLE, handle_store_unavailable),
    TooManyRequestsError: handle_too_many_requests,
    ProblemError: handle_problem_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected_error,
}


# OpenAPI: the problems each operation can answer with.

# Each problem response's summary; the OpenAPI contract adds the status's codes
# (`entrypoints/http/contract.py`).
_PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON, a key twice in one object, or a cursor this list never gave.",
    404: "No such resource (or not one the caller may see).",
    409: "Conflicts with the current state.",
    413: "The body is too large.",
    415: "The body is not `application/json`.",
    422: "Invalid request (`validation_error`, with `errors`) or a broken business rule.",
    500: "Unexpected server error.",
    502: "A partner (the payment gateway) refused or could not be reached; nothing changed.",
    503: "Not available now (a read model behind `min_position`, too many waiting reads, not "
    "ready, or the database cannot be reached): retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int, validated: bool = True) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the given problem statuses, plus 500 and 503 (the database may
    be unreachable), and 400 and 422 when the operation takes parameters or a body
    (Litestar documents a 400 of its own otherwise)."""
    wanted = sorted({500, 503, *statuses, *((400, 422) if validated else ())})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in wanted
    }
