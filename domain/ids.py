"""Deterministic identifiers: the same inputs always name the same aggregate."""

from __future__ import annotations

from uuid import UUID, uuid5

# The namespace of every PayLedger uuid5; changing it would orphan every stored id.
PAYLEDGER_NAMESPACE = UUID("6f1c3f0e-8a51-5b7e-9a53-2d4f1c0b7e10")


def wallet_id(customer_id: str, currency: str) -> UUID:
    """A customer holds at most one wallet per currency, so the pair names it."""
    return uuid5(PAYLEDGER_NAMESPACE, f"wallet:{customer_id}:{currency}")


def wallet_directory_id(customer_id: str) -> UUID:
    """The list of one customer's wallets (`WalletDirectory`)."""
    return uuid5(PAYLEDGER_NAMESPACE, f"wallet-directory:{len(customer_id)}:{customer_id}")


def system_account_id(name: str, currency: str) -> UUID:
    """System accounts (external funding, gateway clearing...) exist once per currency."""
    return uuid5(PAYLEDGER_NAMESPACE, f"system:{name}:{currency}")


def payable_account_id(payee: str, currency: str) -> UUID:
    """What the ledger owes one payee (school, merchant) in one currency."""
    return uuid5(PAYLEDGER_NAMESPACE, f"payable:{len(payee)}:{payee}:{currency}")


def idempotent_id(scope: str, key: str) -> UUID:
    """The aggregate a client's Idempotency-Key maps to, within the client's scope."""
    # The scope's length goes first, so no (scope, key) pair can spell another's name.
    return uuid5(PAYLEDGER_NAMESPACE, f"idempotency:{len(scope)}:{scope}:{key}")
