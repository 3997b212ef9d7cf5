"""Domain errors: the rules the ledger refuses to break, each with a stable snake_case code.

Errors about the application's own machinery (lookups, idempotency keys, concurrency,
cursors, read-model lag, the gateway) live in `application/errors.py`."""

from __future__ import annotations


class CodedError(Exception):
    """An error a client can act on: a stable snake_case `code` and a message for people
    (the class's docstring when none is given). The base of the domain's and the
    application's errors alike."""

    code = "error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())

    @property
    def message(self) -> str:
        return str(self)


class DomainError(CodedError):
    """Base of every rule the ledger refuses to break."""

    code = "domain_error"


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


class SameWalletTransferError(DomainError):
    """A transfer needs two different wallets."""

    code = "same_wallet_transfer"


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


class InvalidRecipientError(DomainError):
    """A charge needs a recipient: 1 to 200 printable characters."""

    code = "invalid_recipient"


class InvalidTextError(DomainError):
    """The text cannot be recorded: too long, or holding control characters."""

    code = "invalid_text"


class InvalidEmailError(DomainError):
    """An email address needs one `@`, a domain with a dot, no spaces, at most 254 characters."""

    code = "invalid_email"


class InvalidFullNameError(DomainError):
    """A full name holds at most 200 printable characters."""

    code = "invalid_full_name"


class EmailTakenError(DomainError):
    """Another user already has this email address."""

    code = "email_taken"


class SelfDeletionError(DomainError):
    """An admin cannot delete their own account."""

    code = "cannot_delete_self"


class UserGoneError(DomainError):
    """The user was deleted."""

    code = "user_deleted"


class InvalidTripError(DomainError):
    """A trip (or school) needs a title, a location and a date with a time zone."""

    code = "invalid_trip"


class InvalidCapacityError(DomainError):
    """The capacity is out of range, or below the seats already taken."""

    code = "invalid_capacity"


class TripFullError(DomainError):
    """Every seat of the trip is taken."""

    code = "trip_full"


class TripGoneError(DomainError):
    """The trip (or school) was deleted."""

    code = "trip_deleted"


class SeatNotHeldError(DomainError):
    """The registration holds no seat on this trip."""

    code = "seat_not_held"


class InvalidRegistrationTransitionError(DomainError):
    """The registration's status does not allow this change."""

    code = "invalid_registration_transition"


class CardNumberInTextError(DomainError):
    """The text holds what looks like a card number; card numbers are never stored."""

    code = "card_number_in_text"


class TransactionImmutableError(DomainError):
    """Posted transactions are immutable: only the hold or payment behind one changes."""

    code = "transaction_immutable"


class InvalidInstallmentCountError(DomainError):
    """An installment plan has 1 to 24 installments, each of at least one minor unit."""

    code = "invalid_installment_count"


class InvalidScheduleError(DomainError):
    """A schedule lists installments in date order, with time zones and positive amounts."""

    code = "invalid_schedule"


class ScheduleTotalMismatchError(DomainError):
    """The schedule's amounts must add up to the plan's total, to the minor unit."""

    code = "schedule_total_mismatch"


class InvalidPlanTransitionError(DomainError):
    """The installment plan's status (or the installment's) does not allow this change."""

    code = "invalid_plan_transition"
