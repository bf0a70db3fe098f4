"""Private ticket signing keys: read from a directory or the environment, never from the database.

The public halves live in the `ticket_signing_keys` table (see services), so every process and
every scanner sees the same key ids; a private half lives only where codes are signed:

- a directory (`HOIAN_TICKET_KEYS_DIR`, default `<instance>/ticket-keys`, mode 0700) with one
  PKCS#8 PEM file per key, `ticket-key-<id>.pem`, mode 0600, written by `flask tickets setup`
  and `flask tickets rotate-key`; or
- the environment (`HOIAN_TICKET_SIGNING_KEYS="<id>:<base64url 32-byte seed>,..."`), for
  containers that receive secrets that way.

Key material never appears in a repr, a log line or a response.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from ticketing.verify import MAX_KEY_ID, b64url_decode, b64url_encode

log = logging.getLogger(__name__)


class KeyMaterialError(Exception):
    """A private key is missing, unreadable or unsafe; the message says what to fix."""


def key_file(directory: Path, key_id: int) -> Path:
    return directory / f"ticket-key-{key_id}.pem"


@dataclass(frozen=True)
class PrivateSigningKey:
    key_id: int
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64url_encode(raw)


def parse_env_keys(value: str) -> dict[int, Ed25519PrivateKey]:
    """Read `<id>:<base64url seed>` pairs, separated by commas."""
    keys: dict[int, Ed25519PrivateKey] = {}
    for position, item in enumerate(filter(None, (part.strip() for part in value.split(","))), 1):
        key_id_text, sep, seed = item.partition(":")
        try:
            if not sep or not key_id_text.isdigit() or not 0 < int(key_id_text) <= MAX_KEY_ID:
                raise ValueError("expected <id>:<base64url seed>")
            raw = b64url_decode(seed)
            if len(raw) != 32:
                raise ValueError("the seed must be 32 bytes")
            keys[int(key_id_text)] = Ed25519PrivateKey.from_private_bytes(raw)
        except ValueError as exc:
            # The value itself is secret: name only its position.
            raise KeyMaterialError(
                f"HOIAN_TICKET_SIGNING_KEYS item {position} is not valid: {exc}"
            ) from None
    return keys


class KeyRing:
    """The private keys this process can sign with, loaded once each."""

    def __init__(self, *, directory: Path, env_keys: str | None) -> None:
        self.directory = directory
        self._env = parse_env_keys(env_keys) if env_keys else {}
        self._loaded: dict[int, PrivateSigningKey] = {}
        self._lock = threading.Lock()

    def get(self, key_id: int) -> PrivateSigningKey | None:
        """The private key with this id, or None when this process does not hold it."""
        with self._lock:
            if key_id not in self._loaded:
                private = self._env.get(key_id) or self._read_file(key_id)
                if private is None:
                    return None
                self._loaded[key_id] = PrivateSigningKey(key_id, private)
            return self._loaded[key_id]

    def has(self, key_id: int) -> bool:
        return key_id in self._env or key_file(self.directory, key_id).exists()

    def _read_file(self, key_id: int) -> Ed25519PrivateKey | None:
        path = key_file(self.directory, key_id)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyMaterialError(f"{path} can be read by other users; run chmod 600 {path}")
        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyMaterialError(f"{path} is not a readable private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyMaterialError(f"{path} does not hold an Ed25519 key")
        return private

    def generate(self, key_id: int) -> PrivateSigningKey:
        """Make a new key and write its file (0600, never overwriting one that exists)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        path = key_file(self.directory, key_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyMaterialError(
                f"{path} exists but its key is not registered; move it away or register it"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        log.info("wrote ticket signing key %s to %s", key_id, path)
        key = PrivateSigningKey(key_id, private)
        with self._lock:
            self._loaded[key_id] = key
        return key
