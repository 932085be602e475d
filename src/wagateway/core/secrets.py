"""Secrets at rest: app tokens, webhook secrets, the master key.

App tokens are high-entropy random strings, so a plain SHA-256 is a safe, fast lookup key;
the encrypted copy (Fernet, AES-128-CBC + HMAC) exists only so an operator can reveal the
token later. The master key comes from WAGW_SECRET_KEY or, on first start, a key file in the
data dir readable only by its owner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

APP_TOKEN_PREFIX = "wag_"  # noqa: S105 (a prefix, not a secret)
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105
KEY_FILE_NAME = "secret.key"


def new_app_token() -> str:
    return APP_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_app_token(value: str) -> bool:
    return value.startswith(APP_TOKEN_PREFIX) and 20 <= len(value) <= 200


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def create_private_dir(path: Path) -> bool:
    """Make the data dir, readable by this user only whatever the umask: it holds the key file,
    the SQLite database, session stores and media. A dir that exists keeps the mode its
    operator gave it; returns False when that mode lets other users in."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path.stat().st_mode & 0o077 == 0


def load_master_key(secret_key: str, data_dir: Path) -> bytes:
    """32 bytes of key material: derived from WAGW_SECRET_KEY, else the data dir's key file."""
    if secret_key:
        return secret_key.encode()
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        create_private_dir(data_dir)
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    # Another process may have created the file an instant ago and not written it yet.
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.02)
    raise RuntimeError(
        f"the key file {path} is empty: restore it from a backup or set WAGW_SECRET_KEY"
    )


class SecretBox:
    """Encrypts and decrypts secrets at rest with a key derived from the master key."""

    def __init__(self, master_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"wagateway", info=b"secrets-at-rest"
        ).derive(master_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError(
                "cannot decrypt a stored secret: WAGW_SECRET_KEY or the key file changed"
            ) from exc
