"""Application errors: what goes wrong around the rules rather than in them.

Lookups that find nothing, idempotency keys reused, commands that keep conflicting, cursors
and filters that name nothing, read models that lag, and partners (the gateway) that refuse.
Each has a stable snake_case `code`, like the domain's errors; the HTTP layer maps both
hierarchies to statuses in one table.
"""

from __future__ import annotations

from domain.errors import CodedError


class ApplicationError(CodedError):
    """Base of the application's own errors."""

    code = "application_error"


class NotFoundError(ApplicationError):
    """Nothing has this id."""

    code = "not_found"


class WalletNotFoundError(NotFoundError):
    """No wallet exists for this customer in this currency."""

    code = "wallet_not_found"


class TransactionNotFoundError(NotFoundError):
    """No journal transaction has this id."""

    code = "transaction_not_found"


class HoldNotFoundError(NotFoundError):
    """No hold has this id."""

    code = "hold_not_found"


class PaymentNotFoundError(NotFoundError):
    """No payment has this id."""

    code = "payment_not_found"


class ChargeNotFoundError(NotFoundError):
    """No charge has this id."""

    code = "charge_not_found"


class AccountNotFoundError(NotFoundError):
    """No ledger account with this id had any posting by then (audit replays)."""

    code = "account_not_found"


class IdempotencyKeyReusedError(ApplicationError):
    """This Idempotency-Key was already used with a different request."""

    code = "idempotency_key_reused"


class ConcurrencyConflictError(ApplicationError):
    """The command kept conflicting with concurrent changes; retry it."""

    code = "concurrency_conflict"


class InvalidCursorError(ApplicationError):
    """The pagination cursor is malformed; use the `next_cursor` of a previous page."""

    code = "invalid_cursor"


class InvalidPaymentStatusError(ApplicationError):
    """The status filter must be one of the payment statuses."""

    code = "invalid_payment_status"


class ViewNotCaughtUpError(ApplicationError):
    """The read model has not reached the requested log position yet; retry shortly."""

    code = "view_not_caught_up"


class ServiceUnavailableError(ApplicationError):
    """The database cannot be reached right now; nothing was changed by this request that
    is not in the log. Retry shortly (a keyed request with the same Idempotency-Key)."""

    code = "service_unavailable"


class PositionBeyondLogError(ApplicationError):
    """The requested log position lies beyond the log's end: no write has reached it, so no
    read model ever will. Pass a position a write returned (`PayLedger-Position`)."""

    code = "position_beyond_log"


class CardRejectedError(ApplicationError):
    """The card was refused before any charge (bad number or expiry); `reason` says why in
    the gateway's failure vocabulary (e.g. `INVALID_CARD`, `EXPIRED_CARD`)."""

    code = "card_rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class CheckoutRefusedError(ApplicationError):
    """The checkout breaks a payment rule (it is recorded FAILED with the rule's reason)."""

    code = "checkout_refused"


class GatewayRefundFailedError(ApplicationError):
    """The payment gateway refused the refund; nothing was refunded."""

    code = "gateway_refund_failed"


class WebhookRejectedError(ApplicationError):
    """The webhook is not provably from the gateway (signature, timestamp or body)."""

    code = "invalid_signature"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The webhook signature does not verify ({reason}).")
        self.reason = reason


class WebhooksNotConfiguredError(ApplicationError):
    """Inbound gateway webhooks are not configured (no signing secret)."""

    code = "webhooks_not_configured"


class ForbiddenError(ApplicationError):
    """The caller may not do this."""

    code = "forbidden"


class InvalidCredentialsError(ApplicationError):
    """The email or the password is wrong, or the account cannot sign in."""

    code = "invalid_credentials"


class UnauthenticatedError(ApplicationError):
    """A valid bearer token is needed (missing, malformed, expired or revoked)."""

    code = "unauthorized"


class UserNotFoundError(NotFoundError):
    """No user has this id."""

    code = "user_not_found"


class SchoolNotFoundError(NotFoundError):
    """No school has this id."""

    code = "school_not_found"


class TripNotFoundError(NotFoundError):
    """No trip has this id."""

    code = "trip_not_found"


class RegistrationNotFoundError(NotFoundError):
    """No registration has this id."""

    code = "registration_not_found"


class InvalidPasswordError(ApplicationError):
    """A password holds 8 to 128 characters (and a new one differs from the current)."""

    code = "invalid_password"


class InstallmentPlanNotFoundError(NotFoundError):
    """No installment plan has this id."""

    code = "installment_plan_not_found"


class WebhookEndpointNotFoundError(NotFoundError):
    """No webhook endpoint has this id."""

    code = "webhook_endpoint_not_found"


class WebhookDeliveryNotFoundError(NotFoundError):
    """No webhook delivery has this id."""

    code = "webhook_delivery_not_found"


class WebhookUrlRefusedError(ApplicationError):
    """The webhook URL is refused: http(s) to a public address only (see `reason`)."""

    code = "webhook_url_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The webhook URL is refused: {reason}.")
        self.reason = reason


class UnknownWebhookEventTypeError(ApplicationError):
    """An event type is not one PayLedger sends (see the README's list)."""

    code = "unknown_webhook_event_type"


class WebhookEndpointsLimitError(ApplicationError):
    """This customer has as many webhook endpoints as allowed: delete one first."""

    code = "webhook_endpoints_limit"


class WebhookEndpointConfiguredError(ApplicationError):
    """This endpoint comes from configuration (PAYLEDGER_WEBHOOK_URLS): change it there."""

    code = "webhook_endpoint_configured"


class WebhookEndpointDisabledError(ApplicationError):
    """The delivery's endpoint is disabled or deleted: nothing can be sent to it."""

    code = "webhook_endpoint_disabled"
