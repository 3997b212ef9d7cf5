"""Production ASGI factory: settings from the environment, the real container, the app.

`payledger serve` builds the app itself; this factory is for other ASGI servers
(`uvicorn --factory entrypoints.http.asgi:create_production_app`).
"""

from __future__ import annotations

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.migration import migrate
from entrypoints.settings import load_settings


def create_production_app() -> Litestar:
    settings = load_settings()
    migrate(settings)
    return create_app(build_container(settings, create_tables=False))
