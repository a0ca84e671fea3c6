"""Envelope encryption of datasets: what is sealed opens only with its keys and its record, and a
rotation moves every data key under the new key-encryption key without touching the data."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from medmaas.exceptions import IntegrityError, InvalidInputError
from medmaas.security.encryption import KEY_FILE, Keyring

SECRET = b"Jane Canary, MRN 7Q4-93, born 1950-02-03"


def test_sealed_data_opens_with_its_context_only(tmp_path: Path) -> None:
    keyring = Keyring.load(tmp_path, None, production=False)
    sealed = keyring.seal(SECRET, "medmaas-dataset:a:1")
    assert SECRET not in sealed.ciphertext and len(sealed.ciphertext) == len(SECRET) + 12 + 16
    assert keyring.open(sealed.ciphertext, sealed.wrapped_key, sealed.kek_id, "medmaas-dataset:a:1") == SECRET
    with pytest.raises(IntegrityError, match="another record"):
        keyring.open(sealed.ciphertext, sealed.wrapped_key, sealed.kek_id, "medmaas-dataset:b:1")
    flipped = bytearray(sealed.ciphertext)
    flipped[20] ^= 1
    with pytest.raises(IntegrityError, match="altered"):
        keyring.open(bytes(flipped), sealed.wrapped_key, sealed.kek_id, "medmaas-dataset:a:1")
    # two seals of the same data share nothing: fresh data keys and nonces
    assert keyring.seal(SECRET, "c").ciphertext != keyring.seal(SECRET, "c").ciphertext


def test_the_key_file_is_created_once_owner_only_and_refused_in_production(tmp_path: Path) -> None:
    first = Keyring.load(tmp_path, None, production=False)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert Keyring.load(tmp_path, None, production=False).keys == first.keys
    with pytest.raises(InvalidInputError, match="MEDMAAS_DATASET_KEYS"):
        Keyring.load(tmp_path / "elsewhere", None, production=True)
    (tmp_path / KEY_FILE).write_text("{not json")
    with pytest.raises(InvalidInputError, match="cannot be read"):
        Keyring.load(tmp_path, None, production=False)


def test_keys_from_the_environment_last_one_current() -> None:
    a, b = base64.b64encode(b"a" * 32).decode(), base64.b64encode(b"b" * 32).decode()
    keyring = Keyring.parse(f"old:{a}, new:{b}")
    assert keyring.current == "new" and set(keyring.keys) == {"old", "new"}
    for bad, message in ((f"x:{a[:-4]}", "32 bytes"), ("x:%%%", "base64"), ("nocolon", "id:base64key"), ("", "no key")):
        with pytest.raises(InvalidInputError, match=message):
            Keyring.parse(bad)


def test_rotation_rewraps_data_keys_and_old_keys_can_go(tmp_path: Path) -> None:
    old = Keyring.load(tmp_path, None, production=False)
    sealed = old.seal(SECRET, "ctx")
    new = old.with_new_key()
    wrapped, kek_id = new.rewrap(sealed.wrapped_key, sealed.kek_id, "ctx")
    assert kek_id == new.current != old.current
    only_new = new.only_current()
    assert only_new.open(sealed.ciphertext, wrapped, kek_id, "ctx") == SECRET
    with pytest.raises(IntegrityError, match="not in the keyring"):
        only_new.open(sealed.ciphertext, sealed.wrapped_key, sealed.kek_id, "ctx")
    only_new.save()
    assert list(json.loads((tmp_path / KEY_FILE).read_text())["keys"]) == [new.current]
