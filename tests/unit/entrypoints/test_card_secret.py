"""Where the card-fingerprint secret comes from, per configuration."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from entrypoints.card_secret import (
    SECRET_FILE_NAME,
    ConfigurationError,
    card_fingerprint_secret,
)
from entrypoints.settings import load_settings

pytestmark = pytest.mark.unit

CONFIGURED = "a-configured-secret-of-forty-characters!"


def test_the_configured_secret_wins_on_any_backend(tmp_path: Path) -> None:
    for url in ("", "memory://", "postgresql://postgres@127.0.0.1/test"):
        settings = load_settings(
            {
                "PAYLEDGER_DATABASE_URL": url,
                "PAYLEDGER_DATA_DIR": str(tmp_path),
                "PAYLEDGER_CARD_FINGERPRINT_SECRET": CONFIGURED,
            }
        )
        assert card_fingerprint_secret(settings) == CONFIGURED.encode()
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_a_short_configured_secret_is_refused() -> None:
    settings = load_settings({"PAYLEDGER_CARD_FINGERPRINT_SECRET": "too-short"})
    with pytest.raises(ConfigurationError, match="at least 32"):
        card_fingerprint_secret(settings)


def test_postgres_without_a_secret_refuses_to_start_saying_what_to_set() -> None:
    settings = load_settings({"PAYLEDGER_DATABASE_URL": "postgresql://postgres@127.0.0.1/test"})
    with pytest.raises(ConfigurationError, match="PAYLEDGER_CARD_FINGERPRINT_SECRET"):
        card_fingerprint_secret(settings)


def test_the_embedded_default_keeps_one_secret_in_its_data_folder(tmp_path: Path) -> None:
    settings = load_settings({"PAYLEDGER_DATABASE_URL": "", "PAYLEDGER_DATA_DIR": str(tmp_path)})
    first = card_fingerprint_secret(settings)
    path = tmp_path / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert card_fingerprint_secret(settings) == first  # a restart reuses it


def test_an_sqlite_url_keeps_the_secret_next_to_its_file(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "ledger.sqlite3"
    settings = load_settings({"PAYLEDGER_DATABASE_URL": f"sqlite:///{database}"})
    card_fingerprint_secret(settings)
    assert (database.parent / SECRET_FILE_NAME).is_file()


def test_the_in_memory_store_gets_a_new_secret_each_time() -> None:
    settings = load_settings({"PAYLEDGER_DATABASE_URL": "memory://"})
    assert card_fingerprint_secret(settings) != card_fingerprint_secret(settings)


def test_the_settings_never_show_the_secret() -> None:
    settings = load_settings({"PAYLEDGER_CARD_FINGERPRINT_SECRET": CONFIGURED})
    assert CONFIGURED not in repr(settings)
    assert CONFIGURED not in str(settings.payments)
