"""Metrics adapters: the `Metrics` port on prometheus_client."""
