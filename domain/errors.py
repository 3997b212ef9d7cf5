"""Domain errors: one small hierarchy, each with a stable snake_case code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the ledger refuses to break."""

    code = "domain_error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())

    @property
    def message(self) -> str:
        return str(self)


class InvalidAmountError(DomainError):
    """The amount must be a positive whole number of minor units."""

    code = "invalid_amount"


class InvalidCustomerIdError(DomainError):
    """A customer id must be 1 to 200 printable characters."""

    code = "invalid_customer_id"


class UnknownCurrencyError(DomainError):
    """The currency is not a known ISO 4217 code."""

    code = "unknown_currency"


class CurrencyMismatchError(DomainError):
    """The amounts or accounts involved are in different currencies."""

    code = "currency_mismatch"


class InsufficientFundsError(DomainError):
    """The wallet's available balance (plus any overdraft) does not cover the amount."""

    code = "insufficient_funds"


class UnbalancedTransactionError(DomainError):
    """A journal transaction's postings do not sum to zero in every currency."""

    code = "unbalanced_transaction"


class InvalidOverdraftLimitError(DomainError):
    """An overdraft limit must be zero or a positive number of minor units."""

    code = "invalid_overdraft_limit"


class WalletExistsError(DomainError):
    """The customer already holds a wallet in this currency."""

    code = "wallet_exists"


class WalletNotFoundError(DomainError):
    """No wallet exists for this customer in this currency."""

    code = "wallet_not_found"


class TransactionNotFoundError(DomainError):
    """No journal transaction has this id."""

    code = "transaction_not_found"


class SameWalletTransferError(DomainError):
    """A transfer needs two different wallets."""

    code = "same_wallet_transfer"


class HoldNotFoundError(DomainError):
    """No hold has this id."""

    code = "hold_not_found"


class HoldNotPendingError(DomainError):
    """The hold was already posted or voided."""

    code = "hold_not_pending"


class HoldExpiredError(DomainError):
    """The hold expired before it was posted."""

    code = "hold_expired"


class HoldAmountExceededError(DomainError):
    """A hold cannot be posted for more than it reserved."""

    code = "hold_amount_exceeded"


class InvalidExpiryError(DomainError):
    """A hold's expiry must lie in the future."""

    code = "invalid_expiry"


class IdempotencyKeyReusedError(DomainError):
    """This Idempotency-Key was already used with a different request."""

    code = "idempotency_key_reused"


class PaymentNotFoundError(DomainError):
    """No payment has this id."""

    code = "payment_not_found"


class InvalidPaymentTransitionError(DomainError):
    """The payment's current status does not allow this change."""

    code = "invalid_payment_transition"


class PaymentNotRetryableError(DomainError):
    """Only payments that failed for a transient reason can be retried."""

    code = "payment_not_retryable"


class RetryLimitReachedError(DomainError):
    """The payment was already retried the maximum number of times."""

    code = "retry_limit_reached"


class RefundExceedsCapturedError(DomainError):
    """Refunds cannot add up to more than the payment captured."""

    code = "refund_exceeds_captured"


class InvalidSplitError(DomainError):
    """Split instructions must name payees and cover the amount exactly."""

    code = "invalid_split"


class InvalidPaymentMethodError(DomainError):
    """The payment method is unknown or its details are missing."""

    code = "invalid_payment_method"


class CardRejectedError(DomainError):
    """The card was refused before any charge (bad number or expiry)."""

    code = "card_rejected"


class GatewayRefundFailedError(DomainError):
    """The payment gateway refused the refund; nothing was refunded."""

    code = "gateway_refund_failed"


class InvalidRecipientError(DomainError):
    """A charge needs a recipient: 1 to 200 printable characters."""

    code = "invalid_recipient"


class ChargeNotFoundError(DomainError):
    """No charge has this id."""

    code = "charge_not_found"


class InvalidPaymentStatusError(DomainError):
    """The status filter must be one of the payment statuses."""

    code = "invalid_payment_status"


class InvalidCursorError(DomainError):
    """The pagination cursor is malformed; use the `next_cursor` of a previous page."""

    code = "invalid_cursor"


class ViewNotCaughtUpError(DomainError):
    """The read model has not reached the requested log position yet; retry shortly."""

    code = "view_not_caught_up"


class ConcurrencyConflictError(DomainError):
    """The command kept conflicting with concurrent changes; retry it."""

    code = "concurrency_conflict"
