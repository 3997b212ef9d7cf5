"""The application's ports: every Protocol an adapter implements, in one package.

- `clock`: `Clock`.
- `fingerprint`: `Fingerprinter` (keyed fingerprints of card numbers).
- `gateway`: `PaymentGateway` (and `LegacyGateway`, seed 001's processor) and the values
  they exchange (cards, charges, refunds).
- `views`: read models (`LedgerView`, `PaymentsView`) and what projections write to them.
"""
