"""A secret generated once and kept in a file only its owner can read (mode 0600).

Several processes may start at once (`serve --workers N`): the first one to link its file
into place wins, and every other one reads that file, so they all use the same secret.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_BYTES = 32
OWNER_ONLY = 0o600


def read_or_create_secret(path: Path) -> str:
    """The secret stored at `path`; a new random one (`secrets.token_urlsafe`) written
    there first when the file does not exist."""
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); make it 0600", path, mode)
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise ValueError(f"The secret file {path} is empty; delete it to make a new one.")
    return secret


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        # A hard link never replaces an existing file: a secret already in place is kept.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
