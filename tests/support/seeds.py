"""What the seed apps send and expect (`../shared/seeds/`), for the tests that port them."""

from __future__ import annotations

# Seed 001's sample request, its amount in integer minor units (250.00 USD), as documented.
SEED_001_BODY = {
    "amount": 25000,
    "currency": "USD",
    "recipient": "alice@example.com",
    "description": "Invoice #1042",
}
# Seed 001's sample payment answer and summary: the keys its clients read.
SEED_001_PAYMENT_KEYS = frozenset(
    {
        "payment_id",
        "status",
        "amount",
        "currency",
        "recipient",
        "failure_reason",
        "created_at",
        "updated_at",
    }
)
SEED_001_SUMMARY_KEYS = frozenset({"total", "success", "failed", "refunded", "failure_reasons"})
