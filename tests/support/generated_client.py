"""A typed Python client generated from a running server's OpenAPI document.

`generate_client()` writes the document to a folder, runs openapi-python-client on it and
imports the package it wrote. The generator must finish without a single warning: each one
names a part of the contract a client cannot be generated from, so it fails the caller.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

PACKAGE = "payledger_client"
GENERATE_TIMEOUT_S = 120.0
# Without hooks the generator leaves its code unformatted: the default hooks run ruff from
# PATH, and a missing ruff is a warning about this machine, not about the contract.
CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n"


class ClientGenerationError(AssertionError):
    """openapi-python-client failed on the document or warned about it."""


def generator_command(*args: str) -> list[str]:
    """`openapi-python-client ARGS...` from the running virtualenv."""
    return [str(Path(sys.executable).parent / "openapi-python-client"), *args]


def run_generator(spec: dict[str, Any], folder: Path) -> Path:
    """Generate the client package from `spec` into `folder`; returns the package's folder.

    Fails with the generator's output if it exits non-zero or mentions a warning."""
    spec_path = folder / "openapi.json"
    spec_path.write_text(json.dumps(spec))
    config_path = folder / "generator.yaml"
    config_path.write_text(CONFIG)
    package_dir = folder / PACKAGE
    command = generator_command(
        "generate",
        "--path",
        str(spec_path),
        "--output-path",
        str(package_dir),
        "--meta",
        "none",
        "--config",
        str(config_path),
        "--fail-on-warning",
    )
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=GENERATE_TIMEOUT_S, check=False
    )
    output = f"{done.stdout}\n{done.stderr}".strip()
    if done.returncode != 0 or "warning" in output.lower():
        raise ClientGenerationError(
            f"openapi-python-client exited {done.returncode} on the server's document:\n{output}"
        )
    if not (package_dir / "__init__.py").is_file():
        raise ClientGenerationError(f"no package at {package_dir}; the generator said:\n{output}")
    return package_dir


@contextmanager
def imported_client(package_dir: Path) -> Iterator[GeneratedClient]:
    """The generated package, importable while the block runs (and forgotten after it)."""
    root = str(package_dir.parent)
    sys.path.insert(0, root)
    try:
        yield GeneratedClient(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(root)
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class GeneratedClient:
    """The generated package: its clients, its models and its operations by tag and name."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.errors = importlib.import_module(f"{PACKAGE}.errors")

    def operation(self, tag: str, name: str) -> Any:
        """The module of one operation, e.g. `operation("payments", "create_payment")`."""
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")

    def authenticated(self, base_url: str, token: str) -> Any:
        """An `AuthenticatedClient` that raises on any status the document does not list."""
        return self.package.AuthenticatedClient(
            base_url=base_url, token=token, raise_on_unexpected_status=True
        )

    def anonymous(self, base_url: str) -> Any:
        """A `Client` with no token that raises on any status the document does not list."""
        return self.package.Client(base_url=base_url, raise_on_unexpected_status=True)
