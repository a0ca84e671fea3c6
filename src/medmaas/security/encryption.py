"""Encryption at rest for datasets that hold patient data: AES-256-GCM with envelope keys.

Each dataset is sealed under its own random 256-bit data key; the data key is stored only
wrapped (AES-256-GCM again) under a key-encryption key (KEK) from the keyring. So:

* rotating the KEK re-wraps a few dozen bytes per dataset, never re-encrypts the data;
* deleting a dataset's wrapped key destroys the only copy of its data key (cryptographic
  erase, NIST SP 800-88), whatever copies of the ciphertext backups still hold;
* the associated data binds a ciphertext to its record (project, dataset id): a blob copied
  under another project's or dataset's record fails authentication instead of decrypting.

The keyring comes from ``MEDMAAS_DATASET_KEYS`` (``id:base64key,id2:base64key``; the last one
encrypts, the others still decrypt during a rotation) or, when that is unset, from the key file
``<home>/dataset.keys`` (JSON, mode 0600), created on first use outside production. Production
refuses to generate one: keys belong in a secret store, not next to the data they protect.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medmaas.exceptions import IntegrityError, InvalidInputError
from medmaas.security.private_files import create_private, replace_private

KEY_FILE = "dataset.keys"
_NONCE = 12  # bytes: the GCM standard size
_KEY = 32  # bytes: AES-256


@dataclass(frozen=True, slots=True)
class Sealed:
    """What is stored: the ciphertext (nonce first) as a blob, the wrapped data key and the
    name of the KEK that wrapped it in the record."""

    ciphertext: bytes
    wrapped_key: str
    kek_id: str


class Keyring:
    """Key-encryption keys by id; ``current`` wraps new data keys, every key still unwraps."""

    def __init__(self, keys: dict[str, bytes], current: str, path: Path | None = None) -> None:
        if current not in keys:
            raise InvalidInputError(f"the current dataset key {current!r} is not in the keyring")
        for kek_id, key in keys.items():
            if len(key) != _KEY:
                raise InvalidInputError(f"dataset key {kek_id!r} must be {_KEY} bytes; got {len(key)}")
        self.keys = dict(keys)
        self.current = current
        self.path = path  # the key file it came from, if any (rotation writes it back)

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, home: Path, from_env: str | None, *, production: bool) -> Keyring:
        if from_env:
            return cls.parse(from_env)
        path = home / KEY_FILE
        if not path.exists():
            if production:
                raise InvalidInputError("set MEDMAAS_DATASET_KEYS in production (id:base64key); "
                                        "refusing to generate a dataset key next to the data")
            keyring = cls({(kid := _new_id()): secrets.token_bytes(_KEY)}, kid, path)
            keyring.save(exclusive=True)
            return cls.load(home, None, production=production)  # whoever won the race
        try:
            stored = json.loads(path.read_text())
            keys = {k: base64.b64decode(v, validate=True) for k, v in stored["keys"].items()}
            return cls(keys, stored["current"], path)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidInputError(f"the dataset key file {path} cannot be read: {exc}") from None

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """``id:base64key,id2:base64key``; the last one is current."""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            kek_id, sep, encoded = part.partition(":")
            if not sep or not kek_id:
                raise InvalidInputError("MEDMAAS_DATASET_KEYS must read id:base64key[,id:base64key...]")
            try:
                keys[kek_id] = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise InvalidInputError(f"dataset key {kek_id!r} is not valid base64") from None
        if not keys:
            raise InvalidInputError("MEDMAAS_DATASET_KEYS holds no key")
        return cls(keys, list(keys)[-1])

    def save(self, *, exclusive: bool = False) -> None:
        """Write the key file atomically, readable by its owner only."""
        if self.path is None:
            raise InvalidInputError("the dataset keys come from MEDMAAS_DATASET_KEYS: rotate by "
                                    "appending a new key there, then run the rotation")
        data = json.dumps({"current": self.current,
                           "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}})
        if exclusive:  # first creation: whoever creates the file first wins, nobody overwrites
            create_private(self.path, data)
        else:
            replace_private(self.path, data)

    def with_new_key(self) -> Keyring:
        """This keyring plus a fresh current key (the old ones stay until rewrapping is done)."""
        kek_id = _new_id()
        return Keyring({**self.keys, kek_id: secrets.token_bytes(_KEY)}, kek_id, self.path)

    def only_current(self) -> Keyring:
        return Keyring({self.current: self.keys[self.current]}, self.current, self.path)

    # -- sealing -----------------------------------------------------------------------------

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        ciphertext = _encrypt(data_key, plaintext, context)
        return Sealed(ciphertext, self._wrap(data_key, context), self.current)

    def open(self, ciphertext: bytes, wrapped_key: str, kek_id: str, context: str) -> bytes:
        data_key = self._unwrap(wrapped_key, kek_id, context)
        return _decrypt(data_key, ciphertext, context, "dataset")

    def rewrap(self, wrapped_key: str, kek_id: str, context: str) -> tuple[str, str]:
        """The data key wrapped under the current KEK instead: (wrapped key, current id)."""
        return self._wrap(self._unwrap(wrapped_key, kek_id, context), context), self.current

    def _wrap(self, data_key: bytes, context: str) -> str:
        return base64.b64encode(_encrypt(self.keys[self.current], data_key, "key:" + context)).decode()

    def _unwrap(self, wrapped_key: str, kek_id: str, context: str) -> bytes:
        kek = self.keys.get(kek_id)
        if kek is None:
            raise IntegrityError(f"dataset key {kek_id!r} is not in the keyring; was it removed "
                                 "before every dataset was rewrapped?")
        return _decrypt(kek, base64.b64decode(wrapped_key), "key:" + context, "data key")


def _encrypt(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(_NONCE)  # random 96-bit nonces: one key seals one dataset, never 2^32
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def _decrypt(key: bytes, sealed: bytes, context: str, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())
    except InvalidTag:
        raise IntegrityError(f"the {what} does not authenticate: it was altered, or belongs to "
                             "another record") from None


def _new_id() -> str:
    return "k" + secrets.token_hex(4)
