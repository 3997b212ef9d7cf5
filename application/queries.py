"""Queries: lists and statements from the read model, single wallets from the log."""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

from application import results
from application.errors import InvalidCursorError, ViewNotCaughtUpError, WalletNotFoundError
from application.ports.views import LedgerView
from application.principal import Principal
from application.runner import CommandRunner
from domain.ids import wallet_id

PAGE_SIZE_MAX = 200
WAIT_TIMEOUT_S = 5.0


def _pack(prefix: str, value: object) -> str:
    """An opaque cursor: `<prefix>:<value>`, base64url without padding."""
    return base64.urlsafe_b64encode(f"{prefix}:{value}".encode()).decode().rstrip("=")


def _unpack(prefix: str, cursor: str) -> str:
    """The value a `_pack` cursor of this prefix holds; InvalidCursorError if none."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError() from None
    found, _, value = text.partition(":")
    if found != prefix:
        raise InvalidCursorError()
    return value


def encode_cursor(sequence: int) -> str:
    return _pack("seq", sequence)


def decode_cursor(cursor: str) -> int:
    try:
        sequence = int(_unpack("seq", cursor))
    except ValueError:
        raise InvalidCursorError() from None
    if sequence < 1:
        raise InvalidCursorError()
    return sequence


def encode_account_cursor(account_id: UUID) -> str:
    """An opaque cursor for the page of balances after `account_id`."""
    return _pack("acct", account_id)


def decode_account_cursor(cursor: str) -> UUID:
    """The account id a cursor of `encode_account_cursor` holds; InvalidCursorError if none."""
    try:
        return UUID(_unpack("acct", cursor))
    except ValueError:
        raise InvalidCursorError() from None


class LedgerQueries:
    """Reads for the HTTP API. A caller may pass the position a write returned, and the read
    waits (bounded) until the view has caught up with it: read-your-writes on a projection."""

    def __init__(
        self, runner: CommandRunner, view: LedgerView, wait_timeout_s: float = WAIT_TIMEOUT_S
    ) -> None:
        self.runner = runner
        self.view = view
        self.wait_timeout_s = wait_timeout_s

    def wallets_of(
        self, caller: Principal, customer_id: str, min_position: int | None = None
    ) -> results.CustomerWallets:
        self._wait(min_position)
        wallets = self.view.wallets_of(customer_id)
        if not wallets:
            raise WalletNotFoundError(f"{customer_id} has no wallet.")
        return results.CustomerWallets(customer_id, wallets)

    def statement(
        self,
        caller: Principal,
        customer_id: str,
        currency: str,
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> results.Statement:
        """A page of the wallet's entries, newest first, with the running balance."""
        before = decode_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self.runner.read_wallet(customer_id, currency)  # raises if there is no such wallet
        self._wait(min_position)
        account_id = wallet_id(customer_id, currency)
        entries = self.view.statement(account_id, before, limit + 1)
        next_cursor = encode_cursor(entries[limit - 1].sequence) if len(entries) > limit else None
        return results.Statement(customer_id, currency, account_id, entries[:limit], next_cursor)

    def balances(
        self,
        caller: Principal,
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> results.BalancePage:
        """A page of every account's balance (wallets and system accounts), in account id
        order."""
        after = decode_account_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self._wait(min_position)
        rows = self.view.balances(after, limit + 1)
        next_cursor = (
            encode_account_cursor(rows[limit - 1].account_id) if len(rows) > limit else None
        )
        return results.BalancePage(rows[:limit], next_cursor)

    def _wait(self, min_position: int | None) -> None:
        if min_position is not None and not self.view.wait_for(min_position, self.wait_timeout_s):
            raise ViewNotCaughtUpError(f"The view has not reached position {min_position} yet.")
