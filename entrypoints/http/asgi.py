"""Production ASGI factory: settings from the environment, the real container, the app."""

from __future__ import annotations

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def create_production_app() -> Litestar:
    """Used by `payledger serve` (uvicorn factory). Tables were created by the CLI already."""
    settings = load_settings()
    return create_app(build_container(settings, create_tables=False))
