"""Resource controllers: one per resource of the API."""
