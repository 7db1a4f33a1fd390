"""Encryption at rest of bank and health data (data-protection M9, R8; issue 12 item 3).

Fernet from ``cryptography``. The hub configures the key at start-up from
``Settings.data_key`` (``EKITA_DATA_KEY``); tests and the demo configure a generated one.
No key lives in the code. Columns declared ``ekita.core.db.types.EncryptedText`` go
through here on every write and read; the payment setup's IBAN is encrypted by its
service and travels as ciphertext to the SAP-FI adapter.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from ekita.core.errors import RuleViolation

RULE = "data-protection M9: bank and health data encrypted at rest"

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
                            record="settings", field="data_key", rule=RULE) from exc


def configured() -> bool:
    return _fernet is not None


def require_key() -> Fernet:
    """The configured key, or one clear error naming the setting."""
    if _fernet is None:
        raise RuleViolation("no data key configured (set EKITA_DATA_KEY, settings data_key)",
                            record="settings", field="data_key", rule=RULE)
    return _fernet


def encrypt(text: str) -> str:
    return require_key().encrypt(text.encode()).decode()


def decrypt(token: str, *, record: str = "payment_setup", field: str = "iban_encrypted") -> str:
    """The clear text of ``token``; ``record``/``field`` name the column in the error."""
    try:
        return require_key().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuleViolation("stored value cannot be decrypted with the configured key",
                            record=record, field=field, rule=RULE) from exc
