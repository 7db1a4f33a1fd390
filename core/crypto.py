"""Encryption at rest of bank data (data-protection R8): Fernet from ``cryptography``.

The hub configures the key at start-up from ``Settings.data_key`` (``EKITA_DATA_KEY``);
tests and the demo configure a generated one. No key lives in the code.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from ekita.core.errors import RuleViolation

_fernet: Fernet | None = None


def generate_key() -> str:
    return Fernet.generate_key().decode()


def configure(key: str | bytes | None) -> None:
    """Set (or, with None, clear) the process's data key."""
    global _fernet
    if key is None:
        _fernet = None
        return
    try:
        _fernet = Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise RuleViolation("the data key is not a Fernet key (32 url-safe base64 bytes)",
                            record="settings", field="data_key",
                            rule="data-protection R8: bank data encrypted at rest") from exc


def configured() -> bool:
    return _fernet is not None


def _require() -> Fernet:
    if _fernet is None:
        raise RuleViolation("no data key configured (EKITA_DATA_KEY)", record="settings",
                            field="data_key",
                            rule="data-protection R8: bank data encrypted at rest")
    return _fernet


def encrypt(text: str) -> str:
    return _require().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _require().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuleViolation("stored value cannot be decrypted with the configured key",
                            record="payment_setup", field="iban_encrypted",
                            rule="data-protection R8") from exc
