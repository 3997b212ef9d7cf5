"""The HMAC fingerprinter and the secret file it is keyed from on the embedded default."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from adapters.fingerprint import HmacFingerprinter
from adapters.secret_file import read_or_create_secret

pytestmark = pytest.mark.unit

SECRET_A = b"first-secret-first-secret-first!"
SECRET_B = b"second-secret-second-secret-2nd!"


def test_a_fingerprint_is_stable_for_one_secret() -> None:
    first = HmacFingerprinter(SECRET_A).fingerprint("card", "4242424242424242:12:2030")
    again = HmacFingerprinter(SECRET_A).fingerprint("card", "4242424242424242:12:2030")
    assert first == again
    assert len(first) == 64
    assert int(first, 16) >= 0


def test_a_fingerprint_differs_per_secret_value_and_purpose() -> None:
    value = "4242424242424242:12:2030"
    prints = {
        HmacFingerprinter(SECRET_A).fingerprint("card", value),
        HmacFingerprinter(SECRET_B).fingerprint("card", value),
        HmacFingerprinter(SECRET_A).fingerprint("card", "4242424242424242:12:2031"),
        HmacFingerprinter(SECRET_A).fingerprint("cards", value),
    }
    assert len(prints) == 4


def test_purpose_and_value_cannot_be_shifted_into_each_other() -> None:
    fingerprinter = HmacFingerprinter(SECRET_A)
    assert fingerprinter.fingerprint("a:b", "c") != fingerprinter.fingerprint("a", "b:c")


def test_refuses_a_short_secret_and_never_shows_it() -> None:
    with pytest.raises(ValueError):
        HmacFingerprinter(b"short")
    assert SECRET_A.decode() not in repr(HmacFingerprinter(SECRET_A))


def test_a_secret_file_is_made_once_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "card-fingerprint.secret"
    first = read_or_create_secret(path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_secret(path) == first
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "card-fingerprint.secret"
    found: list[str] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        found.append(read_or_create_secret(path))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8
    assert len(set(found)) == 1
    assert path.read_text().strip() == found[0]
