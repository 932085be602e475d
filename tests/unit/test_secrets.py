from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest

from wagateway.core.secrets import (
    KEY_FILE_NAME,
    SecretBox,
    constant_time_equals,
    load_master_key,
    looks_like_app_token,
    new_app_token,
    new_webhook_secret,
    token_hash,
)


def test_new_app_token_has_prefix_and_is_unique() -> None:
    tokens = {new_app_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith("wag_")
        assert len(token) > 40  # 32 random bytes, url-safe base64
        assert re.fullmatch(r"wag_[A-Za-z0-9_-]+", token)


def test_looks_like_app_token() -> None:
    assert looks_like_app_token(new_app_token())
    assert not looks_like_app_token("wag_short")
    assert not looks_like_app_token("xyz_" + "a" * 40)
    assert not looks_like_app_token("wag_" + "a" * 300)
    assert not looks_like_app_token("")
    assert looks_like_app_token("wag_" + "a" * 16)  # 20 chars, the lower bound
    assert not looks_like_app_token("wag_" + "a" * 15)


def test_token_hash_is_stable_sha256_hex() -> None:
    token = new_app_token()
    digest = token_hash(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token_hash(token) == digest
    assert token_hash(new_app_token()) != digest
    assert token not in digest
    # Known vector: sha256("abc").
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_new_webhook_secret_shape() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert len(raw) == 32
    assert new_webhook_secret() != secret


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")


def test_secret_box_roundtrip() -> None:
    box = SecretBox(b"k" * 32)
    token = new_app_token()
    ciphertext = box.encrypt(token)
    assert token not in ciphertext
    assert box.decrypt(ciphertext) == token
    # Fernet is randomized: same plaintext, different ciphertexts, both decrypt.
    other = box.encrypt(token)
    assert other != ciphertext
    assert box.decrypt(other) == token
    # Same master key in a fresh box decrypts too (derivation is deterministic).
    assert SecretBox(b"k" * 32).decrypt(ciphertext) == token


def test_secret_box_handles_unicode() -> None:
    box = SecretBox(b"master")
    assert box.decrypt(box.encrypt("pïn ✓")) == "pïn ✓"


def test_different_master_key_cannot_decrypt() -> None:
    ciphertext = SecretBox(b"a" * 32).encrypt("secret")
    with pytest.raises(RuntimeError, match="cannot decrypt"):
        SecretBox(b"b" * 32).decrypt(ciphertext)


def test_garbage_ciphertext_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        SecretBox(b"a" * 32).decrypt("not-a-fernet-token")


def test_load_master_key_creates_private_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    key = load_master_key("", data_dir)
    path = data_dir / KEY_FILE_NAME
    assert path.is_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert path.read_text().strip().encode() == key
    # Second call reuses the file.
    assert load_master_key("", data_dir) == key
    # And a box built on it keeps working across "restarts".
    ciphertext = SecretBox(key).encrypt("x")
    assert SecretBox(load_master_key("", data_dir)).decrypt(ciphertext) == "x"


def test_load_master_key_differs_per_data_dir(tmp_path: Path) -> None:
    assert load_master_key("", tmp_path / "a") != load_master_key("", tmp_path / "b")


def test_load_master_key_prefers_configured_secret(tmp_path: Path) -> None:
    key = load_master_key("my-configured-secret", tmp_path)
    assert key == b"my-configured-secret"
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_load_master_key_never_returns_empty_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("")
    try:
        key = load_master_key("", tmp_path)
    except Exception:
        return  # refusing to start is acceptable
    assert key, "an empty key file must not become empty key material"
