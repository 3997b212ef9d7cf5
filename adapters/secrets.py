"""Secrets of the embedded default: generated once, kept in the data folder, reused."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_BYTES = 48


def stored_secret(path: Path) -> str:
    """The secret in `path`, created (random, mode 0600) on first use."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return stored_secret(path)
    with os.fdopen(fd, "w") as file:
        file.write(value)
    return value
