"""The HTTP API (Litestar): `create_app(container)` builds it on a dishka container."""
