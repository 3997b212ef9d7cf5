"""Adapters of the `PaymentGateway` port: a simulated legacy processor and Stripe.

`cards` holds what both share (card checks, the test-card table); `stripe_webhooks` checks the
signature of Stripe's inbound events.
"""
