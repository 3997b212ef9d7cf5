"""The application's ports: every Protocol an adapter implements, in one package.

- `clock`: `Clock`.
- `fingerprint`: `Fingerprinter` (keyed fingerprints of card numbers).
- `gateway`: `PaymentGateway` (and `LegacyGateway`, seed 001's processor) and the values
  they exchange (cards, charges, refunds).
- `metrics`: `Metrics`, what the application counts and times (and `NullMetrics`).
- `new_events`: `NewEvents`, how followers of the log wait for new events without polling.
- `views`: read models (`LedgerView`, `PaymentsView`) and what projections write to them.
"""
