"""Queries: a customer's wallets from the log; statements and balances from the read model.

`wallets_of` is strongly consistent: the customer's `WalletDirectory` names their wallets
and each is read from the log, so a client sees a wallet it has just opened or credited.
Statements and balances come from the ledger read model (eventually consistent: pass the
`min_position` a write returned to read it).
"""

from __future__ import annotations

import re
from uuid import UUID

from application import presenters, results
from application.errors import InvalidCursorError, ViewNotCaughtUpError, WalletNotFoundError
from application.ports.views import LedgerView
from application.principal import Principal
from application.runner import CommandRunner
from application.wallets import DEFAULT_CURRENCY
from domain.ids import wallet_directory_id, wallet_id
from domain.money import check_customer_id
from domain.wallet_directory import WalletDirectory

PAGE_SIZE_MAX = 200
WAIT_TIMEOUT_S = 5.0


# Cursors are `<kind>_<value>`: short, readable in logs, and exact in the API's contract (each
# list documents the one pattern its cursors match). They are not secrets: any value a client
# writes by hand only moves where a page starts, within what the caller may read anyway.
NUMBER_PATTERN = "[1-9][0-9]{0,17}"  # a log position or sequence number, below 2**63
SEQUENCE_CURSOR_PATTERN = f"^seq_{NUMBER_PATTERN}$"
POSITION_CURSOR_PATTERN = f"^pos_{NUMBER_PATTERN}$"
ACCOUNT_CURSOR_PATTERN = "^acct_[0-9a-f]{32}$"


def _pack(prefix: str, value: object) -> str:
    return f"{prefix}_{value}"


def _unpack(prefix: str, cursor: str, pattern: str) -> str:
    """The value a `_pack` cursor of this kind holds; InvalidCursorError if none."""
    if re.fullmatch(pattern.strip("^$"), cursor) is None:
        raise InvalidCursorError()
    return cursor.removeprefix(prefix + "_")


def encode_cursor(sequence: int) -> str:
    return _pack("seq", sequence)


def decode_cursor(cursor: str) -> int:
    return int(_unpack("seq", cursor, SEQUENCE_CURSOR_PATTERN))


def encode_position_cursor(position: int) -> str:
    """An opaque cursor for the page of rows recorded before log `position`."""
    return _pack("pos", position)


def decode_position_cursor(cursor: str) -> int:
    """The position a cursor of `encode_position_cursor` holds; InvalidCursorError if none."""
    return int(_unpack("pos", cursor, POSITION_CURSOR_PATTERN))


def encode_account_cursor(account_id: UUID) -> str:
    """An opaque cursor for the page of balances after `account_id`."""
    return _pack("acct", account_id.hex)


def decode_account_cursor(cursor: str) -> UUID:
    """The account id a cursor of `encode_account_cursor` holds; InvalidCursorError if none."""
    return UUID(hex=_unpack("acct", cursor, ACCOUNT_CURSOR_PATTERN))


class LedgerQueries:
    """Reads for the HTTP API. A caller may pass the position a write returned, and the read
    waits (bounded) until the view has caught up with it: read-your-writes on a projection."""

    def __init__(
        self,
        runner: CommandRunner,
        view: LedgerView,
        wait_timeout_s: float = WAIT_TIMEOUT_S,
        default_currency: str = DEFAULT_CURRENCY,
    ) -> None:
        self.runner = runner
        self.view = view
        self.wait_timeout_s = wait_timeout_s
        self.default_currency = default_currency

    def wallets_of(
        self, caller: Principal, customer_id: str, min_position: int | None = None
    ) -> results.CustomerWallets:
        """The customer's wallets, each as the log has it now (strongly consistent).

        Wallets opened before directories existed are named by the read model only (it has
        long caught up with them); `min_position` waits for it, as before, but is no longer
        needed to see a wallet opened through this version."""
        check_customer_id(customer_id)
        caller.require_reads(customer_id, WalletNotFoundError)
        self._wait(min_position)
        currencies = set(self._listed_currencies(customer_id))
        currencies.update(wallet.currency for wallet in self.view.wallets_of(customer_id))
        if not currencies:
            raise WalletNotFoundError(f"{customer_id} has no wallet.")
        now = self.runner.clock.now()
        wallets = [
            presenters.wallet(self.runner.read_wallet(customer_id, currency, shared=True), now)
            for currency in sorted(currencies)
        ]
        return results.CustomerWallets(customer_id, wallets)

    def _listed_currencies(self, customer_id: str) -> tuple[str, ...]:
        directory_id = wallet_directory_id(customer_id)
        try:
            directory = self.runner.read(WalletDirectory, directory_id, WalletNotFoundError)
        except WalletNotFoundError:
            return ()
        return directory.currencies

    def statement(
        self,
        caller: Principal,
        customer_id: str,
        currency: str | None,
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> results.Statement:
        """A page of the wallet's entries, newest first, with the running balance; without
        a currency, of the wallet in the default one (seed 003's only wallet)."""
        caller.require_reads(customer_id, WalletNotFoundError)
        currency = self.default_currency if currency is None else currency
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
        order (admins and auditors)."""
        caller.require_reader()
        after = decode_account_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self._wait(min_position)
        rows = self.view.balances(after, limit + 1)
        next_cursor = (
            encode_account_cursor(rows[limit - 1].account_id) if len(rows) > limit else None
        )
        return results.BalancePage(rows[:limit], next_cursor)

    def history(
        self,
        caller: Principal,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> results.History:
        """A page of the customer's postings across their wallets (the caller's own
        without `customer_id`), newest first: their transaction history."""
        customer_id = caller.subject if customer_id is None else customer_id
        caller.require_reads(customer_id, WalletNotFoundError)
        before = decode_position_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self._wait(min_position)
        rows = self.view.history(customer_id, before, limit + 1)
        more = len(rows) > limit
        next_cursor = encode_position_cursor(rows[limit - 1].entry.position) if more else None
        return results.History(customer_id, rows[:limit], next_cursor)

    def _wait(self, min_position: int | None) -> None:
        if min_position is not None and not self.view.wait_for(min_position, self.wait_timeout_s):
            raise ViewNotCaughtUpError(f"The view has not reached position {min_position} yet.")
